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
    Adoption,
    InvalidProperties,
    parse_physical_id,
    plan_adopt,
    plan_release,
    plan_update,
    target_from_properties,
)
from bucket_adopter.bucket_client import BucketNotifications
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


@pytest.fixture
def s3() -> Iterator[tuple[BucketNotifications, Stubber]]:
    client = boto3.client("s3", region_name="eu-west-1")
    stubber = Stubber(client)
    with stubber:
        yield BucketNotifications(client), stubber
        # Every queued S3 response was asked for: no expected read or write was skipped.
        stubber.assert_no_pending_responses()


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
        ("s3-eventbridge:my-artifact-bucket:was-on", Adoption("my-artifact-bucket", was_on=True)),
        ("s3-eventbridge:my.dotted.bucket:was-off", Adoption("my.dotted.bucket", was_on=False)),
        ("s3-eventbridge-not-adopted:create-request-6f2c", None),
        ("s3-eventbridge:my-artifact-bucket:maybe", None),
        ("s3-eventbridge:Not_A_Bucket:was-on", None),
        ("other:my-artifact-bucket:was-on", None),
        ("", None),
    ],
    ids=["was-on", "dotted-was-off", "failed-create", "unknown-state", "bad-bucket", "other-prefix", "empty"],
)
def test_parse_physical_id(physical_id: str, expected: Adoption | None) -> None:
    assert parse_physical_id(physical_id) == expected


def test_physical_id_round_trips() -> None:
    for adoption in (Adoption(BUCKET, was_on=True), Adoption(BUCKET, was_on=False)):
        assert parse_physical_id(adoption.physical_id) == adoption


def test_plan_update_keeps_the_before_fact_for_the_same_bucket_even_though_eventbridge_is_on_now() -> None:
    # GIVEN the stack itself turned EventBridge on at Create (the bucket reads "on" now)
    previous = Adoption(BUCKET, was_on=False)

    change = plan_update(previous, BUCKET, {**OWNERS_NOTIFICATIONS, **EVENTBRIDGE_ON})

    assert change.adoption == previous
    assert change.write is None


def test_plan_update_adopts_a_new_bucket_afresh() -> None:
    change = plan_update(Adoption(BUCKET, was_on=False), OTHER_BUCKET, EVENTBRIDGE_ON)

    assert change.adoption == Adoption(OTHER_BUCKET, was_on=True)
    assert change.write is None


def test_plan_adopt_and_release_of_a_bucket_that_was_off_restore_the_original() -> None:
    change = plan_adopt(BUCKET, OWNERS_NOTIFICATIONS)
    assert change.write is not None

    restored = plan_release(change.adoption, change.write)

    assert restored == OWNERS_NOTIFICATIONS


def test_plan_release_leaves_a_bucket_alone_when_eventbridge_was_on_before() -> None:
    assert plan_release(Adoption(BUCKET, was_on=True), {**OWNERS_NOTIFICATIONS, **EVENTBRIDGE_ON}) is None


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


def test_create_turns_eventbridge_on_and_writes_back_the_queue_topic_and_lambda_notifications(
    s3: tuple[BucketNotifications, Stubber], answer_server: AnswerServer
) -> None:
    notifications, stubber = s3
    # GIVEN a bucket with the owner's notifications and EventBridge off
    expect_read(stubber, OWNERS_NOTIFICATIONS)
    # THEN exactly this whole configuration is written back, EventBridge added
    expect_write(stubber, {**OWNERS_NOTIFICATIONS, "EventBridgeConfiguration": {}})

    handler.handle_request(cfn_event("Create", answer_server.url), adopter_context(), notifications)

    answer = only_answer(answer_server)
    assert answer == {
        "Status": "SUCCESS",
        "Reason": "",
        "PhysicalResourceId": "s3-eventbridge:my-artifact-bucket:was-off",
        "StackId": STACK_ID,
        "RequestId": "create-request-6f2c",
        "LogicalResourceId": "SourceBucketEventBridge",
        "Data": {"BucketName": BUCKET, "EventBridgeWasEnabled": "false"},
    }


def test_the_answer_is_a_put_with_an_empty_content_type_to_the_exact_presigned_url(
    s3: tuple[BucketNotifications, Stubber], answer_server: AnswerServer
) -> None:
    notifications, stubber = s3
    expect_read(stubber, EVENTBRIDGE_ON)

    handler.handle_request(cfn_event("Create", answer_server.url), adopter_context(), notifications)

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


def test_already_on_bucket_is_recorded_as_was_on_and_delete_leaves_it_on(
    s3: tuple[BucketNotifications, Stubber], answer_server: AnswerServer
) -> None:
    notifications, stubber = s3
    # GIVEN EventBridge was on before the stack came: Create reads and writes nothing back
    expect_read(stubber, {**OWNERS_NOTIFICATIONS, **EVENTBRIDGE_ON})

    handler.handle_request(cfn_event("Create", answer_server.url), adopter_context(), notifications)
    created = only_answer(answer_server)
    assert created["PhysicalResourceId"] == "s3-eventbridge:my-artifact-bucket:was-on"
    assert created["Data"]["EventBridgeWasEnabled"] == "true"

    # WHEN the stack is deleted THEN no S3 call is made at all (the Stubber has nothing queued)
    answer_server.answers.clear()
    handler.handle_request(
        cfn_event("Delete", answer_server.url, physical_id=created["PhysicalResourceId"]),
        adopter_context(),
        notifications,
    )

    deleted = only_answer(answer_server)
    assert deleted["Status"] == "SUCCESS"
    assert deleted["PhysicalResourceId"] == "s3-eventbridge:my-artifact-bucket:was-on"


def test_delete_of_a_bucket_that_was_off_turns_eventbridge_off_and_keeps_the_others(
    s3: tuple[BucketNotifications, Stubber], answer_server: AnswerServer
) -> None:
    notifications, stubber = s3
    expect_read(stubber, {**OWNERS_NOTIFICATIONS, **EVENTBRIDGE_ON})
    expect_write(stubber, OWNERS_NOTIFICATIONS)

    handler.handle_request(
        cfn_event("Delete", answer_server.url, physical_id="s3-eventbridge:my-artifact-bucket:was-off"),
        adopter_context(),
        notifications,
    )

    answer = only_answer(answer_server)
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == "s3-eventbridge:my-artifact-bucket:was-off"


def test_delete_repeated_after_eventbridge_is_already_off_writes_nothing(
    s3: tuple[BucketNotifications, Stubber], answer_server: AnswerServer
) -> None:
    notifications, stubber = s3
    expect_read(stubber, OWNERS_NOTIFICATIONS)

    handler.handle_request(
        cfn_event("Delete", answer_server.url, physical_id="s3-eventbridge:my-artifact-bucket:was-off"),
        adopter_context(),
        notifications,
    )

    assert only_answer(answer_server)["Status"] == "SUCCESS"


def test_update_of_the_same_bucket_keeps_was_off_although_the_stack_turned_eventbridge_on(
    s3: tuple[BucketNotifications, Stubber], answer_server: AnswerServer
) -> None:
    notifications, stubber = s3
    # GIVEN Create recorded was-off and turned EventBridge on: the bucket reads "on" now
    expect_read(stubber, {**OWNERS_NOTIFICATIONS, **EVENTBRIDGE_ON})

    handler.handle_request(
        cfn_event(
            "Update",
            answer_server.url,
            physical_id="s3-eventbridge:my-artifact-bucket:was-off",
            old_bucket=BUCKET,
            ExpectedBucketOwner="",
        ),
        adopter_context(),
        notifications,
    )

    answer = only_answer(answer_server)
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == "s3-eventbridge:my-artifact-bucket:was-off"
    assert answer["Data"]["EventBridgeWasEnabled"] == "false"


def test_update_turns_eventbridge_back_on_when_someone_turned_it_off_and_keeps_the_before_fact(
    s3: tuple[BucketNotifications, Stubber], answer_server: AnswerServer
) -> None:
    notifications, stubber = s3
    expect_read(stubber, OWNERS_NOTIFICATIONS)
    expect_write(stubber, {**OWNERS_NOTIFICATIONS, "EventBridgeConfiguration": {}})

    handler.handle_request(
        cfn_event(
            "Update", answer_server.url, physical_id="s3-eventbridge:my-artifact-bucket:was-off", old_bucket=BUCKET
        ),
        adopter_context(),
        notifications,
    )

    assert only_answer(answer_server)["PhysicalResourceId"] == "s3-eventbridge:my-artifact-bucket:was-off"


def test_update_to_another_bucket_adopts_it_under_a_new_physical_id(
    s3: tuple[BucketNotifications, Stubber], answer_server: AnswerServer
) -> None:
    notifications, stubber = s3
    expect_read(stubber, OWNERS_NOTIFICATIONS, bucket=OTHER_BUCKET)
    expect_write(stubber, {**OWNERS_NOTIFICATIONS, "EventBridgeConfiguration": {}}, bucket=OTHER_BUCKET)

    handler.handle_request(
        cfn_event(
            "Update",
            answer_server.url,
            bucket=OTHER_BUCKET,
            physical_id="s3-eventbridge:my-artifact-bucket:was-on",
            old_bucket=BUCKET,
        ),
        adopter_context(),
        notifications,
    )

    answer = only_answer(answer_server)
    # A new physical id: CloudFormation then sends Delete for the old one.
    assert answer["PhysicalResourceId"] == "s3-eventbridge:my-other-bucket:was-off"
    assert answer["Data"] == {"BucketName": OTHER_BUCKET, "EventBridgeWasEnabled": "false"}


def test_expected_bucket_owner_is_sent_with_every_s3_call(
    s3: tuple[BucketNotifications, Stubber], answer_server: AnswerServer
) -> None:
    notifications, stubber = s3
    owner = {"Bucket": BUCKET, "ExpectedBucketOwner": "123456789012"}
    stubber.add_response("get_bucket_notification_configuration", {}, owner)
    stubber.add_response(
        "put_bucket_notification_configuration",
        {},
        {**owner, "NotificationConfiguration": {"EventBridgeConfiguration": {}}, "SkipDestinationValidation": True},
    )

    handler.handle_request(
        cfn_event("Create", answer_server.url, ExpectedBucketOwner="123456789012"), adopter_context(), notifications
    )

    assert only_answer(answer_server)["Status"] == "SUCCESS"


def test_delete_of_a_bucket_that_no_longer_exists_succeeds(
    s3: tuple[BucketNotifications, Stubber], answer_server: AnswerServer
) -> None:
    notifications, stubber = s3
    stubber.add_client_error(
        "get_bucket_notification_configuration",
        service_error_code="NoSuchBucket",
        service_message="The specified bucket does not exist",
        http_status_code=404,
        expected_params={"Bucket": BUCKET},
    )

    handler.handle_request(
        cfn_event("Delete", answer_server.url, physical_id="s3-eventbridge:my-artifact-bucket:was-off"),
        adopter_context(),
        notifications,
    )

    answer = only_answer(answer_server)
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == "s3-eventbridge:my-artifact-bucket:was-off"


def test_delete_after_a_failed_create_touches_nothing(
    s3: tuple[BucketNotifications, Stubber], answer_server: AnswerServer
) -> None:
    notifications, _ = s3

    handler.handle_request(
        cfn_event("Delete", answer_server.url, physical_id="s3-eventbridge-not-adopted:create-request-6f2c"),
        adopter_context(),
        notifications,
    )

    answer = only_answer(answer_server)
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == "s3-eventbridge-not-adopted:create-request-6f2c"


def test_access_denied_on_create_answers_failed_with_a_readable_reason(
    s3: tuple[BucketNotifications, Stubber], answer_server: AnswerServer
) -> None:
    notifications, stubber = s3
    stubber.add_client_error(
        "get_bucket_notification_configuration",
        service_error_code="AccessDenied",
        service_message="Access Denied",
        http_status_code=403,
        expected_params={"Bucket": BUCKET},
    )

    handler.handle_request(cfn_event("Create", answer_server.url), adopter_context(), notifications)

    answer = only_answer(answer_server)
    assert answer["Status"] == "FAILED"
    assert answer["Reason"] == (
        "GetBucketNotificationConfiguration on bucket 'my-artifact-bucket' failed: AccessDenied: Access Denied"
        f" (log stream {LocalLambdaContext().log_stream_name})"
    )
    # Nothing was adopted: the rollback's Delete for this id leaves the bucket alone.
    assert answer["PhysicalResourceId"] == "s3-eventbridge-not-adopted:create-request-6f2c"
    assert parse_physical_id(answer["PhysicalResourceId"]) is None


def test_access_denied_on_delete_answers_failed_and_keeps_the_physical_id(
    s3: tuple[BucketNotifications, Stubber], answer_server: AnswerServer
) -> None:
    notifications, stubber = s3
    expect_read(stubber, {**OWNERS_NOTIFICATIONS, **EVENTBRIDGE_ON})
    stubber.add_client_error(
        "put_bucket_notification_configuration",
        service_error_code="AccessDenied",
        service_message="Access Denied",
        http_status_code=403,
    )

    handler.handle_request(
        cfn_event("Delete", answer_server.url, physical_id="s3-eventbridge:my-artifact-bucket:was-off"),
        adopter_context(),
        notifications,
    )

    answer = only_answer(answer_server)
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith(
        "PutBucketNotificationConfiguration on bucket 'my-artifact-bucket' failed: AccessDenied: Access Denied"
    )
    assert answer["PhysicalResourceId"] == "s3-eventbridge:my-artifact-bucket:was-off"


def test_failed_update_keeps_the_old_physical_id(
    s3: tuple[BucketNotifications, Stubber], answer_server: AnswerServer
) -> None:
    notifications, _ = s3

    handler.handle_request(
        cfn_event(
            "Update", answer_server.url, bucket="Not_A_Bucket", physical_id="s3-eventbridge:my-artifact-bucket:was-off"
        ),
        adopter_context(),
        notifications,
    )

    answer = only_answer(answer_server)
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("BucketName must be an S3 bucket name, got 'Not_A_Bucket'")
    assert answer["PhysicalResourceId"] == "s3-eventbridge:my-artifact-bucket:was-off"


class ExplodingNotifications(BucketNotifications):
    def __init__(self) -> None:
        pass

    def read(self, target: Any) -> dict[str, Any]:
        raise RuntimeError("socket closed under us")


def test_an_unexpected_exception_still_answers_failed(answer_server: AnswerServer) -> None:
    handler.handle_request(cfn_event("Create", answer_server.url), adopter_context(), ExplodingNotifications())

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


def test_near_the_timeout_cloudformation_is_answered_failed_once(answer_server: AnswerServer) -> None:
    # GIVEN less time left than the guard's margin, and S3 that does not answer before CloudFormation is told
    notifications = NotificationsStuckUntilAnswered(answer_server.first_answer)
    context = adopter_context(timeout_s=handler.TIMEOUT_MARGIN_S - 0.001)

    handler.handle_request(cfn_event("Create", answer_server.url), context, notifications)

    # THEN one FAILED answer, and the late success after it is dropped
    answer = only_answer(answer_server)
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("timed out before the bucket's notifications could be set")
    assert answer["PhysicalResourceId"] == "s3-eventbridge-not-adopted:create-request-6f2c"


def test_lambda_handler_entry_point_answers_through_the_module_client(
    s3: tuple[BucketNotifications, Stubber], answer_server: AnswerServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    notifications, stubber = s3
    expect_read(stubber, EVENTBRIDGE_ON)
    monkeypatch.setattr(handler, "_notifications", lambda: notifications)

    handler.lambda_handler(cfn_event("Create", answer_server.url), adopter_context())  # type: ignore[arg-type]

    assert only_answer(answer_server)["PhysicalResourceId"] == "s3-eventbridge:my-artifact-bucket:was-on"


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
