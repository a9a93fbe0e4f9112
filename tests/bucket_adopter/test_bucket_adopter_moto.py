"""The bucket adopter against moto's S3: the owner's notifications and tags survive Create and Delete, and
deleting one of the trigger stacks that share a bucket never turns its EventBridge notifications off.

moto keeps EventBridgeConfiguration but leaves it out of GetBucketNotificationConfiguration; the client
here gets it back through read_back_eventbridge, so the adopter and the assertions see what S3 would say.
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
from bucket_adopter.bucket_client import BucketNotifications, BucketTags
from local.lambda_context import LocalLambdaContext
from support.console_account import read_back_eventbridge

REGION = "eu-west-1"
BUCKET = "my-existing-bucket"
OTHER_BUCKET = "my-other-existing-bucket"
STACK_A = "arn:aws:cloudformation:eu-west-1:123456789012:stack/site-trigger/5b918d10-0000-11ef-9f3e-0a1b2c3d4e5f"
STACK_B = "arn:aws:cloudformation:eu-west-1:123456789012:stack/docs-trigger/7c0a2e30-0000-11ef-8d1c-0a1b2c3d4e5f"
OWNERS_TAGS = [{"Key": "team", "Value": "web"}, {"Key": "cost-centre", "Value": "42"}]


@pytest.fixture
def existing_bucket() -> Iterator[tuple[Any, dict[str, Any]]]:
    """A bucket that already sends to a queue, a topic and a function before the stack adopts it."""
    with mock_aws():
        s3 = read_back_eventbridge(boto3.client("s3", region_name=REGION))
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
        s3.put_bucket_tagging(Bucket=BUCKET, Tagging={"TagSet": OWNERS_TAGS})
        yield s3, owners


def request(
    request_type: str,
    physical_id: str | None = None,
    stack_id: str = STACK_A,
    bucket: str = BUCKET,
    request_id: str | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ResponseURL": "https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/answer",
        "StackId": stack_id,
        "RequestId": request_id or f"{request_type}-1",
        "LogicalResourceId": "SourceBucketEventBridge",
        "ResourceType": "Custom::S3EventBridgeNotifications",
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:x",
            "BucketName": bucket,
        },
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    return event


def answer_to(s3: Any, event: dict[str, Any]) -> dict[str, Any]:
    """Handle one request; return CloudFormation's only answer."""
    answers: list[dict[str, Any]] = []
    handler.handle_request(
        event,
        LocalLambdaContext("s3-pipeline-trigger-bucket-adopter"),
        BucketNotifications(s3),
        BucketTags(s3),
        send=lambda url, body: answers.append(json.loads(body)),
    )
    [answer] = answers
    return answer


def run(s3: Any, event: dict[str, Any]) -> dict[str, Any]:
    answer = answer_to(s3, event)
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    return answer


def configuration_now(s3: Any, bucket: str = BUCKET) -> dict[str, Any]:
    response = s3.get_bucket_notification_configuration(Bucket=bucket)
    response.pop("ResponseMetadata")
    return dict(response)


def eventbridge_on(s3: Any, bucket: str = BUCKET) -> bool:
    return "EventBridgeConfiguration" in configuration_now(s3, bucket)


def tags_now(s3: Any, bucket: str = BUCKET) -> list[dict[str, str]]:
    try:
        return list(s3.get_bucket_tagging(Bucket=bucket)["TagSet"])
    except s3.exceptions.ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchTagSet":
            raise
        return []


def test_create_then_delete_keeps_the_queue_topic_and_lambda_notifications_and_the_owners_tags(
    existing_bucket: tuple[Any, dict[str, Any]],
) -> None:
    s3, owners = existing_bucket

    created = run(s3, request("Create"))

    assert created["PhysicalResourceId"] == f"s3-eventbridge:{BUCKET}:tag-record"
    assert configuration_now(s3) == {**owners, "EventBridgeConfiguration": {}}
    assert tags_now(s3)[:2] == OWNERS_TAGS

    run(s3, request("Delete", created["PhysicalResourceId"]))

    assert configuration_now(s3) == owners
    assert tags_now(s3) == OWNERS_TAGS


@pytest.mark.parametrize("first_deleted", [STACK_A, STACK_B], ids=["first-adopter-deleted-first", "second-first"])
def test_deleting_one_of_two_stacks_on_a_bucket_never_silences_the_other(
    existing_bucket: tuple[Any, dict[str, Any]], first_deleted: str
) -> None:
    s3, owners = existing_bucket
    # GIVEN stack A found EventBridge off and turned it on; stack B came after and found it on
    physical_ids = {
        stack: run(s3, request("Create", stack_id=stack))["PhysicalResourceId"] for stack in (STACK_A, STACK_B)
    }
    second_deleted = STACK_B if first_deleted == STACK_A else STACK_A

    # WHEN one of them is deleted THEN the other still hears every upload
    run(s3, request("Delete", physical_ids[first_deleted], stack_id=first_deleted))
    assert eventbridge_on(s3)

    # WHEN the other is deleted too THEN the bucket is as before the first came: EventBridge off, tags the owner's
    run(s3, request("Delete", physical_ids[second_deleted], stack_id=second_deleted))
    assert configuration_now(s3) == owners
    assert tags_now(s3) == OWNERS_TAGS


def test_eventbridge_that_was_on_before_any_stack_stays_on_after_all_leave(
    existing_bucket: tuple[Any, dict[str, Any]],
) -> None:
    s3, owners = existing_bucket
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET, NotificationConfiguration={**owners, "EventBridgeConfiguration": {}}
    )

    physical_ids = {
        stack: run(s3, request("Create", stack_id=stack))["PhysicalResourceId"] for stack in (STACK_A, STACK_B)
    }
    for stack, physical_id in physical_ids.items():
        run(s3, request("Delete", physical_id, stack_id=stack))

    assert eventbridge_on(s3)
    assert tags_now(s3) == OWNERS_TAGS


def test_create_retried_after_its_answer_was_lost_still_says_off_before_and_delete_turns_it_off(
    existing_bucket: tuple[Any, dict[str, Any]],
) -> None:
    s3, _ = existing_bucket
    # GIVEN a Create that turned EventBridge on, whose answer was lost: Lambda runs the same request again
    run(s3, request("Create"))
    assert eventbridge_on(s3)

    retried = run(s3, request("Create"))

    assert retried["Data"]["EventBridgeWasEnabled"] == "false"
    run(s3, request("Delete", retried["PhysicalResourceId"]))
    assert not eventbridge_on(s3)


def test_a_wiped_record_leaves_eventbridge_on_at_delete(existing_bucket: tuple[Any, dict[str, Any]]) -> None:
    s3, _ = existing_bucket
    created = run(s3, request("Create"))
    # GIVEN the bucket's tags replaced by someone else (another stack's Tags on the bucket, say)
    s3.put_bucket_tagging(Bucket=BUCKET, Tagging={"TagSet": [{"Key": "team", "Value": "platform"}]})

    run(s3, request("Delete", created["PhysicalResourceId"]))

    # Who else relies on EventBridge is unknown now: it stays on, and the owner's tags are left alone.
    assert eventbridge_on(s3)
    assert tags_now(s3) == [{"Key": "team", "Value": "platform"}]


def test_two_stacks_deployed_before_the_record_are_moved_into_it_by_their_update(
    existing_bucket: tuple[Any, dict[str, Any]],
) -> None:
    s3, owners = existing_bucket
    # GIVEN what the version before the record left: A found EventBridge off and turned it on, B found it on
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET, NotificationConfiguration={**owners, "EventBridgeConfiguration": {}}
    )
    legacy = {STACK_A: f"s3-eventbridge:{BUCKET}:was-off", STACK_B: f"s3-eventbridge:{BUCKET}:was-on"}

    # WHEN both are deployed with this version (the new AdopterRecord property makes CloudFormation send Update)
    for stack, physical_id in legacy.items():
        updated = run(s3, request("Update", physical_id, stack_id=stack))
        assert updated["PhysicalResourceId"] == physical_id

    # THEN deleting A leaves EventBridge on for B, and deleting B turns it off as it was before A
    run(s3, request("Delete", legacy[STACK_A], stack_id=STACK_A))
    assert eventbridge_on(s3)
    run(s3, request("Delete", legacy[STACK_B], stack_id=STACK_B))
    assert configuration_now(s3) == owners
    assert tags_now(s3) == OWNERS_TAGS


def test_a_stack_from_before_the_record_never_updated_no_longer_silences_a_recorded_one(
    existing_bucket: tuple[Any, dict[str, Any]],
) -> None:
    s3, owners = existing_bucket
    # GIVEN stack A from before the record (it found EventBridge off and turned it on), then stack B of this version
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET, NotificationConfiguration={**owners, "EventBridgeConfiguration": {}}
    )
    run(s3, request("Create", stack_id=STACK_B))

    run(s3, request("Delete", f"s3-eventbridge:{BUCKET}:was-off", stack_id=STACK_A))

    assert eventbridge_on(s3)


def test_update_to_another_bucket_adopts_the_new_one_and_the_old_ids_delete_releases_the_old(
    existing_bucket: tuple[Any, dict[str, Any]],
) -> None:
    s3, owners = existing_bucket
    s3.create_bucket(Bucket=OTHER_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    created = run(s3, request("Create"))

    updated = run(s3, request("Update", created["PhysicalResourceId"], bucket=OTHER_BUCKET))
    # CloudFormation sends Delete for the old physical id once the update is complete.
    run(s3, request("Delete", created["PhysicalResourceId"], bucket=OTHER_BUCKET))

    assert updated["PhysicalResourceId"] == f"s3-eventbridge:{OTHER_BUCKET}:tag-record"
    assert eventbridge_on(s3, OTHER_BUCKET)
    assert configuration_now(s3) == owners
    assert tags_now(s3) == OWNERS_TAGS


def test_delete_after_the_bucket_itself_was_deleted_succeeds(existing_bucket: tuple[Any, dict[str, Any]]) -> None:
    s3, _ = existing_bucket
    created = run(s3, request("Create"))
    s3.delete_bucket(Bucket=BUCKET)

    deleted = run(s3, request("Delete", created["PhysicalResourceId"]))

    assert deleted["PhysicalResourceId"] == created["PhysicalResourceId"]


def test_create_on_a_bucket_that_does_not_exist_fails_with_the_reason() -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)

        created = answer_to(s3, request("Create"))

    assert created["Status"] == "FAILED"
    assert created["Reason"].startswith(
        f"GetBucketNotificationConfiguration on bucket '{BUCKET}' failed: NoSuchBucket: "
        "The specified bucket does not exist"
    )
