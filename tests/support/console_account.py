"""An account with the pipelines `make migrate` meets, built through the real APIs (moto in tests).

- console-pipeline: what the console's S3 source wizard leaves: PollForSourceChanges false, a CloudTrail-based
  EventBridge rule targeting the pipeline (the pattern from CodePipeline's guide), and a trail logging the
  key's write data events.
- polling-pipeline: an older pipeline without PollForSourceChanges, so CodePipeline polls.
- migrated-pipeline: already moved: polling off, and a deployed stack of this project routes its key to it.
- two-source-pipeline: two S3 source actions on one bucket, both polled.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from moto.s3.models import s3_backends

from local.moto_path import function_environment

REGION = "eu-west-1"
ACCOUNT_ID = "123456789012"
CONSOLE = "console-pipeline"
POLLING = "polling-pipeline"
MIGRATED = "migrated-pipeline"
TWO_SOURCES = "two-source-pipeline"
CONSOLE_RULE = "console-pipeline-source-rule"
CONSOLE_TRAIL = "console-source-trail"
TRIGGER_STACK = "s3-pipeline-trigger"
TRIGGER_FUNCTION = "s3-pipeline-trigger-trigger"
TRAIL_LOGS_BUCKET = "console-trail-logs"

CODEPIPELINE_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "codepipeline.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


@dataclass(frozen=True)
class Source:
    bucket: str
    key: str
    action: str = "Source"
    # Configuration fields beside S3Bucket and S3ObjectKey, e.g. {"PollForSourceChanges": "false"}.
    extra: dict[str, str] = field(default_factory=dict)


def console_rule_pattern(bucket: str, key: str) -> dict[str, Any]:
    """The event pattern of CodePipeline's guide for an S3 source through CloudTrail."""
    return {
        "source": ["aws.s3"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {
            "eventSource": ["s3.amazonaws.com"],
            "eventName": ["PutObject", "CompleteMultipartUpload", "CopyObject"],
            "requestParameters": {"bucketName": [bucket], "key": [key]},
        },
    }


def create_bucket(session: Any, name: str, *, versioned: bool = True, eventbridge: bool = False) -> None:
    s3 = session.client("s3")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    if eventbridge:
        s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )


def create_pipeline(session: Any, name: str, sources: Sequence[Source]) -> str:
    """A V2 pipeline: one source stage with these S3 actions, one deploy stage; returns its ARN."""
    iam, s3 = session.client("iam"), session.client("s3")
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(CODEPIPELINE_TRUST))["Role"][
        "Arn"
    ]
    store = f"{name}-store"
    s3.create_bucket(Bucket=store, CreateBucketConfiguration={"LocationConstraint": REGION})
    actions = [
        {
            "name": source.action,
            "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
            "configuration": {"S3Bucket": source.bucket, "S3ObjectKey": source.key, **source.extra},
            "outputArtifacts": [{"name": f"{source.action}Output"}],
        }
        for source in sources
    ]
    deploy = {
        "name": "Publish",
        "actionTypeId": {"category": "Deploy", "owner": "AWS", "provider": "S3", "version": "1"},
        "configuration": {"BucketName": f"{name}-site", "Extract": "true"},
        "inputArtifacts": [{"name": f"{sources[0].action}Output"}],
    }
    codepipeline = session.client("codepipeline")
    codepipeline.create_pipeline(
        pipeline={
            "name": name,
            "roleArn": role,
            "pipelineType": "V2",
            "artifactStore": {"type": "S3", "location": store},
            "stages": [{"name": "Source", "actions": actions}, {"name": "Deploy", "actions": [deploy]}],
        }
    )
    arn: str = codepipeline.get_pipeline(name=name)["metadata"]["pipelineArn"]
    return arn


def add_console_rule(session: Any, name: str, pipeline_arn: str, bucket: str, key: str) -> None:
    events = session.client("events")
    events.put_rule(Name=name, EventPattern=json.dumps(console_rule_pattern(bucket, key)), State="ENABLED")
    events.put_targets(Rule=name, Targets=[{"Id": "codepipeline", "Arn": pipeline_arn}])


def add_console_trail(session: Any, name: str, bucket: str, key: str) -> None:
    """A trail logging write data events of exactly this key, as the console's wizard sets one up."""
    create_bucket(session, TRAIL_LOGS_BUCKET, versioned=False)
    cloudtrail = session.client("cloudtrail")
    cloudtrail.create_trail(Name=name, S3BucketName=TRAIL_LOGS_BUCKET)
    cloudtrail.put_event_selectors(
        TrailName=name,
        EventSelectors=[
            {
                "ReadWriteType": "WriteOnly",
                "IncludeManagementEvents": False,
                "DataResources": [{"Type": "AWS::S3::Object", "Values": [f"arn:aws:s3:::{bucket}/{key}"]}],
            }
        ],
    )
    cloudtrail.start_logging(Name=name)


def deploy_trigger_stack(session: Any, stack_name: str, function_name: str, parameters: dict[str, str]) -> None:
    """What `sam deploy` leaves that `make migrate` reads: the stack's parameters and output, and the function
    with the environment the template gives it for those parameters."""
    role = session.client("iam").create_role(RoleName=f"{stack_name}-role", AssumeRolePolicyDocument="{}")["Role"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("trigger_fn/handler.py", "def lambda_handler(event, context):\n    return None\n")
    # Created, never invoked: moto needs no Docker for that.
    session.client("lambda").create_function(
        FunctionName=function_name,
        Runtime="python3.13",
        Role=role["Arn"],
        Handler="trigger_fn.handler.lambda_handler",
        Code={"ZipFile": code.getvalue()},
        Environment={"Variables": function_environment(parameters)},
    )
    template = {
        "Parameters": {name: {"Type": "String"} for name in parameters},
        "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {"TriggerFunctionName": {"Value": function_name}},
    }
    session.client("cloudformation").create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": name, "ParameterValue": value} for name, value in parameters.items()],
    )


def build_console_account(session: Any) -> None:
    """The four pipelines of the module docstring, with their buckets, rule, trail and trigger stack."""
    create_bucket(session, "console-artifacts")
    arn = create_pipeline(session, CONSOLE, [Source("console-artifacts", "release.zip", extra=_NO_POLLING)])
    add_console_rule(session, CONSOLE_RULE, arn, "console-artifacts", "release.zip")
    add_console_trail(session, CONSOLE_TRAIL, "console-artifacts", "release.zip")

    create_bucket(session, "legacy-artifacts")
    create_pipeline(session, POLLING, [Source("legacy-artifacts", "app.zip")])

    create_bucket(session, "my-artifact-bucket", eventbridge=True)
    create_pipeline(session, MIGRATED, [Source("my-artifact-bucket", "my-website.zip", extra=_NO_POLLING)])
    deploy_trigger_stack(
        session,
        TRIGGER_STACK,
        TRIGGER_FUNCTION,
        {
            "SourceBucketName": "my-artifact-bucket",
            "CreateSourceBucket": "false",
            "ObjectKey": "my-website.zip",
            "PipelineName": MIGRATED,
        },
    )

    create_bucket(session, "build-artifacts")
    create_pipeline(
        session,
        TWO_SOURCES,
        [
            Source("build-artifacts", "app.zip", action="App", extra={"PollForSourceChanges": "true"}),
            Source("build-artifacts", "config/settings.zip", action="Config"),
        ],
    )


_NO_POLLING = {"PollForSourceChanges": "false"}


def read_back_eventbridge(s3_client: Any) -> Any:
    """moto keeps a bucket's EventBridgeConfiguration but leaves it out of GetBucketNotificationConfiguration;
    this hook adds it back from moto's own record, so the client answers as S3 does."""

    def add_eventbridge(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if "Error" in parsed:  # a failed call (no such bucket, say) keeps S3's own error
            return
        bucket = s3_backends[ACCOUNT_ID]["aws"].get_bucket(context["input_params"]["Bucket"])
        configuration = bucket.notification_configuration
        if configuration is not None and configuration.event_bridge is not None:
            parsed["EventBridgeConfiguration"] = {}

    s3_client.meta.events.register("after-call.s3.GetBucketNotificationConfiguration", add_eventbridge)
    return s3_client
