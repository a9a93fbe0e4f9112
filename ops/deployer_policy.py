"""The least-privilege IAM policy for whoever runs `make deploy` and `sam delete`, for one stack's names.

    make deployer-policy [STACK=name] [BUCKET=source-bucket] [PIPELINE=example-pipeline]

CloudFormation creates, updates and deletes the stack's resources with the caller's own permissions, so the
deployer needs every action the resource types' handlers call (their CloudFormation schemas list them) for the
features the template uses, and SAM CLI's own calls (change sets, the managed artifact bucket). Names the stack
derives from its own name are matched by prefix: functions `STACK-trigger`, roles, queues, alarms and the rule
`STACK-LogicalId-...`, log groups `/aws/lambda/STACK-...`; the source bucket and example pipeline by their names;
the queue's event source mapping (a random id) by the function it feeds (`lambda:FunctionArn`); with
SourceBucketAccount, the bus `STACK-artifacts` and the rules on it (its queue and alarm are named like the others).
The alarm topic's KMS key has no name to match (KMS gives keys random ids): its actions match `key/*`, and only those
CloudFormation needs to create, rotate, update and delete it (never DisableKey or DisableKeyRotation).
docs/deployer-policy.json is this policy for the README's names; tests check both against the template.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops.deploy_config import SAMCONFIG, ConfigError, read_target

# `sam deploy --resolve-s3` keeps the build in one bucket per account and region, made by this stack.
SAM_MANAGED_STACK = "aws-sam-cli-managed-default"
SAM_ARTIFACT_BUCKETS = "aws-sam-cli-managed-default-samclisourcebucket-*"
SAM_TRANSFORM = "arn:aws:cloudformation:*:aws:transform/Serverless-2016-10-31"

# Bucket creation and configuration, for every bucket a stack here creates (handlers of AWS::S3::Bucket and
# AWS::S3::BucketPolicy, for the properties the templates set).
BUCKET_ACTIONS = (
    "s3:CreateBucket",
    "s3:DeleteBucket",
    "s3:DeleteBucketEncryption",
    "s3:DeleteBucketLifecycle",
    "s3:DeleteBucketPolicy",
    "s3:DeleteObject",
    "s3:GetBucketAcl",
    "s3:GetBucketMetadataTableConfiguration",
    "s3:GetBucketPolicy",
    "s3:ListBucket",
    "s3:PutBucketNotification",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketPolicy",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketTagging",
    "s3:PutBucketVersioning",
    "s3:PutEncryptionConfiguration",
    "s3:PutLifecycleConfiguration",
    "s3:TagResource",
    "s3:UntagResource",
)


@dataclass(frozen=True)
class Names:
    stack: str
    source_bucket: str
    example_pipeline: str


README_NAMES = Names(
    stack="s3-pipeline-trigger", source_bucket="my-artifact-bucket", example_pipeline="my-website-pipeline"
)


def statements(names: Names) -> list[dict[str, Any]]:
    stack = names.stack
    # CloudFormation names generated buckets after the stack, in lowercase.
    example_buckets = f"arn:aws:s3:::{stack.lower()}-example*"
    central_bus = f"{stack}-artifacts"
    return [
        _allow(
            "DeployAndDeleteTheStacks",
            [
                "cloudformation:CreateChangeSet",
                "cloudformation:DeleteChangeSet",
                "cloudformation:DeleteStack",
                "cloudformation:DescribeChangeSet",
                "cloudformation:DescribeStackEvents",
                "cloudformation:DescribeStacks",
                "cloudformation:ExecuteChangeSet",
                "cloudformation:GetTemplate",
                "cloudformation:GetTemplateSummary",
            ],
            [
                f"arn:aws:cloudformation:*:*:stack/{stack}/*",
                f"arn:aws:cloudformation:*:*:stack/{SAM_MANAGED_STACK}/*",
            ],
        ),
        # sam delete looks for image-repository companion stacks (STACK-<hash>-...); it only reads them.
        _allow(
            "FindTheCompanionStacks",
            ["cloudformation:DescribeStacks"],
            [f"arn:aws:cloudformation:*:*:stack/{stack}-*/*"],
        ),
        _allow("UseTheServerlessTransform", ["cloudformation:CreateChangeSet"], [SAM_TRANSFORM]),
        # sam deploy uploads the build, Lambda's handler reads it as the caller, sam delete removes it.
        _allow(
            "TheBuildInTheArtifactBucket",
            ["s3:DeleteObject", "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
            [f"arn:aws:s3:::{SAM_ARTIFACT_BUCKETS}/*"],
        ),
        _allow(
            "CreateAndConfigureTheBuckets",
            list(BUCKET_ACTIONS),
            [f"arn:aws:s3:::{SAM_ARTIFACT_BUCKETS}", f"arn:aws:s3:::{names.source_bucket}", example_buckets],
        ),
        _allow(
            "TheQueues",
            [
                "sqs:CreateQueue",
                "sqs:DeleteQueue",
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
                "sqs:ListQueueTags",
                "sqs:SetQueueAttributes",
                "sqs:TagQueue",
                "sqs:UntagQueue",
            ],
            [f"arn:aws:sqs:*:*:{stack}-*"],
        ),
        _allow(
            "TheFunctions",
            [
                "lambda:AssociateRuntimeAlias",
                "lambda:CreateFunction",
                "lambda:DeleteFunction",
                "lambda:DeleteFunctionCodeSigningConfig",
                "lambda:DeleteFunctionConcurrency",
                "lambda:GetCodeSigningConfig",
                "lambda:GetFunction",
                "lambda:GetFunctionCodeSigningConfig",
                "lambda:GetFunctionRecursionConfig",
                "lambda:GetRuntimeManagementConfig",
                # CloudFormation invokes the bucket adopter (a custom resource) as the caller.
                "lambda:InvokeFunction",
                "lambda:TagResource",
                "lambda:UntagResource",
                "lambda:UpdateFunctionCode",
                "lambda:UpdateFunctionConfiguration",
            ],
            [f"arn:aws:lambda:*:*:function:{stack}-*"],
        ),
        # Lambda names a mapping by a random id: the function it feeds (lambda:FunctionArn) is what is matched.
        # CreateEventSourceMapping takes no resource (the mapping does not exist yet); the others take the mapping.
        _allow(
            "CreateTheQueueMappingOfTheFunction",
            ["lambda:CreateEventSourceMapping"],
            ["*"],
            {"ArnLike": {"lambda:FunctionArn": f"arn:aws:lambda:*:*:function:{stack}-*"}},
        ),
        _allow(
            "TheQueueMappingOfTheFunction",
            ["lambda:DeleteEventSourceMapping", "lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping"],
            ["arn:aws:lambda:*:*:event-source-mapping:*"],
            {"ArnLike": {"lambda:FunctionArn": f"arn:aws:lambda:*:*:function:{stack}-*"}},
        ),
        _allow(
            "TheRoles",
            [
                "iam:CreateRole",
                "iam:DeleteRole",
                "iam:DeleteRolePolicy",
                "iam:GetRole",
                "iam:GetRolePolicy",
                "iam:ListAttachedRolePolicies",
                "iam:ListRolePolicies",
                "iam:PutRolePolicy",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:UpdateRole",
                "iam:UpdateRoleDescription",
            ],
            [f"arn:aws:iam::*:role/{stack}-*"],
        ),
        _allow(
            "PassTheRolesToLambdaAndCodePipelineOnly",
            ["iam:PassRole"],
            [f"arn:aws:iam::*:role/{stack}-*"],
            {"StringEquals": {"iam:PassedToService": ["lambda.amazonaws.com", "codepipeline.amazonaws.com"]}},
        ),
        _allow(
            "TheRule",
            [
                "events:DeleteRule",
                "events:DescribeRule",
                "events:ListTargetsByRule",
                "events:PutRule",
                "events:PutTargets",
                "events:RemoveTargets",
                "events:TagResource",
                "events:UntagResource",
            ],
            # The default bus's rules, and those on the stack's own bus (a central bucket's, SourceBucketAccount).
            [f"arn:aws:events:*:*:rule/{stack}-*", f"arn:aws:events:*:*:rule/{central_bus}/*"],
        ),
        _allow(
            "TheCentralBus",
            [
                "events:CreateEventBus",
                "events:DeleteEventBus",
                "events:DescribeEventBus",
                "events:ListTagsForResource",
                "events:TagResource",
                "events:UntagResource",
                "events:UpdateEventBus",
            ],
            [f"arn:aws:events:*:*:event-bus/{central_bus}"],
        ),
        # The bus policy's PutPermission and RemovePermission take no resource in IAM (the service authorization
        # reference lists no resource type and no condition key for them): they can only be allowed on `*`.
        _allow("TheCentralBusPolicy", ["events:PutPermission", "events:RemovePermission"], ["*"]),
        _allow(
            "TheLogGroups",
            [
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:DeleteRetentionPolicy",
                "logs:DescribeIndexPolicies",
                "logs:GetDataProtectionPolicy",
                "logs:ListTagsForResource",
                "logs:PutRetentionPolicy",
                "logs:TagResource",
                "logs:UntagResource",
            ],
            [f"arn:aws:logs:*:*:log-group:/aws/lambda/{stack}-*"],
        ),
        # Account-wide list calls of the log group handler: they take no log group name.
        _allow("ListLogGroupsAndPolicies", ["logs:DescribeLogGroups", "logs:DescribeResourcePolicies"], ["*"]),
        _allow(
            "TheAlarms",
            [
                "cloudwatch:DeleteAlarms",
                "cloudwatch:DescribeAlarms",
                "cloudwatch:ListTagsForResource",
                "cloudwatch:PutMetricAlarm",
                "cloudwatch:TagResource",
                "cloudwatch:UntagResource",
            ],
            [f"arn:aws:cloudwatch:*:*:alarm:{stack}-*"],
        ),
        _allow(
            "TheDashboard",
            [
                "cloudwatch:DeleteDashboards",
                "cloudwatch:GetDashboard",
                "cloudwatch:ListTagsForResource",
                "cloudwatch:PutDashboard",
                "cloudwatch:TagResource",
                "cloudwatch:UntagResource",
            ],
            [f"arn:aws:cloudwatch::*:dashboard/{stack}-*"],
        ),
        _allow(
            "TheAlarmTopic",
            [
                "sns:CreateTopic",
                "sns:DeleteTopic",
                "sns:GetDataProtectionPolicy",
                "sns:GetTopicAttributes",
                "sns:ListSubscriptionsByTopic",
                "sns:ListTagsForResource",
                "sns:SetTopicAttributes",
                "sns:Subscribe",
                "sns:TagResource",
                "sns:Unsubscribe",
                "sns:UntagResource",
            ],
            [f"arn:aws:sns:*:*:{stack}-*"],
        ),
        # KMS names a key by a random id: CreateKey has no resource yet, and the alarm topic's key matches `key/*`.
        _allow("CreateTheAlarmTopicKey", ["kms:CreateKey"], ["*"]),
        _allow(
            "TheAlarmTopicKey",
            [
                "kms:DescribeKey",
                "kms:EnableKeyRotation",
                "kms:ListResourceTags",
                "kms:PutKeyPolicy",
                "kms:ScheduleKeyDeletion",
                "kms:TagResource",
                "kms:UntagResource",
                "kms:UpdateKeyDescription",
            ],
            ["arn:aws:kms:*:*:key/*"],
        ),
        _allow(
            "TheExamplePipeline",
            [
                "codepipeline:CreatePipeline",
                "codepipeline:DeletePipeline",
                "codepipeline:DisableStageTransition",
                "codepipeline:EnableStageTransition",
                "codepipeline:GetPipeline",
                "codepipeline:GetPipelineState",
                "codepipeline:StartPipelineExecution",
                "codepipeline:TagResource",
                "codepipeline:UntagResource",
                "codepipeline:UpdatePipeline",
            ],
            [f"arn:aws:codepipeline:*:*:{names.example_pipeline}"],
        ),
    ]


def policy(names: Names) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements(names)}


def render(names: Names) -> str:
    return json.dumps(policy(names), indent=2) + "\n"


def _allow(
    sid: str, actions: list[str], resources: list[str], condition: dict[str, Any] | None = None
) -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return statement


def main(argv: Sequence[str] | None = None, *, samconfig: Path = SAMCONFIG) -> int:
    try:
        target = read_target(samconfig)
    except ConfigError as problem:
        print(f"make deployer-policy: {problem}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="make deployer-policy", description=__doc__.splitlines()[0])
    parser.add_argument("--stack-name", default=target.stack_name or README_NAMES.stack)
    parser.add_argument("--bucket", default=target.parameters.get("SourceBucketName") or README_NAMES.source_bucket)
    parser.add_argument("--pipeline", default=target.parameters.get("PipelineName") or README_NAMES.example_pipeline)
    args = parser.parse_args(argv)
    sys.stdout.write(render(Names(args.stack_name, args.bucket, args.pipeline)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
