"""The native path in one process on moto: S3 (EventBridge on) → the template's rule → SQS tap → handler → pipeline.

moto cannot run the function behind a Lambda target without Docker, so the rule delivers to an SQS queue and the
handler is called with exactly what arrived there; everything else is the real API surface.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from moto import mock_aws

from local.example_pipeline import create_s3_source_pipeline
from local.lambda_context import LocalLambdaContext
from local.sam_transform import transformed
from ops.template_model import REQUIRED_PARAMETERS, deployed

REGION = "eu-west-1"


@dataclass
class MotoStack:
    parameters: dict[str, str]
    s3: Any
    events: Any
    sqs: Any
    codepipeline: Any
    tap_url: str
    rule_pattern: dict[str, Any]

    @property
    def bucket(self) -> str:
        return self.parameters["SourceBucketName"]

    def upload(self, key: str, body: bytes) -> str:
        """Put an object as `aws s3 cp` would; returns its version id."""
        version: str = self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)["VersionId"]
        return version

    def run_function(self, event: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """The handler on `event` with this stack's moto clients: its result, and what it printed (logs, EMF).

        Call use_function_environment first: the handler reads its settings when it is first imported.
        """
        from trigger_fn import handler
        from trigger_fn.clients import AwsClients

        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            clients = AwsClients(self.codepipeline, s3=self.s3)
            result: dict[str, Any] = handler.lambda_handler(event, LocalLambdaContext(), clients=clients)
        return result, printed.getvalue()

    def delivered_events(self) -> list[dict[str, Any]]:
        """Every event the rule delivered since the last call."""
        events = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.tap_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = batch.get("Messages", [])
            if not messages:
                return events
            for message in messages:
                events.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.tap_url, ReceiptHandle=message["ReceiptHandle"])


def function_environment(parameters: dict[str, str]) -> dict[str, str]:
    """The environment the template gives the function for these parameters."""
    resources = deployed(transformed(), parameters)["Resources"]
    variables: dict[str, str] = resources["TriggerFunction"]["Properties"]["Environment"]["Variables"]
    return {name: str(value) for name, value in variables.items()}


@contextmanager
def moto_stack(**overrides: str) -> Iterator[MotoStack]:
    parameters = REQUIRED_PARAMETERS | overrides
    resources = deployed(transformed(), parameters)["Resources"]
    pattern: dict[str, Any] = resources["TriggerFunctionObjectCreated"]["Properties"]["EventPattern"]
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        events = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        codepipeline = boto3.client("codepipeline", region_name=REGION)
        bucket = parameters["SourceBucketName"]
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        tap_url = sqs.create_queue(QueueName="rule-tap")["QueueUrl"]
        tap_arn = sqs.get_queue_attributes(QueueUrl=tap_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="trigger-rule", EventPattern=json.dumps(pattern))
        events.put_targets(Rule="trigger-rule", Targets=[{"Id": "tap", "Arn": tap_arn}])
        if "PipelineName" in parameters and not parameters.get("Routes"):
            create_s3_source_pipeline(
                codepipeline=codepipeline,
                iam=boto3.client("iam", region_name=REGION),
                s3=s3,
                name=parameters["PipelineName"],
                source_bucket=bucket,
                object_key=parameters.get("ObjectKey", "my-website.zip"),
                allow_key_override=parameters.get("OverrideObjectKey") == "true",
            )
        yield MotoStack(parameters, s3, events, sqs, codepipeline, tap_url, pattern)


def use_function_environment(parameters: dict[str, str], *, log_level: str | None = None) -> None:
    """Set the function's environment before its handler module is imported (it reads settings at import).

    moto answers in-process; dummy credentials keep any real ones out of the way. `log_level` quiets the
    function's own JSON lines where a demo prints its steps.
    """
    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}
    )
    os.environ.update(function_environment(REQUIRED_PARAMETERS | parameters))
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    if log_level is not None:
        os.environ["POWERTOOLS_LOG_LEVEL"] = log_level
