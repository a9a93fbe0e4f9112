"""The central artifact bucket: the trigger stack's bus, policy and rule; the bucket account's and the pipeline
accounts' stacks (source-account.yaml, pipeline-account.yaml), linted and read resource by resource."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from local.sam_transform import transformed
from ops.template_model import REQUIRED_PARAMETERS, deployed
from support.environment import PIPELINE_ACCOUNT_TEMPLATE, ROOT, SOURCE_ACCOUNT_TEMPLATE
from support.iam_policy import allows, role_statements
from trigger_fn.settings import load_settings

BIN = Path(sys.executable).parent
THIS_ACCOUNT = "123456789012"
SOURCE = "111111111111"
PIPELINES = "222222222222"
OTHER = "999999999999"
CENTRAL = {"SourceBucketAccount": SOURCE}
BUS_ARN = f"arn:aws:events:eu-west-1:{THIS_ACCOUNT}:event-bus/s3-pipeline-trigger-artifacts"
FUNCTION_ROLE = f"arn:aws:iam::{THIS_ACCOUNT}:role/s3-pipeline-trigger-TriggerFunctionRole-AbC123"
SOURCE_PARAMETERS = {"SourceBucketName": "my-artifact-bucket", "TriggerEventBusArn": BUS_ARN, "KeyFilter": "*.zip"}
PIPELINE_PARAMETERS = {"TriggerFunctionRoleArn": FUNCTION_ROLE, "PipelineNames": "site-pipeline,api-pipeline"}


def trigger_stack(**parameters: str) -> dict[str, Any]:
    resources: dict[str, Any] = deployed(transformed(), REQUIRED_PARAMETERS | parameters)["Resources"]
    return resources


def source_stack(**parameters: str) -> dict[str, Any]:
    values = SOURCE_PARAMETERS | parameters
    resources: dict[str, Any] = deployed(transformed(SOURCE_ACCOUNT_TEMPLATE), values)["Resources"]
    return resources


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def admits_only_named_principals(statement: dict[str, Any]) -> bool:
    """A resource policy statement admits no one it does not name: `*` only under an aws:PrincipalOrgID condition."""
    principal = statement["Principal"]
    principals = as_list(principal.get("AWS", [])) if isinstance(principal, dict) else as_list(principal)
    if "*" not in principals:
        return True
    org_ids = statement.get("Condition", {}).get("StringEquals", {}).get("aws:PrincipalOrgID")
    return isinstance(org_ids, str) and org_ids.startswith("o-")


@pytest.mark.parametrize("template", [SOURCE_ACCOUNT_TEMPLATE, PIPELINE_ACCOUNT_TEMPLATE], ids=lambda p: p.name)
class TestCheckov:
    # cfn-lint and sam validate --lint run on all three templates in test_template.py's TestLinters.
    def test_checkov_reads_it(self, template: Path) -> None:
        assert template.name in (ROOT / ".checkov.yaml").read_text(encoding="utf-8")


class TestTriggerStackSameAccount:
    @pytest.mark.parametrize("parameters", [{}, {"SourceBucketAccount": THIS_ACCOUNT}], ids=["empty", "own-account"])
    def test_no_bus_and_the_bucket_still_adopted(self, parameters: dict[str, str]) -> None:
        resources = trigger_stack(CreateSourceBucket="false", **parameters)

        assert not {name for name, r in resources.items() if r["Type"].startswith("AWS::Events::EventBus")}
        assert "CentralBucketObjectCreated" not in resources
        assert "SourceBucketEventBridge" in resources

    def test_no_role_may_be_assumed_without_pipeline_accounts(self) -> None:
        statements = role_statements("TriggerFunctionRole")

        assert not [s for s in statements if any("sts:" in action for action in as_list(s["Action"]))]


class TestTriggerStackCentralBucket:
    def test_the_bucket_of_another_account_is_not_adopted_here(self) -> None:
        resources = trigger_stack(CreateSourceBucket="false", **CENTRAL)

        assert "SourceBucketEventBridge" not in resources
        assert "BucketAdopterFunction" not in resources
        assert "SourceBucket" not in resources

    def test_the_bus_admits_only_the_source_account(self) -> None:
        policy = trigger_stack(**CENTRAL)["CentralEventBusPolicy"]["Properties"]

        assert policy["EventBusName"] == "<CentralEventBus>"
        assert policy["Statement"] == {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{SOURCE}:root"},
            "Action": "events:PutEvents",
            "Resource": "<CentralEventBus.Arn>",
        }
        assert admits_only_named_principals(policy["Statement"])

    def test_with_an_organization_any_principal_only_of_that_organization(self) -> None:
        policy = trigger_stack(**CENTRAL, SourceOrganizationId="o-a1b2c3d4e5")["CentralEventBusPolicy"]["Properties"]

        assert policy["Statement"]["Principal"] == "*"
        assert policy["Statement"]["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}
        assert admits_only_named_principals(policy["Statement"])

    @pytest.mark.parametrize(
        "statement",
        [
            {"Principal": "*"},
            {"Principal": {"AWS": "*"}},
            {"Principal": {"AWS": ["arn:aws:iam::111111111111:root", "*"]}},
            {"Principal": "*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": ""}}},
            {"Principal": "*", "Condition": {"StringEquals": {"aws:SourceAccount": SOURCE}}},
        ],
        ids=["star", "aws-star", "star-among-accounts", "empty-org", "other-condition"],
    )
    def test_a_bus_policy_that_admits_any_principal_is_refused(self, statement: dict[str, Any]) -> None:
        assert not admits_only_named_principals({"Effect": "Allow", "Action": "events:PutEvents", **statement})

    def test_the_bus_rule_has_the_default_rule_pattern_plus_the_source_account(self) -> None:
        resources = trigger_stack(**CENTRAL)
        default = resources["TriggerFunctionObjectCreated"]["Properties"]
        central = resources["CentralBucketObjectCreated"]["Properties"]

        assert central["EventBusName"] == "<CentralEventBus>"
        assert central["EventPattern"] == default["EventPattern"] | {"account": [SOURCE]}

    def test_the_bus_rule_has_the_default_rules_target_and_its_own_dlq(self) -> None:
        resources = trigger_stack(**CENTRAL)
        (default,) = resources["TriggerFunctionObjectCreated"]["Properties"]["Targets"]
        (central,) = resources["CentralBucketObjectCreated"]["Properties"]["Targets"]

        assert central["Arn"] == default["Arn"]
        assert central["RetryPolicy"] == default["RetryPolicy"]
        assert central["DeadLetterConfig"] == {"Arn": "<CentralRuleDeadLetterQueue.Arn>"}
        assert central["Arn"] == "<TriggerQueue.Arn>"
        # The trigger queue takes the bus rule's events, and only because of that rule's ARN.
        statements = resources["TriggerQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
        allowed = [s["Condition"]["ArnEquals"]["aws:SourceArn"] for s in statements if s["Effect"] == "Allow"]
        assert allowed == ["<TriggerFunctionObjectCreated.Arn>", "<CentralBucketObjectCreated.Arn>"]

    def test_without_a_central_bucket_the_queue_admits_only_the_default_rule(self) -> None:
        statements = trigger_stack()["TriggerQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]

        allowed = [s["Condition"]["ArnEquals"]["aws:SourceArn"] for s in statements if s["Effect"] == "Allow"]
        assert allowed == ["<TriggerFunctionObjectCreated.Arn>"]

    def test_the_central_dlq_accepts_only_the_bus_rule_and_refuses_plain_http(self) -> None:
        statements = trigger_stack(**CENTRAL)["CentralRuleDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"][
            "Statement"
        ]

        (allow,) = [s for s in statements if s["Effect"] == "Allow"]
        assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": "<CentralBucketObjectCreated.Arn>"}}
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
        )

    def test_the_function_knows_the_source_account_and_its_settings_load(self) -> None:
        routes = [{"key": "site/*.zip", "pipeline": "site-pipeline", "pipelineAccount": PIPELINES}]
        parameters = {
            **CENTRAL,
            "Routes": json.dumps(routes),
            "RoutedPipelines": "site-pipeline",
            "RoutesKeyFilter": "*.zip",
            "PipelineAccounts": PIPELINES,
        }
        variables = trigger_stack(**parameters)["TriggerFunction"]["Properties"]["Environment"]["Variables"]

        settings = load_settings({name: str(value) for name, value in variables.items()})

        assert settings.source_account == SOURCE
        assert settings.starter_role_in(PIPELINES) == f"arn:aws:iam::{PIPELINES}:role/s3-pipeline-trigger-starter"

    def test_the_stack_refuses_to_create_or_exemplify_a_bucket_of_another_account(self) -> None:
        from ops.template_model import sam_template

        (rule,) = [
            r
            for r in sam_template()["Rules"].values()
            if r["RuleCondition"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "SourceBucketAccount"}, ""]}]}
        ]
        asserted = [a["Assert"] for a in rule["Assertions"]]
        assert {"Fn::Equals": [{"Ref": "CreateSourceBucket"}, "false"]} in asserted
        assert {"Fn::Equals": [{"Ref": "CreateExamplePipeline"}, "false"]} in asserted


class TestFunctionMayAssumeOnlyTheNamedRoles:
    ACCOUNTS = f"{PIPELINES},333333333333"

    def statements(self) -> list[dict[str, Any]]:
        return role_statements("TriggerFunctionRole", PipelineAccounts=self.ACCOUNTS)

    @pytest.mark.parametrize("account", [PIPELINES, "333333333333"])
    def test_the_starter_role_of_each_named_account(self, account: str) -> None:
        assert allows(self.statements(), "sts:AssumeRole", f"arn:aws:iam::{account}:role/s3-pipeline-trigger-starter")

    @pytest.mark.parametrize(
        "role",
        [
            f"arn:aws:iam::{OTHER}:role/s3-pipeline-trigger-starter",
            f"arn:aws:iam::{PIPELINES}:role/admin",
            f"arn:aws:iam::{THIS_ACCOUNT}:role/s3-pipeline-trigger-starter",
            f"arn:aws:iam::{PIPELINES}:role/s3-pipeline-trigger-starter-2",
        ],
        ids=["unnamed-account", "other-role", "own-account", "longer-name"],
    )
    def test_no_other_role(self, role: str) -> None:
        assert not allows(self.statements(), "sts:AssumeRole", role)

    def test_no_wildcard_in_any_assume_role_resource(self) -> None:
        assumed = [s for s in self.statements() if "sts:AssumeRole" in as_list(s["Action"])]

        assert assumed
        assert all("*" not in resource for s in assumed for resource in as_list(s["Resource"]))


class TestSourceAccountStack:
    def test_adopts_the_bucket_with_the_shared_adopter_recorded_in_its_tags(self) -> None:
        adopter = source_stack()["SourceBucketEventBridge"]["Properties"]

        assert adopter["ServiceToken"] == "<BucketAdopterFunction.Arn>"
        assert adopter["BucketName"] == "my-artifact-bucket"
        assert adopter["ExpectedBucketOwner"] == "123456789012"
        assert adopter["AdopterRecord"] == "bucket-tags"
        assert (
            source_stack()["BucketAdopterFunction"]["Properties"]["Handler"] == "bucket_adopter.handler.lambda_handler"
        )

    def test_forwards_the_trigger_rules_pattern_to_the_trigger_bus(self) -> None:
        forward = source_stack()["ForwardObjectCreated"]["Properties"]
        trigger_rule = trigger_stack(
            Routes=json.dumps([{"key": "*.zip", "pipeline": "p"}]), RoutedPipelines="p", RoutesKeyFilter="*.zip"
        )["TriggerFunctionObjectCreated"]["Properties"]

        assert forward["EventPattern"] == trigger_rule["EventPattern"]
        assert "EventBusName" not in forward
        (target,) = forward["Targets"]
        assert target["Arn"] == BUS_ARN
        assert target["RoleArn"] == "<ForwardRole.Arn>"
        assert target["DeadLetterConfig"] == {"Arn": "<ForwardDeadLetterQueue.Arn>"}

    def test_the_forward_role_may_only_put_events_on_that_bus(self) -> None:
        statements = role_statements("ForwardRole", SOURCE_ACCOUNT_TEMPLATE, **SOURCE_PARAMETERS)

        assert allows(statements, "events:PutEvents", BUS_ARN)
        assert not allows(statements, "events:PutEvents", BUS_ARN.replace("artifacts", "other"))
        assert not allows(statements, "events:PutEvents", f"arn:aws:events:eu-west-1:{THIS_ACCOUNT}:event-bus/default")
        assert not allows(statements, "events:PutRule", BUS_ARN)
        assert all(
            as_list(s["Action"]) == ["events:PutEvents"] and as_list(s["Resource"]) == [BUS_ARN] for s in statements
        )

    def test_only_eventbridge_of_this_account_assumes_the_forward_role(self) -> None:
        (trust,) = source_stack()["ForwardRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]

        assert trust["Principal"] == {"Service": "events.amazonaws.com"}
        assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}

    def test_the_forward_dlq_accepts_only_the_forward_rule(self) -> None:
        statements = source_stack()["ForwardDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]

        (allow,) = [s for s in statements if s["Effect"] == "Allow"]
        assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": "<ForwardObjectCreated.Arn>"}}
        assert source_stack()["ForwardDeadLetterQueue"]["Properties"]["SqsManagedSseEnabled"] is True

    def test_the_adopter_role_touches_only_the_bucket(self) -> None:
        statements = role_statements("BucketAdopterRole", SOURCE_ACCOUNT_TEMPLATE, **SOURCE_PARAMETERS)

        assert allows(statements, "s3:PutBucketNotification", "arn:aws:s3:::my-artifact-bucket")
        assert not allows(statements, "s3:PutBucketNotification", "arn:aws:s3:::other-bucket")
        assert not allows(statements, "s3:PutBucketPolicy", "arn:aws:s3:::my-artifact-bucket")


class TestPipelineAccountStack:
    def role(self, **parameters: str) -> dict[str, Any]:
        values = PIPELINE_PARAMETERS | parameters
        resources = deployed(transformed(PIPELINE_ACCOUNT_TEMPLATE), values)["Resources"]
        role: dict[str, Any] = resources["PipelineStarterRole"]["Properties"]
        return role

    def test_only_the_trigger_functions_role_may_assume_it(self) -> None:
        role = self.role()

        assert role["RoleName"] == "s3-pipeline-trigger-starter"
        assert role["AssumeRolePolicyDocument"]["Statement"] == [
            {"Effect": "Allow", "Principal": {"AWS": FUNCTION_ROLE}, "Action": "sts:AssumeRole"}
        ]

    def test_named_operators_may_assume_it_too_and_no_one_else(self) -> None:
        operator = "arn:aws:iam::777788889999:role/release-managers"

        statements = self.role(OperatorRoleArns=operator)["AssumeRolePolicyDocument"]["Statement"]

        assert statements == [
            {"Effect": "Allow", "Principal": {"AWS": FUNCTION_ROLE}, "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": {"AWS": [operator]}, "Action": "sts:AssumeRole"},
        ]

    @pytest.mark.parametrize("pipeline", ["site-pipeline", "api-pipeline"])
    def test_starts_and_lists_the_named_pipelines(self, pipeline: str) -> None:
        statements = role_statements("PipelineStarterRole", PIPELINE_ACCOUNT_TEMPLATE, **PIPELINE_PARAMETERS)
        arn = f"arn:aws:codepipeline:eu-west-1:123456789012:{pipeline}"

        assert allows(statements, "codepipeline:StartPipelineExecution", arn)
        assert allows(statements, "codepipeline:ListPipelineExecutions", arn)

    @pytest.mark.parametrize(
        ("action", "resource"),
        [
            ("codepipeline:StartPipelineExecution", "arn:aws:codepipeline:eu-west-1:123456789012:other-pipeline"),
            ("codepipeline:UpdatePipeline", "arn:aws:codepipeline:eu-west-1:123456789012:site-pipeline"),
            ("codepipeline:StopPipelineExecution", "arn:aws:codepipeline:eu-west-1:123456789012:site-pipeline"),
            ("s3:GetObject", "arn:aws:s3:::my-artifact-bucket/site.zip"),
            ("sts:AssumeRole", "arn:aws:iam::123456789012:role/admin"),
        ],
    )
    def test_nothing_else(self, action: str, resource: str) -> None:
        statements = role_statements("PipelineStarterRole", PIPELINE_ACCOUNT_TEMPLATE, **PIPELINE_PARAMETERS)

        assert not allows(statements, action, resource)
        assert all("*" not in str(s["Resource"]) and "*" not in str(s["Action"]) for s in statements)
