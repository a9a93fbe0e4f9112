"""docs/deployer-policy.json against what CloudFormation does as the deployer: every create, update and delete
permission the resource types' handlers list (cfn-lint's bundled CloudFormation schemas) is allowed, unless it
serves a feature no resource here uses; and nothing is allowed that no handler and no SAM CLI call needs."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import cfnlint
import pytest
from samcli.lib.bootstrap.bootstrap import _get_stack_template

from local.sam_transform import transformed
from ops import deployer_policy
from ops.deployer_policy import README_NAMES, Names, policy, render
from ops.template_model import REQUIRED_PARAMETERS, deployed
from support.environment import ROOT
from support.guided import project_with_samconfig, save_as_guided
from support.iam_policy import allows

SCHEMAS = Path(cfnlint.__file__).parent / "data" / "schemas"
HANDLERS = ("create", "update", "delete")
ROUTES = '[{"key":"site/*.zip","pipeline":"site-deploy"}]'
# A central bucket in another account, and a route whose pipeline is in a third one.
CENTRAL = {
    "SourceBucketAccount": "444455556666",
    "CreateSourceBucket": "false",
    "Routes": '[{"key":"site/*.zip","pipeline":"site-deploy","pipelineAccount":"777788889999"}]',
    "RoutedPipelines": "site-deploy",
    "PipelineAccounts": "777788889999",
}
# Every resource combination the template tests deploy.
COMBINATIONS = {
    "default": {},
    "routes": {"Routes": ROUTES, "RoutedPipelines": "site-deploy"},
    "adopt-bucket": {"CreateSourceBucket": "false"},
    "example-and-alarm-mail": {"CreateExamplePipeline": "true", "AlarmEmail": "ops@example.com"},
    "no-dashboard": {"CreateDashboard": "false"},
    "central-bucket": CENTRAL,
}
# SAM CLI's own calls around the change set (not a resource handler's).
SAM_CLI_ACTIONS = {
    "cloudformation:CreateChangeSet",
    "cloudformation:DeleteChangeSet",
    "cloudformation:DeleteStack",
    "cloudformation:DescribeChangeSet",
    "cloudformation:DescribeStackEvents",
    "cloudformation:DescribeStacks",
    "cloudformation:ExecuteChangeSet",
    "cloudformation:GetTemplate",
    "cloudformation:GetTemplateSummary",
    "s3:PutObject",
    # CloudFormation invokes a custom resource's function as the caller; no schema lists it.
    "lambda:InvokeFunction",
}


class NotNeeded(NamedTuple):
    """Handler permissions only a feature needs, and how to see that no resource uses the feature."""

    resource_type: str
    actions: frozenset[str]
    unused: Callable[[dict[str, Any]], bool]
    feature: str


def absent(*names: str) -> Callable[[dict[str, Any]], bool]:
    return lambda properties: not set(names) & set(properties)


def no_connection_actions(properties: dict[str, Any]) -> bool:
    actions = [action for stage in properties.get("Stages", []) for action in stage["Actions"]]
    return all(action["ActionTypeId"]["Provider"] != "CodeStarSourceConnection" for action in actions)


def no_role_for_targets(properties: dict[str, Any]) -> bool:
    return "RoleArn" not in properties and all("RoleArn" not in target for target in properties.get("Targets", []))


NOT_NEEDED = [
    NotNeeded(
        "AWS::S3::Bucket",
        frozenset(
            {
                "s3:CreateBucketMetadataTableConfiguration",
                "s3:DeleteBucketMetadataTableConfiguration",
                "s3:UpdateBucketMetadataAnnotationTableConfiguration",
                "s3:UpdateBucketMetadataInventoryTableConfiguration",
                "s3:UpdateBucketMetadataJournalTableConfiguration",
                "s3tables:CreateNamespace",
                "s3tables:CreateTable",
                "s3tables:CreateTableBucket",
                "s3tables:GetTable",
                "s3tables:GetTableMetadataLocation",
                "s3tables:PutTableBucketPolicy",
                "s3tables:PutTableEncryption",
                "s3tables:PutTablePolicy",
                "s3tables:UpdateTableMetadataLocation",
            }
        ),
        absent("MetadataTableConfiguration", "MetadataConfiguration"),
        "S3 Metadata tables",
    ),
    NotNeeded(
        "AWS::S3::Bucket", frozenset({"s3:PutAccelerateConfiguration"}), absent("AccelerateConfiguration"), "accel"
    ),
    NotNeeded(
        "AWS::S3::Bucket",
        frozenset({"s3:PutAnalyticsConfiguration", "s3:DeleteBucketAnalyticsConfiguration"}),
        absent("AnalyticsConfigurations"),
        "analytics",
    ),
    NotNeeded(
        "AWS::S3::Bucket",
        frozenset({"s3:PutBucketCORS", "s3:DeleteBucketCors"}),
        absent("CorsConfiguration"),
        "CORS",
    ),
    NotNeeded("AWS::S3::Bucket", frozenset({"s3:PutBucketLogging"}), absent("LoggingConfiguration"), "access logs"),
    NotNeeded(
        "AWS::S3::Bucket",
        frozenset({"s3:PutBucketObjectLockConfiguration", "s3:PutObjectLockConfiguration"}),
        absent("ObjectLockConfiguration", "ObjectLockEnabled"),
        "object lock",
    ),
    NotNeeded(
        "AWS::S3::Bucket",
        frozenset({"s3:PutBucketReplication", "s3:PutReplicationConfiguration", "s3:DeleteBucketReplication"})
        | {"iam:PassRole"},
        absent("ReplicationConfiguration"),
        "replication (its role)",
    ),
    NotNeeded(
        "AWS::S3::Bucket",
        frozenset({"s3:PutBucketWebsite", "s3:DeleteBucketWebsite"}),
        absent("WebsiteConfiguration"),
        "website hosting",
    ),
    NotNeeded(
        "AWS::S3::Bucket",
        frozenset({"s3:PutIntelligentTieringConfiguration"}),
        absent("IntelligentTieringConfigurations"),
        "tiering",
    ),
    NotNeeded(
        "AWS::S3::Bucket", frozenset({"s3:PutInventoryConfiguration"}), absent("InventoryConfigurations"), "inventory"
    ),
    NotNeeded(
        "AWS::S3::Bucket",
        frozenset({"s3:PutMetricsConfiguration", "s3:DeleteBucketMetricsConfiguration"}),
        absent("MetricsConfigurations"),
        "request metrics",
    ),
    NotNeeded("AWS::S3::Bucket", frozenset({"s3:PutObjectAcl", "s3:PutBucketAcl"}), absent("AccessControl"), "ACLs"),
    NotNeeded("AWS::S3::Bucket", frozenset({"s3:PutBucketAbac"}), absent("AbacStatus"), "ABAC"),
    NotNeeded(
        "AWS::Lambda::Function",
        frozenset({"ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs"})
        | {"ec2:DescribeNetworkInterfaces"},
        absent("VpcConfig"),
        "VPC",
    ),
    NotNeeded(
        "AWS::Lambda::Function",
        frozenset({"elasticfilesystem:DescribeMountTargets", "s3files:ListMountTargets"}),
        absent("FileSystemConfigs"),
        "file systems",
    ),
    NotNeeded(
        "AWS::Lambda::Function",
        frozenset({"kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"}),
        absent("KmsKeyArn"),
        "a customer KMS key",
    ),
    NotNeeded("AWS::Lambda::Function", frozenset({"lambda:GetLayerVersion"}), absent("Layers"), "layers"),
    NotNeeded(
        "AWS::Lambda::Function",
        frozenset({"lambda:PutRuntimeManagementConfig"}),
        absent("RuntimeManagementConfig"),
        "runtime pinning",
    ),
    NotNeeded(
        "AWS::Lambda::Function",
        frozenset({"lambda:PutFunctionConcurrency"}),
        absent("ReservedConcurrentExecutions"),
        "reserved concurrency",
    ),
    NotNeeded(
        "AWS::Lambda::Function",
        frozenset({"lambda:PassCapacityProvider"}),
        absent("CapacityProviderConfig"),
        "capacity providers",
    ),
    NotNeeded(
        "AWS::Lambda::Function",
        frozenset({"lambda:PutFunctionScalingConfig"}),
        absent("FunctionScalingConfig"),
        "scaling config",
    ),
    NotNeeded(
        "AWS::Lambda::Function",
        frozenset({"lambda:PutFunctionRecursionConfig"}),
        absent("RecursiveLoop"),
        "recursion config",
    ),
    NotNeeded(
        "AWS::Lambda::Function",
        frozenset({"lambda:PutFunctionCodeSigningConfig"}),
        absent("CodeSigningConfigArn"),
        "code signing",
    ),
    NotNeeded(
        "AWS::Lambda::Function",
        frozenset({"lambda:PublishVersion"}),
        absent("PublishToLatestPublished", "SnapStart"),
        "published versions",
    ),
    NotNeeded(
        "AWS::Logs::LogGroup",
        frozenset({"logs:PutIndexPolicy", "logs:DeleteIndexPolicy"}),
        absent("FieldIndexPolicies"),
        "field indexes",
    ),
    NotNeeded(
        "AWS::Logs::LogGroup",
        frozenset({"logs:PutResourcePolicy", "logs:DeleteResourcePolicy"}),
        absent("ResourcePolicyDocument"),
        "a resource policy",
    ),
    NotNeeded(
        "AWS::Logs::LogGroup",
        frozenset({"logs:PutDataProtectionPolicy", "logs:DeleteDataProtectionPolicy"}),
        absent("DataProtectionPolicy"),
        "data protection",
    ),
    NotNeeded(
        "AWS::Logs::LogGroup",
        frozenset({"logs:PutBearerTokenAuthentication"}),
        absent("BearerTokenAuthenticationEnabled"),
        "bearer tokens",
    ),
    NotNeeded(
        "AWS::Logs::LogGroup",
        frozenset({"logs:AssociateKmsKey", "logs:DisassociateKmsKey"}),
        absent("KmsKeyId"),
        "a customer KMS key",
    ),
    NotNeeded(
        "AWS::Logs::LogGroup",
        frozenset({"logs:PutLogGroupDeletionProtection"}),
        absent("DeletionProtectionEnabled"),
        "deletion protection",
    ),
    NotNeeded(
        "AWS::Logs::LogGroup",
        # Delivery to Firehose or S3 (the last is not even an IAM action); no log group here delivers anywhere.
        frozenset({"logs:CreateLogDelivery", "firehose:TagDeliveryStream", "s3:REST.PUT.OBJECT"}),
        absent("LogGroupClass", "DataProtectionPolicy"),
        "log delivery",
    ),
    NotNeeded(
        "AWS::SNS::Topic",
        frozenset({"iam:GetRole", "iam:PassRole"}),
        absent("DeliveryStatusLogging"),
        "delivery status logging (its roles)",
    ),
    NotNeeded(
        "AWS::SNS::Topic",
        frozenset({"sns:PutDataProtectionPolicy"}),
        absent("DataProtectionPolicy"),
        "data protection",
    ),
    NotNeeded(
        "AWS::KMS::Key",
        frozenset({"kms:DisableKey", "kms:EnableKey"}),
        lambda properties: properties.get("Enabled", True) is True,
        "disabling a key",
    ),
    NotNeeded(
        "AWS::KMS::Key",
        frozenset({"kms:DisableKeyRotation"}),
        lambda properties: properties.get("EnableKeyRotation") is True,
        "turning key rotation off",
    ),
    NotNeeded(
        "AWS::CodePipeline::Pipeline",
        frozenset({"codestar-connections:PassConnection"}),
        no_connection_actions,
        "CodeStar connection sources",
    ),
    NotNeeded(
        "AWS::Lambda::EventSourceMapping",
        frozenset({"kms:DescribeKey", "kms:Decrypt", "kms:GenerateDataKey"}),
        absent("KmsKeyArn"),
        "filter criteria encrypted with a customer KMS key",
    ),
    NotNeeded("AWS::Events::Rule", frozenset({"iam:PassRole"}), no_role_for_targets, "a role for the targets"),
    NotNeeded(
        "AWS::Events::EventBus",
        frozenset(
            {
                "kms:Decrypt",
                "kms:DescribeKey",
                "kms:Encrypt",
                "kms:GenerateDataKey",
                "kms:GenerateDataKeyWithoutPlaintext",
                "kms:ReEncrypt",
                "kms:ReEncryptFrom",
                "kms:ReEncryptTo",
            }
        ),
        absent("KmsKeyIdentifier"),
        "a customer KMS key",
    ),
    NotNeeded(
        "AWS::IAM::Role",
        frozenset({"iam:AttachRolePolicy", "iam:DetachRolePolicy"}),
        absent("ManagedPolicyArns"),
        "managed policies",
    ),
    NotNeeded(
        "AWS::IAM::Role",
        frozenset({"iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary"}),
        absent("PermissionsBoundary"),
        "a permissions boundary",
    ),
]


@cache
def handler_permissions(resource_type: str) -> dict[str, set[str]]:
    providers = json.loads((SCHEMAS / "providers" / "us-east-1.json").read_text(encoding="utf-8"))
    schema = json.loads((SCHEMAS / "resources" / f"{providers[resource_type]}.json").read_text(encoding="utf-8"))
    return {name: set(schema["handlers"][name]["permissions"]) for name in HANDLERS if name in schema["handlers"]}


@cache
def resources() -> tuple[tuple[str, str, dict[str, Any]], ...]:
    """(where, type, properties) of every resource the deployer makes CloudFormation create."""
    found = []
    for name, overrides in COMBINATIONS.items():
        for logical_id, resource in deployed(transformed(), REQUIRED_PARAMETERS | overrides)["Resources"].items():
            found.append((f"{name}/{logical_id}", resource["Type"], resource.get("Properties", {})))
    # `sam deploy --resolve-s3` makes its artifact bucket with the caller's permissions too.
    for logical_id, resource in json.loads(_get_stack_template())["Resources"].items():
        found.append((f"sam-managed/{logical_id}", resource["Type"], resource.get("Properties", {})))
    return tuple(found)


@cache
def iam_reference() -> dict[str, Any]:
    """cfn-lint's copy of the IAM service authorization reference: the resource types each action takes."""
    return json.loads((SCHEMAS.parent / "AdditionalSpecs" / "Policies.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def resource_types(action: str) -> list[str] | None:
    """None for a name IAM does not know (a handler lists some, such as s3:DeleteBucketLifecycle)."""
    service, name = action.split(":")
    known = iam_reference()[service]["Actions"].get(name.lower())
    return None if known is None else list(known.get("Resources", []))


# The resources a deployment with SourceBucketAccount adds, under the ARNs CloudFormation gives them in the
# README's account and region (a generated name is the stack's, the logical id's and a random suffix).
CENTRAL_DEPLOYMENT = deployed(transformed(), REQUIRED_PARAMETERS | CENTRAL)["Resources"]
ACCOUNT = "arn:aws:{service}:eu-west-1:123456789012"


@pytest.fixture
def central_arns() -> dict[str, str]:
    stack = README_NAMES.stack
    bus = CENTRAL_DEPLOYMENT["CentralEventBus"]["Properties"]["Name"]
    queue = f"{ACCOUNT.format(service='sqs')}:{stack}-CentralRuleDeadLetterQueue-1A2B3C4D5E6F"
    alarm = CENTRAL_DEPLOYMENT["CentralRuleDeadLettersAlarm"]["Properties"]["AlarmName"]
    arns = {
        "CentralEventBus": f"{ACCOUNT.format(service='events')}:event-bus/{bus}",
        "CentralEventBusPolicy": f"{ACCOUNT.format(service='events')}:event-bus/{bus}",
        "CentralBucketObjectCreated": f"{ACCOUNT.format(service='events')}:rule/{bus}/{stack}-CentralBucketObj-1A2B3C",
        "CentralRuleDeadLetterQueue": queue,
        "CentralRuleDeadLetterQueuePolicy": queue,
        "CentralRuleDeadLettersAlarm": f"{ACCOUNT.format(service='cloudwatch')}:alarm:{alarm}",
        "TriggerFunctionAssumesPipelineStarters": f"arn:aws:iam::123456789012:role/{stack}-TriggerFunctionRole-1A2B3C",
    }
    added = set(CENTRAL_DEPLOYMENT) - set(
        deployed(transformed(), REQUIRED_PARAMETERS | COMBINATIONS["routes"])["Resources"]
    )
    assert set(arns) == added, "a central resource without its ARN here"
    return arns


def allowed_actions(document: dict[str, Any]) -> set[str]:
    return {action for statement in document["Statement"] for action in statement["Action"]}


def needed_actions() -> set[str]:
    needed = set()
    for _, resource_type, _ in resources():
        if resource_type.startswith("Custom::"):
            continue
        for permissions in handler_permissions(resource_type).values():
            needed |= permissions - not_needed_for(resource_type)
    return needed


def not_needed_for(resource_type: str) -> set[str]:
    return {action for entry in NOT_NEEDED if entry.resource_type == resource_type for action in entry.actions}


def test_the_shipped_policy_is_the_one_for_the_readmes_names() -> None:
    shipped = (ROOT / "docs" / "deployer-policy.json").read_text(encoding="utf-8")

    assert shipped == render(README_NAMES)


def test_every_handler_permission_the_resources_need_is_allowed() -> None:
    missing = needed_actions() - allowed_actions(policy(README_NAMES))

    assert not missing


def test_nothing_is_allowed_that_no_handler_or_sam_cli_needs() -> None:
    extra = allowed_actions(policy(README_NAMES)) - needed_actions() - SAM_CLI_ACTIONS

    assert not extra


def test_each_left_out_permission_serves_a_feature_no_resource_uses() -> None:
    problems = []
    for entry in NOT_NEEDED:
        unknown = entry.actions - set().union(*handler_permissions(entry.resource_type).values())
        users = [where for where, kind, props in resources() if kind == entry.resource_type and not entry.unused(props)]
        if unknown:
            problems.append(f"{entry.resource_type} {entry.feature}: stale, the schema lists no {sorted(unknown)}")
        if users:
            problems.append(f"{users} use {entry.feature}: allow {sorted(entry.actions)}")

    assert not problems


def test_only_list_calls_creating_a_key_the_functions_own_mapping_and_the_bus_policy_have_an_unscoped_resource() -> (
    None
):
    unscoped = [s for s in policy(README_NAMES)["Statement"] if "*" in s["Resource"]]

    # CreateKey and CreateEventSourceMapping name no resource: the key's or mapping's id exists only once created.
    assert [set(s["Action"]) for s in unscoped] == [
        {"lambda:CreateEventSourceMapping"},
        {"events:PutPermission", "events:RemovePermission"},
        {"logs:DescribeLogGroups", "logs:DescribeResourcePolicies"},
        {"kms:CreateKey"},
    ]
    assert unscoped[0]["Condition"] == {
        "ArnLike": {"lambda:FunctionArn": "arn:aws:lambda:*:*:function:s3-pipeline-trigger-*"}
    }


def test_an_action_is_unscoped_only_where_iam_knows_no_resource_for_it() -> None:
    unscoped = {a for s in policy(README_NAMES)["Statement"] if "*" in s["Resource"] for a in s["Action"]}

    assert {a for a in unscoped if resource_types(a)} == set()


def test_the_central_resources_are_allowed_by_name(central_arns: dict[str, str]) -> None:
    statements = policy(README_NAMES)["Statement"]
    refused = []
    for logical_id, arn in central_arns.items():
        resource_type = CENTRAL_DEPLOYMENT[logical_id]["Type"]
        actions = set().union(*handler_permissions(resource_type).values()) - not_needed_for(resource_type)
        for action in sorted(actions):
            resource = arn if resource_types(action) else "*"
            if not allows(statements, action, resource):
                refused.append(f"{logical_id}: {action} on {resource}")

    assert not refused


def test_the_central_resources_of_another_stack_are_not_allowed(central_arns: dict[str, str]) -> None:
    statements = policy(README_NAMES)["Statement"]
    # The same resources, named after a stack the deployer does not own.
    others = {i: arn.replace("s3-pipeline-trigger", "billing") for i, arn in central_arns.items()}

    for logical_id, arn in others.items():
        resource_type = CENTRAL_DEPLOYMENT[logical_id]["Type"]
        actions = set().union(*handler_permissions(resource_type).values()) - not_needed_for(resource_type)
        assert not [a for a in actions if resource_types(a) and allows(statements, a, arn)], logical_id


def test_the_queue_mapping_is_managed_only_for_the_stacks_functions() -> None:
    mapping = [s for s in policy(README_NAMES)["Statement"] if any("EventSourceMapping" in a for a in s["Action"])]

    assert {a for s in mapping for a in s["Action"]} == {
        "lambda:CreateEventSourceMapping",
        "lambda:DeleteEventSourceMapping",
        "lambda:GetEventSourceMapping",
        "lambda:UpdateEventSourceMapping",
    }
    for statement in mapping:
        assert statement["Condition"] == {
            "ArnLike": {"lambda:FunctionArn": "arn:aws:lambda:*:*:function:s3-pipeline-trigger-*"}
        }


def test_the_key_actions_cannot_disable_a_key_or_its_rotation() -> None:
    key_actions = {a for s in policy(README_NAMES)["Statement"] for a in s["Action"] if a.startswith("kms:")}

    assert not key_actions & {"kms:DisableKey", "kms:DisableKeyRotation", "kms:Decrypt", "kms:CreateGrant"}


def test_resources_are_scoped_to_the_stack_its_bucket_and_its_pipeline() -> None:
    names = Names(stack="release-triggers", source_bucket="acme-releases", example_pipeline="site-deploy")
    resources_by_sid = {s["Sid"]: s["Resource"] for s in policy(names)["Statement"]}

    assert "arn:aws:s3:::acme-releases" in resources_by_sid["CreateAndConfigureTheBuckets"]
    assert "arn:aws:s3:::release-triggers-example*" in resources_by_sid["CreateAndConfigureTheBuckets"]
    assert resources_by_sid["TheFunctions"] == ["arn:aws:lambda:*:*:function:release-triggers-*"]
    assert resources_by_sid["TheExamplePipeline"] == ["arn:aws:codepipeline:*:*:site-deploy"]
    # The names the template gives its resources fall under those patterns.
    function_names = ["release-triggers-trigger", "release-triggers-bucket-adopter"]
    assert all(
        fnmatch.fnmatch(f"arn:aws:lambda:eu-west-1:1:function:{n}", resources_by_sid["TheFunctions"][0])
        for n in function_names
    )


def test_roles_can_be_passed_only_to_lambda_and_codepipeline() -> None:
    (passing,) = [s for s in policy(README_NAMES)["Statement"] if "iam:PassRole" in s["Action"]]

    assert passing["Action"] == ["iam:PassRole"]
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": ["lambda.amazonaws.com", "codepipeline.amazonaws.com"]}
    }


def test_the_defaults_are_the_saved_answers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    samconfig = project_with_samconfig(tmp_path)
    save_as_guided(
        samconfig,
        stack_name="release-triggers",
        region="eu-west-1",
        parameters={"SourceBucketName": "acme-releases", "PipelineName": "site-deploy"},
    )
    capsys.readouterr()  # what SAM printed while saving

    assert deployer_policy.main([], samconfig=samconfig) == 0
    assert capsys.readouterr().out == render(Names("release-triggers", "acme-releases", "site-deploy"))


def test_a_broken_samconfig_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text("[default\n")

    assert deployer_policy.main([], samconfig=samconfig) == 2
    err = capsys.readouterr().err
    assert err.startswith("make deployer-policy: samconfig.toml is not valid TOML (")
    assert err.count("\n") == 1
