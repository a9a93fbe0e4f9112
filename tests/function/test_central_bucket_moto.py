"""Three accounts on moto: an upload to the central bucket (source account) starts the pipeline of a third account,
pinned to the uploaded version, through the trigger account's function.

moto switches account on the credentials AssumeRole hands out (moto's "Multi-Account support"). It runs neither the
cross-account bus-to-bus delivery nor IAM's cross-account decisions: the forwarded event is taken from the source
account's rule (source-account.yaml's pattern) and matched against the trigger account's bus rule pattern; AssumeRole
is allowed only where the template's role policy and pipeline-account.yaml's trust policy both allow it
(docs/central-bucket.md, "What the offline proof does not show").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.events.models import EventPattern

from local.aws_models.codepipeline import FakeCodePipeline, client_error
from local.example_pipeline import create_s3_source_pipeline
from local.lambda_context import LocalLambdaContext
from local.moto_path import REGION, function_environment
from local.sam_transform import transformed
from ops.template_model import REQUIRED_PARAMETERS, deployed
from support.environment import PIPELINE_ACCOUNT_TEMPLATE, SOURCE_ACCOUNT_TEMPLATE
from support.iam_policy import allows, role_statements
from trigger_fn import handler
from trigger_fn.clients import AssumedClient, AwsClients, assumed_client
from trigger_fn.retries import RetryPolicy
from trigger_fn.settings import load_settings

TRIGGER = "123456789012"  # moto's default account: the trigger stack's
SOURCE = "111111111111"
PIPELINES = "222222222222"
UNNAMED = "999999999999"
BUCKET = "central-artifacts"
PIPELINE = "site-pipeline"
STARTER = f"arn:aws:iam::{PIPELINES}:role/s3-pipeline-trigger-starter"
FUNCTION_ROLE = f"arn:aws:iam::{TRIGGER}:role/s3-pipeline-trigger-TriggerFunctionRole-AbC123"
PARAMETERS = {
    "SourceBucketName": BUCKET,
    "CreateSourceBucket": "false",
    "SourceBucketAccount": SOURCE,
    "Routes": json.dumps(
        [{"key": "site/*.zip", "pipeline": PIPELINE, "account": SOURCE, "pipelineAccount": PIPELINES}]
    ),
    "RoutedPipelines": PIPELINE,
    "RoutesKeyFilter": "site/*.zip",
    "PipelineAccounts": PIPELINES,
}


def session_in(account: str) -> boto3.Session:
    """A session of another moto account: AssumeRole of a role there."""
    credentials = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/test-admin", RoleSessionName="test-setup"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )


@dataclass
class Accounts:
    source: boto3.Session
    pipelines: boto3.Session
    tap_url: str
    central_pattern: dict[str, Any]
    # What the trigger account's function assumed, and the CodePipeline model in front of each assumed client.
    assumed: list[str] = field(default_factory=list)
    recorders: dict[str, FakeCodePipeline] = field(default_factory=dict)

    def upload(self, key: str, body: bytes) -> str:
        version: str = self.source.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)["VersionId"]
        return version

    def forwarded_events(self) -> list[dict[str, Any]]:
        sqs = self.source.client("sqs")
        messages = sqs.receive_message(QueueUrl=self.tap_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]

    def central_rule_passes(self, event: dict[str, Any]) -> bool:
        """The trigger account's bus rule (template.yaml's CentralBucketObjectCreated) on the forwarded event,
        matched by moto's EventBridge pattern matcher (moto has no TestEventPattern)."""
        return EventPattern.load(json.dumps(self.central_pattern)).matches_event(event)

    def assume(self, role_arn: str) -> AssumedClient:
        """AssumeRole as IAM decides it across accounts: the function role's policy and the role's trust must allow."""
        self.assumed.append(role_arn)
        may_assume = allows(role_statements("TriggerFunctionRole", **PARAMETERS), "sts:AssumeRole", role_arn)
        trust = deployed(
            transformed(PIPELINE_ACCOUNT_TEMPLATE),
            {"TriggerFunctionRoleArn": FUNCTION_ROLE, "PipelineNames": PIPELINE},
        )["Resources"]["PipelineStarterRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        trusted = role_arn.endswith(":role/s3-pipeline-trigger-starter") and allows(
            [{**s, "Resource": role_arn} for s in trust if s["Principal"] == {"AWS": FUNCTION_ROLE}],
            "sts:AssumeRole",
            role_arn,
        )
        if not (may_assume and trusted):
            raise client_error(
                "AccessDenied", 403, "AssumeRole", f"not authorized to perform sts:AssumeRole on {role_arn}"
            )
        real = assumed_client(role_arn, boto3.client("sts", region_name=REGION))
        recorder = FakeCodePipeline.over(real.client)
        self.recorders[role_arn] = recorder
        return AssumedClient(recorder, real.expires_at)  # type: ignore[arg-type]

    def run_function(self, event: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
        monkeypatch.setattr(handler, "SETTINGS", load_settings(function_environment(REQUIRED_PARAMETERS | PARAMETERS)))
        clients = AwsClients(
            boto3.client("codepipeline", region_name=REGION),
            s3=boto3.client("s3", region_name=REGION),
            retry=RetryPolicy(sleep=lambda _: None),
            assumed_codepipeline=self.assume,
        )
        result: dict[str, Any] = handler.lambda_handler(event, LocalLambdaContext(), clients=clients)
        return result


@pytest.fixture
def accounts() -> Iterator[Accounts]:
    forward_pattern = deployed(
        transformed(SOURCE_ACCOUNT_TEMPLATE),
        {
            "SourceBucketName": BUCKET,
            "TriggerEventBusArn": "arn:aws:events:eu-west-1:123456789012:event-bus/b",
            "KeyFilter": "site/*.zip",
        },
    )["Resources"]["ForwardObjectCreated"]["Properties"]["EventPattern"]
    central_pattern = deployed(transformed(), REQUIRED_PARAMETERS | PARAMETERS)["Resources"][
        "CentralBucketObjectCreated"
    ]["Properties"]["EventPattern"]
    with mock_aws():
        source, pipelines = session_in(SOURCE), session_in(PIPELINES)
        s3 = source.client("s3")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_notification_configuration(
            Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        # The source account's forward rule; its bus-to-bus target is an SQS tap here (moto does not deliver across).
        sqs, events = source.client("sqs"), source.client("events")
        tap_url = sqs.create_queue(QueueName="forwarded")["QueueUrl"]
        tap_arn = sqs.get_queue_attributes(QueueUrl=tap_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="forward", EventPattern=json.dumps(forward_pattern))
        events.put_targets(Rule="forward", Targets=[{"Id": "tap", "Arn": tap_arn}])
        create_s3_source_pipeline(
            codepipeline=pipelines.client("codepipeline"),
            iam=pipelines.client("iam"),
            s3=pipelines.client("s3"),
            name=PIPELINE,
            source_bucket=BUCKET,
            object_key="site/app.zip",
        )
        yield Accounts(source, pipelines, tap_url, central_pattern)


def test_an_upload_in_the_source_account_starts_the_pipeline_account_pinned(
    accounts: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an upload to the central bucket in the source account, forwarded with the source account on it
    version = accounts.upload("site/app.zip", b"release 1")
    (event,) = accounts.forwarded_events()
    assert event["account"] == SOURCE
    assert accounts.central_rule_passes(event)

    # WHEN the trigger account's function handles it
    result = accounts.run_function(event, monkeypatch)

    # THEN it assumed the pipeline account's starter role, and started that account's pipeline on the exact version
    assert result["status"] == "started"
    assert accounts.assumed == [STARTER]
    (request,) = accounts.recorders[STARTER].requests
    assert request["sourceRevisions"] == [
        {"actionName": "Source", "revisionType": "S3_OBJECT_VERSION_ID", "revisionValue": version}
    ]
    (started,) = result["executions"]
    execution = accounts.pipelines.client("codepipeline").get_pipeline_execution(
        pipelineName=PIPELINE, pipelineExecutionId=started["pipelineExecutionId"]
    )["pipelineExecution"]
    assert execution["pipelineExecutionId"] == started["pipelineExecutionId"]
    # Nothing of it in the trigger account: the pipeline exists only in the pipeline account.
    assert boto3.client("codepipeline", region_name=REGION).list_pipelines()["pipelines"] == []


def test_a_newer_upload_wins_across_accounts(accounts: Accounts, monkeypatch: pytest.MonkeyPatch) -> None:
    accounts.upload("site/app.zip", b"release 1")
    newer = accounts.upload("site/app.zip", b"release 2")
    events = accounts.forwarded_events()
    late = next(e for e in events if e["detail"]["object"]["version-id"] != newer)

    result = accounts.run_function(late, monkeypatch)

    assert (result["status"], result["reasonCode"]) == ("ignored", "superseded")
    assert all(not recorder.requests for recorder in accounts.recorders.values())


def test_an_event_from_an_unnamed_account_starts_nothing(accounts: Accounts, monkeypatch: pytest.MonkeyPatch) -> None:
    accounts.upload("site/app.zip", b"release 1")
    (event,) = accounts.forwarded_events()
    # The same event, as an account the bus rule and the function were not told about would send it.
    forged = event | {"account": UNNAMED}

    result = accounts.run_function(forged, monkeypatch)

    assert not accounts.central_rule_passes(forged)
    assert (result["status"], result["reasonCode"]) == ("ignored", "other_account")
    assert accounts.assumed == []
    assert (
        accounts.pipelines.client("codepipeline").list_pipeline_executions(pipelineName=PIPELINE)[
            "pipelineExecutionSummaries"
        ]
        == []
    )


def test_a_role_outside_the_named_accounts_is_refused(accounts: Accounts) -> None:
    with pytest.raises(Exception, match="AccessDenied"):
        accounts.assume(f"arn:aws:iam::{UNNAMED}:role/s3-pipeline-trigger-starter")
    with pytest.raises(Exception, match="AccessDenied"):
        accounts.assume(f"arn:aws:iam::{PIPELINES}:role/admin")
