"""The one template evaluator: parameter values as CloudFormation types them, conditions, Rules and the intrinsic
functions, asked by `make deploy`'s checks and by the local stack alike, so the two can never disagree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local.sam_transform import transformed
from ops.parameter_checks import parameter_problems
from ops.template_model import (
    REQUIRED_PARAMETERS,
    Evaluator,
    UnknownFunction,
    Unresolved,
    broken_rules,
    deployed,
    list_items,
    parameter_values,
)

# An optional list, as template.yaml declares RoutedPipelines.
NAMES = {"Names": {"Type": "CommaDelimitedList", "Default": ""}}


def values(**given: str) -> dict[str, Any]:
    return parameter_values(NAMES | {"Stage": {"Type": "String", "Default": "prod"}}, given)


class TestCommaDelimitedList:
    """CloudFormation's rule: one string more than there are commas, each space-trimmed."""

    @pytest.mark.parametrize(
        ("text", "items"),
        [("", [""]), ("a", ["a"]), (" a , b ", ["a", "b"]), ("a,,b", ["a", "", "b"]), (",", ["", ""])],
    )
    def test_ref_gives_one_string_more_than_commas_each_trimmed(self, text: str, items: list[str]) -> None:
        assert list_items(text) == items
        assert len(list_items(text)) == text.count(",") + 1

    def test_an_empty_default_is_a_list_of_one_empty_string(self) -> None:
        assert values()["Names"] == [""]

    def test_the_deploy_checks_and_the_modelled_stack_give_the_same_answer(self, tmp_path: Path) -> None:
        template = tmp_path / "template.yaml"
        template.write_text(
            json.dumps(
                {
                    "Parameters": NAMES,
                    "Rules": {
                        "OneEmptyName": {
                            "Assertions": [
                                {"Assert": {"Fn::Contains": [{"Ref": "Names"}, ""]}, "AssertDescription": "none"}
                            ]
                        }
                    },
                    "Conditions": {
                        "FirstIsBlank": {"Fn::Equals": [{"Fn::Select": [0, {"Ref": "Names"}]}, ""]},
                        "AllBlank": {"Fn::Equals": [{"Fn::Join": ["", {"Ref": "Names"}]}, ""]},
                    },
                    "Resources": {},
                }
            ),
            encoding="utf-8",
        )
        stack = deployed(json.loads(template.read_text(encoding="utf-8")), {})

        # With [] the rule would fail and Select would have no item 0.
        assert parameter_problems({}, template) == []
        assert stack["Conditions"] == {"FirstIsBlank": True, "AllBlank": True}
        assert parameter_problems({"Names": "a,b"}, template) == ["rule OneEmptyName: none"]


class TestConditions:
    def stack(self, **parameters: str) -> dict[str, Any]:
        return deployed(transformed(), REQUIRED_PARAMETERS | parameters)

    def test_one_route_by_default(self) -> None:
        conditions = self.stack()["Conditions"]

        assert conditions["SingleRoute"] is True
        assert conditions["HasRoutes"] is False
        assert not any(conditions[f"Routed{slot}"] for slot in range(10))

    def test_routes_switch_on_one_slot_per_routed_pipeline(self) -> None:
        routes = json.dumps([{"key": "a.zip", "pipeline": "a"}, {"key": "b.zip", "pipeline": "b"}])
        conditions = self.stack(Routes=routes, RoutedPipelines="a, b")["Conditions"]

        assert [slot for slot in range(10) if conditions[f"Routed{slot}"]] == [0, 1]
        assert conditions["SingleRoute"] is False

    def test_a_condition_made_of_other_conditions(self) -> None:
        assert self.stack(CreateSourceBucket="false")["Conditions"]["AdoptBucket"] is True
        assert self.stack(CreateSourceBucket="true")["Conditions"]["AdoptBucket"] is False

    def test_or_and_not(self) -> None:
        evaluator = Evaluator(values(Stage="dev"))
        is_dev = {"Fn::Equals": [{"Ref": "Stage"}, "dev"]}

        assert evaluator.truth({"Fn::Or": [{"Fn::Not": [is_dev]}, is_dev]}) is True
        assert evaluator.truth({"Fn::And": [is_dev, {"Fn::Not": [is_dev]}]}) is False


# Outside prod, Names may hold only blanks.
RULES = {
    "ListsOnlyInProd": {
        "RuleCondition": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Stage"}, "prod"]}]},
        "Assertions": [
            {"Assert": {"Fn::EachMemberEquals": [{"Ref": "Names"}, ""]}, "AssertDescription": "no names"},
            {"Assert": {"Fn::EachMemberIn": [{"Ref": "Names"}, ["", "x"]]}, "AssertDescription": "x only"},
        ],
    }
}


class TestRules:
    def test_a_rule_whose_condition_is_false_asserts_nothing(self) -> None:
        assert broken_rules(RULES, values(Names="a")) == []

    def test_each_failed_assertion_with_its_description(self) -> None:
        assert broken_rules(RULES, values(Stage="dev", Names="x")) == [("ListsOnlyInProd", "no names")]
        assert broken_rules(RULES, values(Stage="dev", Names="a")) == [
            ("ListsOnlyInProd", "no names"),
            ("ListsOnlyInProd", "x only"),
        ]

    def test_a_function_it_does_not_know_is_an_error_not_a_pass(self) -> None:
        rules = {"Vpc": {"Assertions": [{"Assert": {"Fn::RefAll": "AWS::EC2::VPC::Id"}}]}}

        with pytest.raises(UnknownFunction, match="Fn::RefAll"):
            broken_rules(rules, values())


class TestSub:
    evaluator = Evaluator(values(Stage="dev"))

    def test_parameters_and_pseudo_parameters(self) -> None:
        text = "arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}-${Stage}"

        assert self.evaluator.resolve({"Fn::Sub": text}) == (
            "arn:aws:codepipeline:eu-west-1:123456789012:s3-pipeline-trigger-dev"
        )

    def test_json_with_parameters_keeps_its_own_braces(self) -> None:
        text = '[{"key": "${AWS::StackName}.zip", "pipeline": "${Stage}", "options": {}}]'

        resolved = self.evaluator.resolve({"Fn::Sub": text})

        assert json.loads(resolved) == [{"key": "s3-pipeline-trigger.zip", "pipeline": "dev", "options": {}}]

    def test_variables_given_with_it_come_first(self) -> None:
        sub = {"Fn::Sub": ["${Stage}/${Name}", {"Stage": "beta", "Name": {"Fn::Select": [1, ["a", "b"]]}}]}

        assert self.evaluator.resolve(sub) == "beta/b"

    def test_resources_stay_tokens_and_an_escaped_name_is_literal(self) -> None:
        resolved = self.evaluator.resolve({"Fn::Sub": "${Bucket.Arn}/* ${Queue} ${!Stage}"})

        assert resolved == "<Bucket.Arn>/* <Queue> ${Stage}"

    def test_the_function_environment_of_the_template(self) -> None:
        variables = deployed(transformed(), REQUIRED_PARAMETERS)["Resources"]["TriggerFunction"]["Properties"][
            "Environment"
        ]["Variables"]

        # The one-route parameters, as the JSON the !Sub writes (the README's names).
        assert json.loads(variables["ROUTES"]) == [
            {
                "key": "my-website.zip",
                "pipeline": "my-website-pipeline",
                "sourceAction": "Source",
                "overrideKey": False,
                "latestOnly": True,
            }
        ]
        assert variables["SOURCE_ACCOUNT"] == "123456789012"


class TestResources:
    def test_no_value_drops_the_property_or_item(self) -> None:
        evaluator = Evaluator(values(), {"Dev": {"Fn::Equals": [{"Ref": "Stage"}, "dev"]}})
        no_value = {"Ref": "AWS::NoValue"}

        resolved = evaluator.resolve({"A": {"Fn::If": ["Dev", "x", no_value]}, "B": ["y", no_value]})

        assert resolved == {"B": ["y"]}

    def test_attributes_and_resource_refs_are_tokens_known_only_once_deployed(self) -> None:
        evaluator = Evaluator(values())

        assert evaluator.resolve({"Fn::GetAtt": ["Queue", "Arn"]}) == Unresolved("<Queue.Arn>")
        assert isinstance(evaluator.resolve({"Ref": "Queue"}), Unresolved)

    def test_a_function_it_does_not_know_is_an_error(self) -> None:
        with pytest.raises(UnknownFunction, match="Fn::FindInMap"):
            Evaluator(values()).resolve({"Key": {"Fn::FindInMap": ["Map", "a", "b"]}})
