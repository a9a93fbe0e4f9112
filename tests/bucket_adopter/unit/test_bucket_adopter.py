"""The bucket-adopting custom resource: exact S3 requests (Stubber) and exact answers to CloudFormation.

Answers go to a real HTTP server on 127.0.0.1, the way CloudFormation's pre-signed URL receives them.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from bucket_adopter import handler
from bucket_adopter.adoption import (
    AdoptedBucket,
    Adopter,
    InvalidProperties,
    bucket_to_adopt,
    parse_physical_id,
    plan_adopt,
    plan_release,
    plan_turn_off,
    target_from_properties,
)
from bucket_adopter.bucket_client import BucketNotifications, BucketTags
from bucket_adopter.cfn_response import MAX_BODY_BYTES, Request, Responder, response_body
from bucket_adopter.notifications import configuration_from_response, eventbridge_enabled, with_eventbridge
from local.lambda_context import LocalLambdaContext

BUCKET = "my-artifact-bucket"
OTHER_BUCKET = "my-other-bucket"
STACK_ID = (
    "arn:aws:cloudformation:eu-west-1:123456789012:stack/s3-pipeline-trigger/5b918d10-0000-11ef-9f3e-0a1b2c3d4e5f"
)
# The owner's notifications that must survive every write, with ids, events and filter rules.
OWNERS_NOTIFICATIONS: dict[str, Any] = {
    "QueueConfigurations": [
        {
            "Id": "audit-queue",
            "QueueArn": "arn:aws:sqs:eu-west-1:123456789012:audit",
            "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "Prefix", "Value": "incoming/"}]}},
        }
    ],
    "TopicConfigurations": [
        {
            "Id": "removals-topic",
            "TopicArn": "arn:aws:sns:eu-west-1:123456789012:removals",
            "Events": ["s3:ObjectRemoved:Delete", "s3:ObjectRemoved:DeleteMarkerCreated"],
        }
    ],
    "LambdaFunctionConfigurations": [
        {
            "Id": "thumbnails",
            "LambdaFunctionArn": "arn:aws:lambda:eu-west-1:123456789012:function:thumbnails",
            "Events": ["s3:ObjectCreated:Put"],
            "Filter": {
                "Key": {"FilterRules": [{"Name": "Prefix", "Value": "images/"}, {"Name": "Suffix", "Value": ".png"}]}
            },
        }
    ],
}
RESPONSE_METADATA = {"ResponseMetadata": {"HTTPStatusCode": 200, "RequestId": "7Q0B9M2D", "HTTPHeaders": {}}}
EVENTBRIDGE_ON: dict[str, Any] = {"EventBridgeConfiguration": {}}
# The adopter record in the bucket's tags: this stack, another trigger stack, the before-fact.
ME = Adopter.of(STACK_ID, "SourceBucketEventBridge")
MY_TAG = {"Key": f"s3-pipeline-trigger:adopter:{ME.id}", "Value": "s3-pipeline-trigger/SourceBucketEventBridge"}
OTHER_STACK_TAG = {"Key": "s3-pipeline-trigger:adopter:0123456789ab", "Value": "other-trigger/SourceBucketEventBridge"}
WAS_OFF_TAG = {"Key": "s3-pipeline-trigger:eventbridge-before", "Value": "off"}
WAS_ON_TAG = {"Key": "s3-pipeline-trigger:eventbridge-before", "Value": "on"}
# The owner's tags that every tag write keeps, CloudFormation's own (aws:) ones included, unchanged.
OWNERS_TAGS = [
    {"Key": "team", "Value": "web"},
    {"Key": "aws:cloudformation:stack-name", "Value": "artifacts"},
    {"Key": "aws:cloudformation:logical-id", "Value": "ArtifactBucket"},
]
TAG_RECORD_ID = "s3-eventbridge:my-artifact-bucket:tag-record"


# ---------- test doubles ----------


@dataclass
class ReceivedAnswer:
    method: str
    path: str
    content_type: str | None
    body: dict[str, Any]


@dataclass
class AnswerServer:
    """Stands in for the pre-signed S3 URL: records every PUT it receives."""

    url: str
    answers: list[ReceivedAnswer] = field(default_factory=list)
    first_answer: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def answer_server() -> Iterator[AnswerServer]:
    server_state: list[AnswerServer] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            length = int(self.headers["Content-Length"])
            body = json.loads(self.rfile.read(length))
            state = server_state[0]
            state.answers.append(ReceivedAnswer("PUT", self.path, self.headers.get("Content-Type"), body))
            state.first_answer.set()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    port = server.server_address[1]
    server_state.append(AnswerServer(url=f"http://127.0.0.1:{port}/cfn-answers/answer-1?X-Amz-Signature=abc123"))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server_state[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def adopter_context(timeout_s: float = 60.0) -> LocalLambdaContext:
    return LocalLambdaContext("s3-pipeline-trigger-bucket-adopter", memory_mb=128, timeout_s=timeout_s)


@dataclass
class S3Stubs:
    """Both S3 adapters on one stubbed client: every request must be queued, in order, with exact parameters."""

    notifications: BucketNotifications
    tags: BucketTags
    stubber: Stubber


@pytest.fixture
def s3() -> Iterator[S3Stubs]:
    client = boto3.client("s3", region_name="eu-west-1")
    stubber = Stubber(client)
    with stubber:
        yield S3Stubs(BucketNotifications(client), BucketTags(client), stubber)
        # Every queued S3 response was asked for: no expected read or write was skipped.
        stubber.assert_no_pending_responses()


def run(s3: S3Stubs, event: dict[str, Any], server: AnswerServer) -> dict[str, Any]:
    """Handle one request; return CloudFormation's only answer."""
    handler.handle_request(event, adopter_context(), s3.notifications, s3.tags)
    return only_answer(server)


def cfn_event(
    request_type: str,
    answer_url: str,
    bucket: str = BUCKET,
    physical_id: str | None = None,
    old_bucket: str | None = None,
    **properties: str,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:s3-pipeline-trigger-BucketAdopterFunction",
        "ResponseURL": answer_url,
        "StackId": STACK_ID,
        "RequestId": f"{request_type.lower()}-request-6f2c",
        "LogicalResourceId": "SourceBucketEventBridge",
        "ResourceType": "Custom::S3EventBridgeNotifications",
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:s3-pipeline-trigger-BucketAdopterFunction",
            "BucketName": bucket,
            **properties,
        },
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if old_bucket is not None:
        event["OldResourceProperties"] = {"ServiceToken": event["ServiceToken"], "BucketName": old_bucket}
    return event


def expect_read(stubber: Stubber, configuration: dict[str, Any], bucket: str = BUCKET) -> None:
    stubber.add_response(
        "get_bucket_notification_configuration",
        {**copy.deepcopy(configuration), **RESPONSE_METADATA},
        {"Bucket": bucket},
    )


def expect_write(stubber: Stubber, configuration: dict[str, Any], bucket: str = BUCKET) -> None:
    stubber.add_response(
        "put_bucket_notification_configuration",
        {},
        {"Bucket": bucket, "NotificationConfiguration": configuration, "SkipDestinationValidation": True},
    )


def expect_tags(stubber: Stubber, tags: list[dict[str, str]], bucket: str = BUCKET) -> None:
    if not tags:
        # S3 answers a bucket without tags with an error, not an empty set.
        stubber.add_client_error(
            "get_bucket_tagging",
            service_error_code="NoSuchTagSet",
            service_message="The TagSet does not exist",
            http_status_code=404,
            expected_params={"Bucket": bucket},
        )
        return
    stubber.add_response("get_bucket_tagging", {"TagSet": copy.deepcopy(tags)}, {"Bucket": bucket})


def expect_tags_write(stubber: Stubber, tags: list[dict[str, str]], bucket: str = BUCKET) -> None:
    if not tags:
        stubber.add_response("delete_bucket_tagging", {}, {"Bucket": bucket})
        return
    stubber.add_response("put_bucket_tagging", {}, {"Bucket": bucket, "Tagging": {"TagSet": tags}})


def only_answer(server: AnswerServer) -> dict[str, Any]:
    assert len(server.answers) == 1, server.answers
    return server.answers[0].body


# ---------- pure parts ----------


def test_configuration_from_response_drops_response_metadata_and_keeps_everything_else() -> None:
    response = {**OWNERS_NOTIFICATIONS, **RESPONSE_METADATA, "SomeFutureConfigurations": [{"Id": "x"}]}

    configuration = configuration_from_response(response)

    assert configuration == {**OWNERS_NOTIFICATIONS, "SomeFutureConfigurations": [{"Id": "x"}]}


def test_with_eventbridge_turns_it_on_and_off_without_touching_the_owners_notifications() -> None:
    turned_on = with_eventbridge(OWNERS_NOTIFICATIONS, enabled=True)
    turned_off = with_eventbridge(turned_on, enabled=False)

    assert turned_on == {**OWNERS_NOTIFICATIONS, "EventBridgeConfiguration": {}}
    assert turned_off == OWNERS_NOTIFICATIONS
    assert not eventbridge_enabled(OWNERS_NOTIFICATIONS)
    assert eventbridge_enabled(turned_on)


def test_with_eventbridge_returns_a_copy() -> None:
    original = copy.deepcopy(OWNERS_NOTIFICATIONS)

    turned_on = with_eventbridge(original, enabled=True)
    turned_on["QueueConfigurations"][0]["Events"].append("s3:ObjectRestore:*")

    assert original == OWNERS_NOTIFICATIONS


@pytest.mark.parametrize(
    ("physical_id", "expected"),
    [
        ("s3-eventbridge:my-artifact-bucket:tag-record", AdoptedBucket("my-artifact-bucket")),
        ("s3-eventbridge:my-artifact-bucket:was-on", AdoptedBucket("my-artifact-bucket", legacy_was_on=True)),
        ("s3-eventbridge:my.dotted.bucket:was-off", AdoptedBucket("my.dotted.bucket", legacy_was_on=False)),
        ("s3-eventbridge-not-adopted:create-request-6f2c", None),
        ("s3-eventbridge:my-artifact-bucket:maybe", None),
        ("s3-eventbridge:Not_A_Bucket:was-on", None),
        ("other:my-artifact-bucket:was-on", None),
        ("", None),
    ],
    ids=[
        "tag-record",
        "legacy-was-on",
        "legacy-dotted-was-off",
        "failed-create",
        "unknown-state",
        "bad-bucket",
        "other-prefix",
        "empty",
    ],
)
def test_parse_physical_id(physical_id: str, expected: AdoptedBucket | None) -> None:
    assert parse_physical_id(physical_id) == expected


def test_physical_id_round_trips() -> None:
    for adopted in (AdoptedBucket(BUCKET), AdoptedBucket(BUCKET, True), AdoptedBucket(BUCKET, False)):
        assert parse_physical_id(adopted.physical_id) == adopted


def test_update_keeps_the_physical_id_of_the_same_bucket_and_names_another_bucket_afresh() -> None:
    legacy = AdoptedBucket(BUCKET, legacy_was_on=False)

    # A new id for the same bucket would make CloudFormation send Delete for the old one: this stack's own release.
    assert bucket_to_adopt(legacy, BUCKET) == legacy
    assert bucket_to_adopt(legacy, OTHER_BUCKET) == AdoptedBucket(OTHER_BUCKET)
    assert bucket_to_adopt(None, BUCKET) == AdoptedBucket(BUCKET)


def test_plan_adopt_of_an_unrecorded_bucket_records_before_it_turns_eventbridge_on() -> None:
    plan = plan_adopt(AdoptedBucket(BUCKET), ME, OWNERS_NOTIFICATIONS, OWNERS_TAGS)

    assert plan.tags == [*OWNERS_TAGS, MY_TAG, WAS_OFF_TAG]
    assert plan.notifications == {**OWNERS_NOTIFICATIONS, **EVENTBRIDGE_ON}
    assert not plan.adoption.was_on


def test_plan_adopt_retried_after_eventbridge_is_on_keeps_the_recorded_before_fact() -> None:
    # GIVEN the first attempt recorded "off" and turned EventBridge on, then its answer was lost
    plan = plan_adopt(AdoptedBucket(BUCKET), ME, EVENTBRIDGE_ON, [MY_TAG, WAS_OFF_TAG])

    assert plan.tags is None
    assert plan.notifications is None
    assert not plan.adoption.was_on


def test_plan_adopt_of_a_legacy_id_records_the_ids_own_before_fact_not_the_on_it_caused() -> None:
    plan = plan_adopt(AdoptedBucket(BUCKET, legacy_was_on=False), ME, EVENTBRIDGE_ON, [])

    assert plan.tags == [MY_TAG, WAS_OFF_TAG]
    assert plan.adoption.physical_id == "s3-eventbridge:my-artifact-bucket:was-off"


def test_plan_adopt_joining_another_stacks_record_keeps_its_before_fact() -> None:
    plan = plan_adopt(AdoptedBucket(BUCKET), ME, EVENTBRIDGE_ON, [OTHER_STACK_TAG, WAS_OFF_TAG])

    assert plan.tags == [OTHER_STACK_TAG, WAS_OFF_TAG, MY_TAG]
    assert not plan.adoption.was_on


@pytest.mark.parametrize(
    ("tags", "turn_off", "tags_after"),
    [
        ([*OWNERS_TAGS, MY_TAG, WAS_OFF_TAG], True, OWNERS_TAGS),
        ([*OWNERS_TAGS, MY_TAG, WAS_ON_TAG], False, OWNERS_TAGS),
        ([MY_TAG], False, []),
        ([OTHER_STACK_TAG, MY_TAG, WAS_OFF_TAG], False, [OTHER_STACK_TAG, WAS_OFF_TAG]),
        ([OTHER_STACK_TAG, WAS_OFF_TAG], False, None),
        (OWNERS_TAGS, False, None),
    ],
    ids=[
        "last-and-was-off",
        "last-and-was-on",
        "last-and-before-tag-lost",
        "others-remain",
        "not-recorded-others-are",
        "record-wiped",
    ],
)
def test_plan_release_turns_eventbridge_off_only_for_the_last_adopter_of_a_bucket_that_was_off(
    tags: list[dict[str, str]], turn_off: bool, tags_after: list[dict[str, str]] | None
) -> None:
    plan = plan_release(AdoptedBucket(BUCKET), ME, tags)

    assert (plan.turn_off, plan.tags) == (turn_off, tags_after)


@pytest.mark.parametrize(
    ("legacy_was_on", "turn_off"), [(False, True), (True, False)], ids=["legacy-was-off", "legacy-was-on"]
)
def test_plan_release_of_a_legacy_id_without_a_record_does_what_its_own_version_did(
    legacy_was_on: bool, turn_off: bool
) -> None:
    plan = plan_release(AdoptedBucket(BUCKET, legacy_was_on), ME, OWNERS_TAGS)

    assert (plan.turn_off, plan.tags) == (turn_off, None)


def test_plan_turn_off_restores_the_owners_configuration_and_writes_nothing_when_already_off() -> None:
    assert plan_turn_off({**OWNERS_NOTIFICATIONS, **EVENTBRIDGE_ON}) == OWNERS_NOTIFICATIONS
    assert plan_turn_off(OWNERS_NOTIFICATIONS) is None


@pytest.mark.parametrize(
    ("properties", "named"),
    [
        ({}, "BucketName"),
        ({"BucketName": "Upper_Case"}, "BucketName"),
        ({"BucketName": "a..b"}, "BucketName"),
        ({"BucketName": BUCKET, "ExpectedBucketOwner": "12"}, "ExpectedBucketOwner"),
    ],
    ids=["missing", "invalid-name", "double-dot", "bad-owner"],
)
def test_invalid_properties_are_refused_with_the_property_named(properties: dict[str, str], named: str) -> None:
    with pytest.raises(InvalidProperties) as refused:
        target_from_properties(properties)

    assert str(refused.value).startswith(f"{named} must be")


# ---------- the handler: S3 requests and CloudFormation answers ----------


def test_create_records_the_stack_then_turns_eventbridge_on_keeping_the_owners_notifications_and_tags(
    s3: S3Stubs, answer_server: AnswerServer
) -> None:
    # GIVEN a bucket with the owner's notifications and tags, and EventBridge off
    expect_read(s3.stubber, OWNERS_NOTIFICATIONS)
    expect_tags(s3.stubber, OWNERS_TAGS)
    # THEN the record goes first (every other tag written back as it was, aws: ones included) ...
    expect_tags_write(s3.stubber, [*OWNERS_TAGS, MY_TAG, WAS_OFF_TAG])
    # ... then exactly this whole configuration, EventBridge added
    expect_write(s3.stubber, {**OWNERS_NOTIFICATIONS, "EventBridgeConfiguration": {}})

    answer = run(s3, cfn_event("Create", answer_server.url), answer_server)

    assert answer == {
        "Status": "SUCCESS",
        "Reason": "",
        "PhysicalResourceId": TAG_RECORD_ID,
        "StackId": STACK_ID,
        "RequestId": "create-request-6f2c",
        "LogicalResourceId": "SourceBucketEventBridge",
        "Data": {"BucketName": BUCKET, "EventBridgeWasEnabled": "false"},
    }


def test_the_answer_is_a_put_with_an_empty_content_type_to_the_exact_presigned_url(
    s3: S3Stubs, answer_server: AnswerServer
) -> None:
    expect_read(s3.stubber, EVENTBRIDGE_ON)
    expect_tags(s3.stubber, [])
    expect_tags_write(s3.stubber, [MY_TAG, WAS_ON_TAG])

    handler.handle_request(cfn_event("Create", answer_server.url), adopter_context(), s3.notifications, s3.tags)

    [received] = answer_server.answers
    assert received.method == "PUT"
    assert received.path == "/cfn-answers/answer-1?X-Amz-Signature=abc123"
    assert received.content_type == ""
    assert set(received.body) == {
        "Status",
        "Reason",
        "PhysicalResourceId",
        "StackId",
        "RequestId",
        "LogicalResourceId",
        "Data",
    }


def test_create_retried_after_it_turned_eventbridge_on_still_reports_it_was_off(
    s3: S3Stubs, answer_server: AnswerServer
) -> None:
    # GIVEN the first attempt recorded "off" and turned EventBridge on, and Lambda retries the same request
    expect_read(s3.stubber, {**OWNERS_NOTIFICATIONS, **EVENTBRIDGE_ON})
    expect_tags(s3.stubber, [*OWNERS_TAGS, MY_TAG, WAS_OFF_TAG])
    # THEN nothing is written: the Stubber has no write queued

    answer = run(s3, cfn_event("Create", answer_server.url), answer_server)

    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == TAG_RECORD_ID
    assert answer["Data"]["EventBridgeWasEnabled"] == "false"


def test_create_on_a_bucket_another_trigger_stack_adopted_joins_its_record(
    s3: S3Stubs, answer_server: AnswerServer
) -> None:
    expect_read(s3.stubber, EVENTBRIDGE_ON)
    expect_tags(s3.stubber, [OTHER_STACK_TAG, WAS_OFF_TAG])
    # The before-fact stays the first adopter's: "on" now is that stack's doing.
    expect_tags_write(s3.stubber, [OTHER_STACK_TAG, WAS_OFF_TAG, MY_TAG])

    answer = run(s3, cfn_event("Create", answer_server.url), answer_server)

    assert answer["Data"]["EventBridgeWasEnabled"] == "false"


def test_already_on_bucket_is_recorded_as_on_and_the_last_delete_leaves_it_on_and_removes_the_record(
    s3: S3Stubs, answer_server: AnswerServer
) -> None:
    # GIVEN EventBridge was on before the stack came: Create records "on" and writes no configuration
    expect_read(s3.stubber, {**OWNERS_NOTIFICATIONS, **EVENTBRIDGE_ON})
    expect_tags(s3.stubber, [])
    expect_tags_write(s3.stubber, [MY_TAG, WAS_ON_TAG])

    created = run(s3, cfn_event("Create", answer_server.url), answer_server)
    assert created["PhysicalResourceId"] == TAG_RECORD_ID
    assert created["Data"]["EventBridgeWasEnabled"] == "true"

    # WHEN the stack is deleted THEN only the record goes (no tag is left, so the set is deleted)
    answer_server.answers.clear()
    expect_tags(s3.stubber, [MY_TAG, WAS_ON_TAG])
    expect_tags_write(s3.stubber, [])

    deleted = run(s3, cfn_event("Delete", answer_server.url, physical_id=TAG_RECORD_ID), answer_server)

    assert deleted["Status"] == "SUCCESS"
    assert deleted["PhysicalResourceId"] == TAG_RECORD_ID


def test_delete_of_the_last_adopter_of_a_bucket_that_was_off_turns_eventbridge_off_then_removes_the_record(
    s3: S3Stubs, answer_server: AnswerServer
) -> None:
    expect_tags(s3.stubber, [*OWNERS_TAGS, MY_TAG, WAS_OFF_TAG])
    expect_read(s3.stubber, {**OWNERS_NOTIFICATIONS, **EVENTBRIDGE_ON})
    expect_write(s3.stubber, OWNERS_NOTIFICATIONS)
    expect_tags_write(s3.stubber, OWNERS_TAGS)

    answer = run(s3, cfn_event("Delete", answer_server.url, physical_id=TAG_RECORD_ID), answer_server)

    assert answer["Status"] == "SUCCESS"


def test_delete_while_another_trigger_stack_is_recorded_leaves_eventbridge_on(
    s3: S3Stubs, answer_server: AnswerServer
) -> None:
    expect_tags(s3.stubber, [*OWNERS_TAGS, OTHER_STACK_TAG, MY_TAG, WAS_OFF_TAG])
    # THEN only this stack leaves the record: no notification call is queued
    expect_tags_write(s3.stubber, [*OWNERS_TAGS, OTHER_STACK_TAG, WAS_OFF_TAG])

    answer = run(s3, cfn_event("Delete", answer_server.url, physical_id=TAG_RECORD_ID), answer_server)

    assert answer["Status"] == "SUCCESS"


def test_delete_after_the_record_was_wiped_leaves_eventbridge_on_and_the_tags_alone(
    s3: S3Stubs, answer_server: AnswerServer
) -> None:
    # GIVEN the bucket's tags were replaced (another stack's Tags, say): no record left
    expect_tags(s3.stubber, OWNERS_TAGS)

    answer = run(s3, cfn_event("Delete", answer_server.url, physical_id=TAG_RECORD_ID), answer_server)

    assert answer["Status"] == "SUCCESS"


def test_delete_of_a_legacy_id_while_other_trigger_stacks_are_recorded_leaves_eventbridge_on(
    s3: S3Stubs, answer_server: AnswerServer
) -> None:
    # GIVEN a stack deployed before the record (its id says was-off) and a newer stack recorded on the bucket
    expect_tags(s3.stubber, [OTHER_STACK_TAG, WAS_ON_TAG])

    answer = run(
        s3,
        cfn_event("Delete", answer_server.url, physical_id="s3-eventbridge:my-artifact-bucket:was-off"),
        answer_server,
    )

    assert answer["Status"] == "SUCCESS"


def test_delete_of_a_legacy_was_off_id_without_a_record_turns_eventbridge_off_and_keeps_the_others(
    s3: S3Stubs, answer_server: AnswerServer
) -> None:
    expect_tags(s3.stubber, [])
    expect_read(s3.stubber, {**OWNERS_NOTIFICATIONS, **EVENTBRIDGE_ON})
    expect_write(s3.stubber, OWNERS_NOTIFICATIONS)

    answer = run(
        s3,
        cfn_event("Delete", answer_server.url, physical_id="s3-eventbridge:my-artifact-bucket:was-off"),
        answer_server,
    )

    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == "s3-eventbridge:my-artifact-bucket:was-off"


def test_delete_repeated_after_eventbridge_is_already_off_writes_nothing(
    s3: S3Stubs, answer_server: AnswerServer
) -> None:
    expect_tags(s3.stubber, [])
    expect_read(s3.stubber, OWNERS_NOTIFICATIONS)

    answer = run(
        s3,
        cfn_event("Delete", answer_server.url, physical_id="s3-eventbridge:my-artifact-bucket:was-off"),
        answer_server,
    )

    assert answer["Status"] == "SUCCESS"


def test_update_of_a_legacy_id_moves_its_before_fact_into_the_record_and_keeps_the_id(
    s3: S3Stubs, answer_server: AnswerServer
) -> None:
    # GIVEN a stack deployed before the record: its Create recorded was-off and turned EventBridge on
    expect_read(s3.stubber, {**OWNERS_NOTIFICATIONS, **EVENTBRIDGE_ON})
    expect_tags(s3.stubber, [])
    # THEN the record says "off" (the id's fact), not the "on" the stack itself caused
    expect_tags_write(s3.stubber, [MY_TAG, WAS_OFF_TAG])

    answer = run(
        s3,
        cfn_event(
            "Update",
            answer_server.url,
            physical_id="s3-eventbridge:my-artifact-bucket:was-off",
            old_bucket=BUCKET,
            ExpectedBucketOwner="",
        ),
        answer_server,
    )

    assert answer["Status"] == "SUCCESS"
    # The same id: a new one would make CloudFormation send Delete for the old, releasing this very stack.
    assert answer["PhysicalResourceId"] == "s3-eventbridge:my-artifact-bucket:was-off"
    assert answer["Data"]["EventBridgeWasEnabled"] == "false"


def test_update_turns_eventbridge_back_on_when_someone_turned_it_off_and_keeps_the_before_fact(
    s3: S3Stubs, answer_server: AnswerServer
) -> None:
    expect_read(s3.stubber, OWNERS_NOTIFICATIONS)
    expect_tags(s3.stubber, [MY_TAG, WAS_OFF_TAG])
    expect_write(s3.stubber, {**OWNERS_NOTIFICATIONS, "EventBridgeConfiguration": {}})

    answer = run(
        s3, cfn_event("Update", answer_server.url, physical_id=TAG_RECORD_ID, old_bucket=BUCKET), answer_server
    )

    assert answer["PhysicalResourceId"] == TAG_RECORD_ID
    assert answer["Data"]["EventBridgeWasEnabled"] == "false"


def test_update_to_another_bucket_adopts_it_under_a_new_physical_id(s3: S3Stubs, answer_server: AnswerServer) -> None:
    expect_read(s3.stubber, OWNERS_NOTIFICATIONS, bucket=OTHER_BUCKET)
    expect_tags(s3.stubber, [], bucket=OTHER_BUCKET)
    expect_tags_write(s3.stubber, [MY_TAG, WAS_OFF_TAG], bucket=OTHER_BUCKET)
    expect_write(s3.stubber, {**OWNERS_NOTIFICATIONS, "EventBridgeConfiguration": {}}, bucket=OTHER_BUCKET)

    answer = run(
        s3,
        cfn_event(
            "Update",
            answer_server.url,
            bucket=OTHER_BUCKET,
            physical_id="s3-eventbridge:my-artifact-bucket:was-on",
            old_bucket=BUCKET,
        ),
        answer_server,
    )

    # A new physical id: CloudFormation then sends Delete for the old one.
    assert answer["PhysicalResourceId"] == "s3-eventbridge:my-other-bucket:tag-record"
    assert answer["Data"] == {"BucketName": OTHER_BUCKET, "EventBridgeWasEnabled": "false"}


def test_expected_bucket_owner_is_sent_with_every_s3_call(s3: S3Stubs, answer_server: AnswerServer) -> None:
    owner = {"Bucket": BUCKET, "ExpectedBucketOwner": "123456789012"}
    s3.stubber.add_response("get_bucket_notification_configuration", {}, owner)
    s3.stubber.add_response("get_bucket_tagging", {"TagSet": [MY_TAG, WAS_OFF_TAG]}, owner)
    s3.stubber.add_response(
        "put_bucket_notification_configuration",
        {},
        {**owner, "NotificationConfiguration": {"EventBridgeConfiguration": {}}, "SkipDestinationValidation": True},
    )
    s3.stubber.add_response("get_bucket_tagging", {"TagSet": [MY_TAG, WAS_OFF_TAG]}, owner)
    s3.stubber.add_response("get_bucket_notification_configuration", EVENTBRIDGE_ON, owner)
    s3.stubber.add_response(
        "put_bucket_notification_configuration",
        {},
        {**owner, "NotificationConfiguration": {}, "SkipDestinationValidation": True},
    )
    s3.stubber.add_response("delete_bucket_tagging", {}, owner)

    created = run(s3, cfn_event("Create", answer_server.url, ExpectedBucketOwner="123456789012"), answer_server)
    answer_server.answers.clear()
    deleted = run(
        s3,
        cfn_event("Delete", answer_server.url, physical_id=TAG_RECORD_ID, ExpectedBucketOwner="123456789012"),
        answer_server,
    )

    assert (created["Status"], deleted["Status"]) == ("SUCCESS", "SUCCESS")


def test_create_on_a_bucket_with_no_room_for_the_record_fails_and_changes_nothing(
    s3: S3Stubs, answer_server: AnswerServer
) -> None:
    # GIVEN 49 of S3's 50 tags in use: the record needs two (this stack and the before-fact)
    expect_read(s3.stubber, OWNERS_NOTIFICATIONS)
    expect_tags(s3.stubber, [{"Key": f"cost-centre-{n}", "Value": "x"} for n in range(49)])

    answer = run(s3, cfn_event("Create", answer_server.url), answer_server)

    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith(
        "the bucket has 49 tags; the adopter record needs 2 more and S3 allows 50 (log stream "
    )
    assert answer["PhysicalResourceId"] == "s3-eventbridge-not-adopted:create-request-6f2c"


def test_delete_of_a_bucket_that_no_longer_exists_succeeds(s3: S3Stubs, answer_server: AnswerServer) -> None:
    s3.stubber.add_client_error(
        "get_bucket_tagging",
        service_error_code="NoSuchBucket",
        service_message="The specified bucket does not exist",
        http_status_code=404,
        expected_params={"Bucket": BUCKET},
    )

    answer = run(s3, cfn_event("Delete", answer_server.url, physical_id=TAG_RECORD_ID), answer_server)

    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == TAG_RECORD_ID


def test_delete_after_a_failed_create_touches_nothing(s3: S3Stubs, answer_server: AnswerServer) -> None:
    answer = run(
        s3,
        cfn_event("Delete", answer_server.url, physical_id="s3-eventbridge-not-adopted:create-request-6f2c"),
        answer_server,
    )

    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == "s3-eventbridge-not-adopted:create-request-6f2c"


def test_access_denied_on_create_answers_failed_with_a_readable_reason(
    s3: S3Stubs, answer_server: AnswerServer
) -> None:
    s3.stubber.add_client_error(
        "get_bucket_notification_configuration",
        service_error_code="AccessDenied",
        service_message="Access Denied",
        http_status_code=403,
        expected_params={"Bucket": BUCKET},
    )

    answer = run(s3, cfn_event("Create", answer_server.url), answer_server)

    assert answer["Status"] == "FAILED"
    assert answer["Reason"] == (
        "GetBucketNotificationConfiguration on bucket 'my-artifact-bucket' failed: AccessDenied: Access Denied"
        f" (log stream {LocalLambdaContext().log_stream_name})"
    )
    # Nothing was adopted: the rollback's Delete for this id leaves the bucket alone.
    assert answer["PhysicalResourceId"] == "s3-eventbridge-not-adopted:create-request-6f2c"
    assert parse_physical_id(answer["PhysicalResourceId"]) is None


def test_refused_record_write_on_create_answers_failed_before_eventbridge_is_touched(
    s3: S3Stubs, answer_server: AnswerServer
) -> None:
    # GIVEN S3 refuses the tag write (a bucket with ABAC on takes tags only through TagResource, say)
    expect_read(s3.stubber, OWNERS_NOTIFICATIONS)
    expect_tags(s3.stubber, [])
    s3.stubber.add_client_error(
        "put_bucket_tagging", service_error_code="AccessDenied", service_message="Access Denied", http_status_code=403
    )

    answer = run(s3, cfn_event("Create", answer_server.url), answer_server)

    # THEN no notification write was made (none is queued), and the reason names the call
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith(
        "PutBucketTagging on bucket 'my-artifact-bucket' failed: AccessDenied: Access Denied"
    )


def test_access_denied_on_delete_answers_failed_and_keeps_the_physical_id(
    s3: S3Stubs, answer_server: AnswerServer
) -> None:
    expect_tags(s3.stubber, [MY_TAG, WAS_OFF_TAG])
    expect_read(s3.stubber, {**OWNERS_NOTIFICATIONS, **EVENTBRIDGE_ON})
    s3.stubber.add_client_error(
        "put_bucket_notification_configuration",
        service_error_code="AccessDenied",
        service_message="Access Denied",
        http_status_code=403,
    )

    answer = run(s3, cfn_event("Delete", answer_server.url, physical_id=TAG_RECORD_ID), answer_server)

    # The record still names this stack, so CloudFormation's retry of the Delete can finish the job.
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith(
        "PutBucketNotificationConfiguration on bucket 'my-artifact-bucket' failed: AccessDenied: Access Denied"
    )
    assert answer["PhysicalResourceId"] == TAG_RECORD_ID


def test_failed_update_keeps_the_old_physical_id(s3: S3Stubs, answer_server: AnswerServer) -> None:
    answer = run(
        s3,
        cfn_event("Update", answer_server.url, bucket="Not_A_Bucket", physical_id=TAG_RECORD_ID),
        answer_server,
    )

    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("BucketName must be an S3 bucket name, got 'Not_A_Bucket'")
    assert answer["PhysicalResourceId"] == TAG_RECORD_ID


class ExplodingNotifications(BucketNotifications):
    def __init__(self) -> None:
        pass

    def read(self, target: Any) -> dict[str, Any]:
        raise RuntimeError("socket closed under us")


def test_an_unexpected_exception_still_answers_failed(s3: S3Stubs, answer_server: AnswerServer) -> None:
    handler.handle_request(cfn_event("Create", answer_server.url), adopter_context(), ExplodingNotifications(), s3.tags)

    answer = only_answer(answer_server)
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("unexpected RuntimeError: socket closed under us")


class NotificationsStuckUntilAnswered(BucketNotifications):
    """S3 that hangs until CloudFormation has been answered, as a call that outlives the function would."""

    def __init__(self, answered: threading.Event) -> None:
        self.answered = answered
        self.writes: list[dict[str, Any]] = []

    def read(self, target: Any) -> dict[str, Any]:
        assert self.answered.wait(timeout=30), "the timeout guard never answered"
        return {}

    def write(self, target: Any, configuration: dict[str, Any]) -> None:
        self.writes.append(configuration)


class UntaggedBucket(BucketTags):
    """A bucket without tags that keeps what is written to it."""

    def __init__(self) -> None:
        self.writes: list[list[dict[str, str]]] = []

    def read(self, target: Any) -> list[dict[str, str]]:
        return []

    def write(self, target: Any, tags: list[dict[str, str]]) -> None:
        self.writes.append(tags)


def test_near_the_timeout_cloudformation_is_answered_failed_once(answer_server: AnswerServer) -> None:
    # GIVEN less time left than the guard's margin, and S3 that does not answer before CloudFormation is told
    notifications = NotificationsStuckUntilAnswered(answer_server.first_answer)
    context = adopter_context(timeout_s=handler.TIMEOUT_MARGIN_S - 0.001)

    handler.handle_request(cfn_event("Create", answer_server.url), context, notifications, UntaggedBucket())

    # THEN one FAILED answer, and the late success after it is dropped
    answer = only_answer(answer_server)
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("timed out before the bucket's notifications could be set")
    assert answer["PhysicalResourceId"] == "s3-eventbridge-not-adopted:create-request-6f2c"


def test_lambda_handler_entry_point_answers_through_the_module_client(
    s3: S3Stubs, answer_server: AnswerServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    expect_read(s3.stubber, EVENTBRIDGE_ON)
    expect_tags(s3.stubber, [])
    expect_tags_write(s3.stubber, [MY_TAG, WAS_ON_TAG])
    monkeypatch.setattr(handler, "_s3_adapters", lambda: (s3.notifications, s3.tags))

    handler.lambda_handler(cfn_event("Create", answer_server.url), adopter_context())  # type: ignore[arg-type]

    assert only_answer(answer_server)["Data"]["EventBridgeWasEnabled"] == "true"


# ---------- the answer itself ----------

REQUEST = Request(
    request_type="Create",
    response_url="https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/x",
    stack_id=STACK_ID,
    request_id="create-request-6f2c",
    logical_resource_id="SourceBucketEventBridge",
)


def test_a_long_reason_is_cut_to_fit_cloudformations_4096_byte_limit() -> None:
    body = response_body(REQUEST, "FAILED", "s3-eventbridge-not-adopted:x", reason='é"' * 5000)

    document = json.loads(body)
    assert len(body) <= MAX_BODY_BYTES
    assert document["Reason"].endswith("...")
    assert len(document["Reason"]) > 100


def test_sending_is_retried_then_given_up_loudly() -> None:
    attempts: list[bytes] = []
    pauses: list[float] = []

    def flaky_send(url: str, body: bytes) -> None:
        attempts.append(body)
        if len(attempts) < 3:
            raise ConnectionResetError("reset by peer")

    responder = Responder(REQUEST, send=flaky_send, sleep=pauses.append)
    assert responder.succeed("s3-eventbridge:my-artifact-bucket:was-on", {})
    assert len(attempts) == 3
    assert len(set(attempts)) == 1
    assert pauses == [1, 2]

    def broken_send(url: str, body: bytes) -> None:
        raise ConnectionRefusedError("refused")

    with pytest.raises(ConnectionRefusedError):
        Responder(REQUEST, send=broken_send, sleep=pauses.append).fail("x", "boom")


def test_only_the_first_answer_is_sent() -> None:
    sent: list[bytes] = []
    responder = Responder(REQUEST, send=lambda url, body: sent.append(body))

    assert responder.fail("s3-eventbridge-not-adopted:x", "timed out")
    assert not responder.succeed("s3-eventbridge:my-artifact-bucket:was-off", {})

    assert [json.loads(body)["Status"] for body in sent] == ["FAILED"]
