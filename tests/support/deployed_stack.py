"""A deployed trigger stack on moto, as far as the operator tools read one: stack outputs, function, bucket, pipeline,
and the template's alarms with their topic."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import boto3
from moto.backends import get_backend

from local.example_pipeline import create_s3_source_pipeline
from local.sam_transform import transformed
from ops.template_model import REQUIRED_PARAMETERS, deployed
from support.environment import one_route
from trigger_fn.settings import load_settings

REGION = "eu-west-1"
BUCKET = "my-artifact-bucket"
KEY = "my-website.zip"
PIPELINE = "my-website-pipeline"
STACK = "s3-pipeline-trigger"
FUNCTION = "s3-pipeline-trigger-TriggerFunction-Q1w2E3r4"
# The trigger function's environment as the template sets it.
FUNCTION_ENV = {
    "SOURCE_BUCKET": BUCKET,
    **one_route(KEY, PIPELINE, sourceAction="Source", overrideKey=False),
    "DRY_RUN": "false",
    "POWERTOOLS_SERVICE_NAME": "s3-pipeline-trigger",
}


def deploy(session: boto3.Session, environment: dict[str, str], *, versioned: bool = True) -> list[str]:
    """What `sam deploy` leaves behind, as far as `make start` reads it: stack output, function, bucket, pipeline."""
    s3 = session.client("s3")
    iam = session.client("iam")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    if versioned:
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    versions = [s3.put_object(Bucket=BUCKET, Key=KEY, Body=body).get("VersionId") for body in (b"v1", b"v2")]
    # CodePipeline refuses an S3_OBJECT_KEY revision unless the source action allows it: set up as the routes need.
    override = any(r.override_key for r in load_settings(environment).routes if r.pipeline == PIPELINE)
    create_s3_source_pipeline(
        codepipeline=session.client("codepipeline"),
        iam=iam,
        s3=s3,
        name=PIPELINE,
        source_bucket=BUCKET,
        object_key=KEY,
        allow_key_override=override,
    )
    role = iam.create_role(RoleName="trigger-role", AssumeRolePolicyDocument=json.dumps({}))["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("trigger_fn/handler.py", "def lambda_handler(event, context):\n    return None\n")
    # Created, never invoked: moto needs no Docker for that.
    session.client("lambda").create_function(
        FunctionName=FUNCTION,
        Runtime="python3.13",
        Role=role,
        Handler="trigger_fn.handler.lambda_handler",
        Code={"ZipFile": code.getvalue()},
        Environment={"Variables": environment},
    )
    create_stack(session, {"TriggerFunctionName": FUNCTION})
    return [version for version in versions if version]


def create_stack(session: boto3.Session, outputs: dict[str, str], name: str = STACK) -> None:
    """A stack with these outputs: what the operator tools read of a deployed one."""
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {output: {"Value": value} for output, value in outputs.items()},
    }
    session.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))


ACCOUNT = "123456789012"
ALARM_EMAIL = "ops@example.com"
# The name CloudFormation gives the template's AlarmTopic (stack, logical id, random suffix).
ALARM_TOPIC = f"{STACK}-AlarmTopic-Z9y8X7w6"


def deploy_alarms(
    session: boto3.Session, alarm_email: str = ALARM_EMAIL, topic_key: str | None = None
) -> dict[str, str]:
    """The template's alarms, and with an address its topic and subscription, as the template defines them for these
    parameters (moto's CloudFormation creates no alarms). Returns the AlarmNames output that lists them.

    The topic is encrypted with a key made here, or with `topic_key` (an older stack's alias/aws/sns, say).
    """
    template = deployed(transformed(), REQUIRED_PARAMETERS | {"AlarmEmail": alarm_email})
    topics = {}
    if alarm_email:
        key = topic_key or session.client("kms").create_key(Description="alarm topic")["KeyMetadata"]["Arn"]
        sns = session.client("sns")
        topic_arn = sns.create_topic(Name=ALARM_TOPIC, Attributes={"KmsMasterKeyId": key})["TopicArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="email", Endpoint=alarm_email)
        topics["<AlarmTopic>"] = topic_arn
    cloudwatch = session.client("cloudwatch")
    names = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            cloudwatch.put_metric_alarm(**_alarm_request(resource["Properties"], topics))
            names[f"<{logical_id}>"] = resource["Properties"]["AlarmName"]
    return {"AlarmNames": ",".join(names[ref] for ref in template["Outputs"]["AlarmNames"].split(","))}


def _alarm_request(alarm: dict[str, Any], topics: dict[str, str]) -> dict[str, Any]:
    request = {name: alarm[name] for name in alarm if name not in {"AlarmActions", "OKActions", "Dimensions"}}
    # Queue and function names are CloudFormation's to choose; the alarm's metric does not matter here.
    request["Dimensions"] = [{"Name": d["Name"], "Value": str(d["Value"]).strip("<>")} for d in alarm["Dimensions"]]
    for actions in ("AlarmActions", "OKActions"):
        if actions in alarm:
            request[actions] = [topics[target] for target in alarm[actions]]
    return request


def alarm_states(name: str, region: str = REGION) -> list[tuple[str, str]]:
    """(state, reason) of every state the alarm has been in, oldest first.

    moto does not implement DescribeAlarmHistory; its alarm keeps each state it left (moto's Alarm.update_state).
    """
    alarm = get_backend("cloudwatch")[ACCOUNT][region].alarms[name]
    left = [(state, reason) for _kind, reason, _data, state, _when in alarm.history]
    return [*left, (alarm.state_value, alarm.state_reason)]


def leave_unconfirmed(topic_arn: str, region: str = REGION) -> None:
    """As AWS lists an e-mail subscription nobody confirmed yet: SubscriptionArn `PendingConfirmation`.

    moto confirms every subscription at once.
    """
    for subscription in get_backend("sns")[ACCOUNT][region].subscriptions.values():
        if subscription.topic.arn == topic_arn:
            subscription.arn = "PendingConfirmation"
