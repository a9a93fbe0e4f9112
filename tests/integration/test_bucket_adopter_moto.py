"""The bucket adopter against moto's S3: the owner's notifications survive Create and Delete.

moto does not report EventBridgeConfiguration back, so whether EventBridge is on is asserted with the
Stubber in tests/unit/test_bucket_adopter.py; here the configuration read back after each request is.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bucket_adopter import handler
from bucket_adopter.bucket_client import BucketNotifications
from local.lambda_context import LocalLambdaContext

REGION = "eu-west-1"
BUCKET = "my-existing-bucket"


@pytest.fixture
def existing_bucket() -> Iterator[tuple[Any, dict[str, Any]]]:
    """A bucket that already sends to a queue, a topic and a function before the stack adopts it."""
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        iam = boto3.client("iam", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        queue_url = sqs.create_queue(QueueName="audit")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        topic_arn = sns.create_topic(Name="removals")["TopicArn"]
        role_arn = iam.create_role(RoleName="thumbnails-role", AssumeRolePolicyDocument=json.dumps({}))["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("thumbnails.py", "def handler(event, context):\n    return None\n")
        function_arn = boto3.client("lambda", region_name=REGION).create_function(
            FunctionName="thumbnails",
            Runtime="python3.13",
            Role=role_arn,
            Handler="thumbnails.handler",
            Code={"ZipFile": code.getvalue()},
        )["FunctionArn"]
        owners = {
            "QueueConfigurations": [
                {
                    "Id": "audit-queue",
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "incoming/"}]}},
                }
            ],
            "TopicConfigurations": [{"Id": "removals", "TopicArn": topic_arn, "Events": ["s3:ObjectRemoved:*"]}],
            "LambdaFunctionConfigurations": [
                {"Id": "thumbnails", "LambdaFunctionArn": function_arn, "Events": ["s3:ObjectCreated:Put"]}
            ],
        }
        s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration=owners)
        yield s3, owners


def request(request_type: str, physical_id: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ResponseURL": "https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/answer",
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/s3-pipeline-trigger/1",
        "RequestId": f"{request_type}-1",
        "LogicalResourceId": "SourceBucketEventBridge",
        "ResourceType": "Custom::S3EventBridgeNotifications",
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:x",
            "BucketName": BUCKET,
        },
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    return event


def run(s3: Any, event: dict[str, Any]) -> dict[str, Any]:
    answers: list[dict[str, Any]] = []
    handler.handle_request(
        event,
        LocalLambdaContext("s3-pipeline-trigger-bucket-adopter"),
        BucketNotifications(s3),
        send=lambda url, body: answers.append(json.loads(body)),
    )
    [answer] = answers
    return answer


def configuration_now(s3: Any) -> dict[str, Any]:
    response = s3.get_bucket_notification_configuration(Bucket=BUCKET)
    response.pop("ResponseMetadata")
    return dict(response)


def test_create_then_delete_keeps_the_queue_topic_and_lambda_notifications(
    existing_bucket: tuple[Any, dict[str, Any]],
) -> None:
    s3, owners = existing_bucket

    created = run(s3, request("Create"))

    assert created["Status"] == "SUCCESS", created["Reason"]
    assert created["PhysicalResourceId"] == f"s3-eventbridge:{BUCKET}:was-off"
    assert configuration_now(s3) == owners

    deleted = run(s3, request("Delete", created["PhysicalResourceId"]))

    assert deleted["Status"] == "SUCCESS", deleted["Reason"]
    assert configuration_now(s3) == owners


def test_delete_after_the_bucket_itself_was_deleted_succeeds(existing_bucket: tuple[Any, dict[str, Any]]) -> None:
    s3, _ = existing_bucket
    created = run(s3, request("Create"))
    s3.delete_bucket(Bucket=BUCKET)

    deleted = run(s3, request("Delete", created["PhysicalResourceId"]))

    assert deleted["Status"] == "SUCCESS", deleted["Reason"]


def test_create_on_a_bucket_that_does_not_exist_fails_with_the_reason() -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)

        created = run(s3, request("Create"))

    assert created["Status"] == "FAILED"
    assert created["Reason"].startswith(
        f"GetBucketNotificationConfiguration on bucket '{BUCKET}' failed: NoSuchBucket: "
        "The specified bucket does not exist"
    )
