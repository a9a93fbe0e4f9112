"""The template's parameters as a user meets them in the console and in `sam deploy --guided`: what each
accepts and refuses (with the template's own words), what each switches on or off, and what is not there."""

from __future__ import annotations

import json
import tomllib
from typing import Any

import pytest

from local.sam_transform import transformed
from ops.parameter_checks import parameter_problems, template_checks
from ops.template_model import REQUIRED_PARAMETERS, TEMPLATE, deployed, sam_template
from support.environment import ROOT

PARAMETERS, RULES = template_checks(TEMPLATE)
ROUTED = {
    "SourceBucketName": "acme-releases",
    "Routes": json.dumps([{"key": "site/*.zip", "pipeline": "site-deploy"}]),
    "RoutedPipelines": "site-deploy",
}


def stack(**parameters: str) -> dict[str, Any]:
    return deployed(transformed(), REQUIRED_PARAMETERS | parameters)


def problems(**parameters: str) -> list[str]:
    """What CloudFormation would refuse for these values: every parameter given, the rest at its default."""
    defaults = {name: str(spec.get("Default", "")) for name, spec in PARAMETERS.items()}
    return parameter_problems(defaults | parameters)


def interface_groups() -> dict[str, list[str]]:
    groups = sam_template()["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    return {group["Label"]["default"]: group["Parameters"] for group in groups}


class TestWhatTheUserIsAsked:
    def test_guided_asks_the_three_answers_a_first_deployment_needs_first(self) -> None:
        # `sam deploy --guided` asks in the template's order.
        assert list(PARAMETERS)[:3] == ["SourceBucketName", "ObjectKey", "PipelineName"]

    def test_every_parameter_is_in_exactly_one_console_group(self) -> None:
        grouped = [name for names in interface_groups().values() for name in names]

        assert sorted(grouped) == sorted(PARAMETERS)

    def test_operations_holds_only_settings_for_aws(self) -> None:
        assert interface_groups()["Operations"] == [
            "AlarmEmail",
            "CreateDashboard",
            "TokenWindowSeconds",
            "MaxConcurrency",
            "MaxStartsPerSecond",
            "MaxReceiveCount",
            "LogLevel",
            "DryRun",
        ]

    def test_no_emulator_setting_reaches_aws(self) -> None:
        text = TEMPLATE.read_text(encoding="utf-8")

        assert not [name for name in PARAMETERS if "Endpoint" in name]
        assert "AWS_ENDPOINT_URL" not in text

    def test_every_checked_parameter_says_what_it_allows(self) -> None:
        checked = {name: spec for name, spec in PARAMETERS.items() if {"AllowedPattern", "AllowedValues"} & set(spec)}
        silent = [name for name, spec in checked.items() if not spec.get("ConstraintDescription")]

        assert checked
        assert not silent


class TestObjectKey:
    def test_has_no_placeholder(self) -> None:
        assert PARAMETERS["ObjectKey"]["Default"] == ""

    def test_is_required_without_routes(self) -> None:
        assert problems(SourceBucketName="b-1", PipelineName="p") == [
            "rule ObjectKeyOrRoutes: Set ObjectKey, the key (or * wildcard) whose uploads start PipelineName "
            "(or give Routes and RoutedPipelines)."
        ]

    def test_is_not_needed_with_routes(self) -> None:
        assert problems(**ROUTED) == []

    def test_a_given_key_passes_to_the_rule_and_the_function(self) -> None:
        function = stack(ObjectKey="releases/*.zip")["Resources"]["TriggerFunction"]["Properties"]

        assert problems(SourceBucketName="b-1", PipelineName="p", ObjectKey="releases/*.zip") == []
        assert function["Environment"]["Variables"]["ROUTES_KEY_FILTER"] == "releases/*.zip"
        assert json.loads(function["Environment"]["Variables"]["ROUTES"])[0]["key"] == "releases/*.zip"

    @pytest.mark.parametrize("key", ['say "hi".zip', "a\\*b.zip", "back\\slash.zip", "line\nbreak.zip", "tab\t.zip"])
    def test_a_key_json_would_escape_is_refused_before_deploying(self, key: str) -> None:
        # The template puts ObjectKey into the function's ROUTES JSON unescaped; Routes is where such keys go.
        assert problems(SourceBucketName="b-1", PipelineName="p", ObjectKey=key) == [
            f'ObjectKey={key!r}: must be an S3 object key of at most 1024 characters without " or \\ or control '
            "characters - for such a key (or a literal *) use Routes, where you write the JSON and its escapes yourself"
        ]

    @pytest.mark.parametrize(
        "key", ["my-website.zip", "releases/*.zip", "release notes/café (v2)+1.zip", "a'b{c}$d.zip"]
    )
    def test_other_keys_are_accepted(self, key: str) -> None:
        assert problems(SourceBucketName="b-1", PipelineName="p", ObjectKey=key) == []

    def test_such_a_key_goes_into_routes_instead(self) -> None:
        routes = json.dumps([{"key": 'say "hi".zip', "pipeline": "p"}])

        assert problems(SourceBucketName="b-1", Routes=routes, RoutedPipelines="p") == []


class TestSourceBucketName:
    @pytest.mark.parametrize("name", ["abc", "my-artifact-bucket", "acme.releases.2026", "a" * 63])
    def test_accepts_bucket_names(self, name: str) -> None:
        assert problems(SourceBucketName=name, PipelineName="p", ObjectKey="k") == []

    @pytest.mark.parametrize("name", ["ab", "My-Bucket", "bucket_name", "-bucket", "bucket-", "a" * 64, ""])
    def test_refuses_anything_else_in_words(self, name: str) -> None:
        assert problems(SourceBucketName=name, PipelineName="p", ObjectKey="k") == [
            f"SourceBucketName={name!r}: must be an S3 bucket name - 3 to 63 characters, lowercase letters, "
            "digits, dots and hyphens, starting and ending with a letter or digit"
        ]


class TestAlarmEmail:
    @pytest.mark.parametrize("address", ["", "ops@example.com", "first.last+alerts@mail.example.org"])
    def test_accepts_empty_or_one_address(self, address: str) -> None:
        assert problems(**REQUIRED_PARAMETERS, AlarmEmail=address) == []

    @pytest.mark.parametrize(
        "address", ["ops", "ops@example", "ops @example.com", "ops@example.com,dev@example.com", "@example.com"]
    )
    def test_refuses_anything_else(self, address: str) -> None:
        assert problems(**REQUIRED_PARAMETERS, AlarmEmail=address) == [
            f"AlarmEmail={address!r}: must be empty, or one e-mail address such as ops@example.com"
        ]


class TestDashboard:
    def test_on_by_default(self) -> None:
        template = stack()

        assert PARAMETERS["CreateDashboard"]["Default"] == "true"
        assert [r["Type"] for r in template["Resources"].values()].count("AWS::CloudWatch::Dashboard") == 1
        assert template["Outputs"]["DashboardName"] == "<Dashboard>"

    def test_off_leaves_no_dashboard_and_nothing_pointing_at_it(self) -> None:
        template = stack(CreateDashboard="false")

        assert "AWS::CloudWatch::Dashboard" not in [r["Type"] for r in template["Resources"].values()]
        assert "DashboardName" not in template["Outputs"]
        assert "<Dashboard" not in json.dumps(template)
        # The alarms stay: they are what tells someone.
        assert len([r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]) == 6

    def test_refuses_anything_but_true_or_false(self) -> None:
        assert problems(**REQUIRED_PARAMETERS, CreateDashboard="yes") == [
            "CreateDashboard='yes': must be true or false"
        ]


class TestExamplePipeline:
    def test_with_routes_is_refused_by_a_rule(self) -> None:
        assert problems(**ROUTED, CreateExamplePipeline="true") == [
            "rule ExamplePipelineWithoutRoutes: CreateExamplePipeline needs PipelineName and ObjectKey, not Routes "
            "- set it to false, or deploy the example without Routes."
        ]

    def test_without_routes_is_accepted(self) -> None:
        assert problems(**REQUIRED_PARAMETERS, CreateExamplePipeline="true") == []

    def test_both_buckets_are_kept_by_sam_delete_and_named_in_the_outputs(self) -> None:
        template = stack(CreateExamplePipeline="true")
        buckets = {name: r for name, r in template["Resources"].items() if r["Type"] == "AWS::S3::Bucket"}

        assert set(buckets) == {"SourceBucket", "ExampleArtifactStore", "ExampleWebsiteBucket"}
        for bucket in buckets.values():
            assert bucket["DeletionPolicy"] == "Retain"
            assert bucket["UpdateReplacePolicy"] == "Retain"
        assert template["Outputs"]["ExampleArtifactStore"] == "<ExampleArtifactStore>"
        assert template["Outputs"]["ExampleWebsiteBucket"] == "<ExampleWebsiteBucket>"


class TestRules:
    def test_a_pipeline_name_is_required_without_routes(self) -> None:
        assert problems(SourceBucketName="b-1", ObjectKey="k") == [
            "rule PipelineNameOrRoutes: Set PipelineName (or give Routes and RoutedPipelines)."
        ]

    def test_routes_need_their_pipelines_listed(self) -> None:
        assert problems(**ROUTED | {"RoutedPipelines": ""}) == [
            "rule RoutesNameTheirPipelines: With Routes, list every routed pipeline in RoutedPipelines."
        ]

    def test_the_local_demo_configuration_passes(self) -> None:
        local = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))["local"]
        words = local["deploy"]["parameters"]["parameter_overrides"].split()

        assert problems(**dict(word.split("=", 1) for word in words)) == []
