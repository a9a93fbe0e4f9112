"""The queue's batches: each record settled alone, a key's newest version known before older ones, failures
returned to the queue (never dropped, never to a person before MaxReceiveCount). CodePipeline and S3 are the tests'
shared models (requests, HeadObjects and their order recorded); the queue itself is moto's SQS with the template's
redrive policy."""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, NamedTuple

import boto3
import pytest
from moto import mock_aws

from local.aws_models.codepipeline import FakeCodePipeline
from local.aws_models.s3 import FakeS3
from local.lambda_context import LocalLambdaContext
from local.sam_transform import transformed
from ops.template_model import REQUIRED_PARAMETERS, deployed
from support.environment import FUNCTION_ENV
from support.events import load_event
from support.function_output import FunctionOutput, emitted_metrics
from trigger_fn import handler
from trigger_fn.batch import handle_batch
from trigger_fn.clients import AwsClients
from trigger_fn.queue_records import is_queue_batch
from trigger_fn.retries import RetryPolicy
from trigger_fn.settings import Settings, load_settings

BUCKET = "my-artifact-bucket"
KEY = "my-website.zip"
PIPELINE = "my-website-pipeline"
NO_WAIT = RetryPolicy(sleep=lambda _: None)
ROUTES = [{"key": "*.zip", "pipeline": "deploy"}, {"key": "*.zip", "pipeline": "archive", "latestOnly": False}]
ROUTED = load_settings({"SOURCE_BUCKET": BUCKET, "ROUTES": json.dumps(ROUTES)})
SINGLE = load_settings(FUNCTION_ENV)
# Three uploads of one key, oldest first. S3 sequencers differ in length: unpadded, "FF" would sort after "0100".
UPLOADS = (("v1.a", "FF"), ("v2.b", "0100"), ("v3.c", "0101A0"))
Journal = list[tuple[str, str]]


def upload_event(version: str, sequencer: str, key: str = KEY, event_id: str | None = None) -> dict[str, Any]:
    """The EventBridge event of one upload, delivered just now (no history lookup)."""
    event: dict[str, Any] = copy.deepcopy(load_event("put-object.json"))
    event["id"] = event_id or f"event-{key}-{version}"
    event["time"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    event["detail"]["object"].update({"key": key, "version-id": version, "sequencer": sequencer})
    return event


def batch(*bodies: Any) -> dict[str, Any]:
    """An SQS event source batch; a dict body is sent as its JSON, a string as it is."""
    return {
        "Records": [
            {
                "messageId": f"m{n}",
                "receiptHandle": f"r{n}",
                "body": body if isinstance(body, str) else json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:s3-pipeline-trigger-TriggerQueue-1",
                "awsRegion": "eu-west-1",
            }
            for n, body in enumerate(bodies, start=1)
        ]
    }


def failed_ids(result: dict[str, Any]) -> list[str]:
    return [failure["itemIdentifier"] for failure in result["batchItemFailures"]]


def _fakes(journal: Journal, *pipelines: str) -> tuple[FakeCodePipeline, FakeS3]:
    """CodePipeline with these pipelines; S3 holding the three uploads, the last one current."""
    s3 = FakeS3(journal=journal)
    for version, _ in UPLOADS:
        s3.put(BUCKET, KEY, version_id=version)
    return FakeCodePipeline.with_pipelines(*pipelines, journal=journal), s3


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))), ids=str)
def test_within_a_batch_no_older_version_of_a_key_starts_after_a_newer_one(order: tuple[int, ...]) -> None:
    # GIVEN three uploads of one key, their events in the batch in any order; a guarded and an every-version route
    journal: Journal = []
    codepipeline, s3 = _fakes(journal, "deploy", "archive")
    events = [upload_event(*UPLOADS[i]) for i in order]

    # WHEN the function takes the batch
    result = handle_batch(batch(*events), ROUTED, AwsClients(codepipeline, s3=s3, retry=NO_WAIT))  # type: ignore[arg-type]

    # THEN nothing is returned to the queue; the guarded route builds only the newest, checked once with S3
    assert failed_ids(result) == []
    assert codepipeline.started_versions("deploy") == [("deploy", "v3.c")]
    assert s3.heads == [(BUCKET, KEY)]
    # AND the every-version route starts each version, oldest first
    assert codepipeline.started_versions("archive") == [("archive", "v1.a"), ("archive", "v2.b"), ("archive", "v3.c")]
    starts = [version for what, version in journal if what == "start"]
    assert starts == sorted(starts)


def test_an_older_latest_only_version_is_superseded_without_asking_s3(output: FunctionOutput) -> None:
    # GIVEN the sample batch: an older and the newer version of the default key, the newer one current
    sample = load_event("sqs-batch.json")
    older, newer = (json.loads(record["body"]) for record in sample["Records"])
    for event in (older, newer):
        event["time"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for record, event in zip(sample["Records"], (older, newer), strict=True):
        record["body"] = json.dumps(event)
    journal: Journal = []
    s3 = FakeS3.holding(older, newer, journal=journal)
    codepipeline = FakeCodePipeline.with_pipelines(PIPELINE, journal=journal)
    clients = AwsClients(codepipeline, s3=s3, retry=NO_WAIT)  # type: ignore[arg-type]

    # WHEN the handler takes it
    result = handler.lambda_handler(sample, LocalLambdaContext(), clients=clients)

    # THEN the newer version is checked and started, the older neither checked nor started
    newer_version = newer["detail"]["object"]["version-id"]
    assert result == {"batchItemFailures": []}
    assert journal == [("head-ok", newer_version), ("start", newer_version)]
    records = output.records()
    (superseded,) = [r for r in records if r.get("message") == "Ignored event"]
    assert superseded["reason_code"] == "superseded"
    assert f"a newer version ({newer_version})" in superseded["reason"]
    assert superseded["reason"].endswith("was uploaded in the same batch; the newer upload builds")
    assert superseded["message_id"] == sample["Records"][0]["messageId"]
    assert superseded["correlation_id"] == older["id"]
    # AND one outcome line per record, each with its message id and its event's correlation id
    settled = [
        (r["message_id"], r["outcome"], r["correlation_id"])
        for r in records
        if r.get("message") == "Batch record settled"
    ]
    assert settled == [
        (sample["Records"][0]["messageId"], "ignored", older["id"]),
        (sample["Records"][1]["messageId"], "started", newer["id"]),
    ]
    metrics = emitted_metrics(records)
    assert ("EventsSuperseded", ("service",), {"service": "s3-pipeline-trigger"}, 1) in metrics


def test_one_bad_record_fails_only_itself(output: FunctionOutput) -> None:
    # GIVEN a batch with a good upload, a body that is no JSON, an event without its key, and another key's upload
    good = upload_event("v3.c", "0101A0")
    no_key = upload_event("v9.z", "0102")
    del no_key["detail"]["object"]["key"]
    other_key = upload_event("o1.a", "01", key="other.zip")
    journal: Journal = []
    codepipeline, s3 = _fakes(journal, PIPELINE)
    clients = AwsClients(codepipeline, s3=s3, retry=NO_WAIT)  # type: ignore[arg-type]

    # WHEN the function takes it
    result = handler.lambda_handler(batch("not json {", good, no_key, other_key), LocalLambdaContext(), clients=clients)

    # THEN only the two unreadable records go back to the queue; the good one started, the other key is ignored
    assert failed_ids(result) == ["m1", "m3"]
    assert codepipeline.started_versions() == [(PIPELINE, "v3.c")]
    records = output.records()
    outcomes = {r["message_id"]: r["outcome"] for r in records if r.get("message") == "Batch record settled"}
    assert outcomes == {"m1": "failed", "m2": "started", "m3": "failed", "m4": "ignored"}
    metrics = emitted_metrics(records)
    assert ("EventsMalformed", ("service",), {"service": "s3-pipeline-trigger"}, 2) in metrics
    assert ("BatchRecordsFailed", ("service",), {"service": "s3-pipeline-trigger"}, 2) in metrics


def test_a_throttled_start_is_returned_to_the_queue_and_the_next_record_waits() -> None:
    # GIVEN CodePipeline throttling the first upload's start on every attempt, then taking starts again
    journal: Journal = []
    codepipeline, s3 = _fakes(journal, "deploy", "archive")
    codepipeline.fail_next(*["throttled"] * NO_WAIT.max_attempts)
    pauses: list[float] = []
    clients = AwsClients(codepipeline, s3=s3, retry=NO_WAIT._replace(sleep=pauses.append))  # type: ignore[arg-type]
    first, second = upload_event("a1.x", "01", key="a.zip"), upload_event("b1.x", "01", key="b.zip")
    s3.put(BUCKET, "a.zip", version_id="a1.x")
    s3.put(BUCKET, "b.zip", version_id="b1.x")

    # WHEN the function takes both
    result = handle_batch(batch(first, second), ROUTED, clients, remaining_s=lambda: 25.0)

    # THEN the throttled record goes back to the queue, the other one is started after a pause
    assert failed_ids(result) == ["m1"]
    assert ("deploy", "b1.x") in codepipeline.started_versions()
    assert ("deploy", "a1.x") not in codepipeline.started_versions()
    busy_pause = pauses[NO_WAIT.max_attempts - 1]
    assert 0 < busy_pause <= 0.5


def test_records_left_when_time_runs_low_go_back_untried() -> None:
    journal: Journal = []
    codepipeline, s3 = _fakes(journal, PIPELINE)
    clients = AwsClients(codepipeline, s3=s3, retry=NO_WAIT)  # type: ignore[arg-type]

    result = handle_batch(batch(upload_event("v3.c", "0101A0")), SINGLE, clients, remaining_s=lambda: 4.0)

    assert failed_ids(result) == ["m1"]
    assert journal == []


def test_a_dry_run_batch_makes_no_aws_call() -> None:
    journal: Journal = []
    codepipeline, s3 = _fakes(journal, "deploy", "archive")
    settings = ROUTED._replace(dry_run=True)
    events = [upload_event(*upload) for upload in UPLOADS]

    result = handle_batch(batch(*events), settings, AwsClients(codepipeline, s3=s3, retry=NO_WAIT))  # type: ignore[arg-type]

    assert failed_ids(result) == []
    assert journal == []
    assert codepipeline.requests == []


def test_an_on_failure_record_from_before_the_queue_is_unwrapped() -> None:
    # Lambda's invocation record, as the failed-start queue kept it before events went through TriggerQueue.
    record = {"requestContext": {"condition": "RetriesExhausted"}, "requestPayload": upload_event("v3.c", "0101A0")}
    journal: Journal = []
    codepipeline, s3 = _fakes(journal, PIPELINE)

    result = handle_batch(batch(record), SINGLE, AwsClients(codepipeline, s3=s3, retry=NO_WAIT))  # type: ignore[arg-type]

    assert failed_ids(result) == []
    assert codepipeline.started_versions() == [(PIPELINE, "v3.c")]


@pytest.mark.parametrize(
    "event",
    [load_event("put-object.json"), {"Records": [{"eventSource": "aws:s3"}]}, {"Records": []}, [1], "text"],
    ids=["eventbridge", "s3-records", "empty-records", "list", "string"],
)
def test_only_an_sqs_batch_takes_the_batch_path(event: Any) -> None:
    assert not is_queue_batch(event)
    assert is_queue_batch(load_event("sqs-batch.json"))


# ---------------------------------------------------------------- the queue, as the template makes it
class Queues(NamedTuple):
    sqs: Any
    trigger_url: str
    failed_url: str
    max_receive_count: int


@pytest.fixture
def queues() -> Iterator[Queues]:
    """moto's SQS with TriggerQueue and FailedStartQueue as the template configures them."""
    resources = deployed(transformed(), REQUIRED_PARAMETERS)["Resources"]
    trigger = resources["TriggerQueue"]["Properties"]
    with mock_aws():
        sqs = boto3.client("sqs", region_name="eu-west-1")
        failed_url = sqs.create_queue(QueueName="failed-starts")["QueueUrl"]
        failed_arn = sqs.get_queue_attributes(QueueUrl=failed_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        redrive = trigger["RedrivePolicy"] | {"deadLetterTargetArn": failed_arn}
        trigger_url = sqs.create_queue(
            QueueName="trigger",
            Attributes={"RedrivePolicy": json.dumps(redrive), "VisibilityTimeout": str(trigger["VisibilityTimeout"])},
        )["QueueUrl"]
        yield Queues(sqs, trigger_url, failed_url, int(trigger["RedrivePolicy"]["maxReceiveCount"]))


def _poll_once(sqs: Any, queue_url: str, clients: AwsClients, settings: Settings = SINGLE) -> int:
    """One poll of the event source mapping: a batch to the function, the records it did not name deleted.

    The named ones are made visible again at once (VisibilityTimeout=0) instead of after the queue's timeout.
    """
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    if not messages:
        return 0
    event = {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "eventSource": "aws:sqs",
            }
            for m in messages
        ]
    }
    retry = set(failed_ids(handle_batch(event, settings, clients)))
    for message in messages:
        if message["MessageId"] in retry:
            sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        else:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return len(messages)


def _waiting(sqs: Any, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_a_failing_event_reaches_the_failed_start_queue_only_after_max_receive_count_tries(queues: Queues) -> None:
    # GIVEN an upload whose pipeline start is refused every time (a permanent fault: a person must fix it)
    sqs, trigger_url, failed_url, max_receive_count = queues
    journal: Journal = []
    codepipeline, s3 = _fakes(journal, PIPELINE)
    codepipeline.fail_next(*["access-denied"] * 50)
    event = upload_event("v3.c", "0101A0")
    sqs.send_message(QueueUrl=trigger_url, MessageBody=json.dumps(event))
    clients = AwsClients(codepipeline, s3=s3, retry=NO_WAIT)  # type: ignore[arg-type]

    # WHEN the mapping polls: every try fails, and the message stays in the queue until its last try
    for _ in range(max_receive_count):
        assert _poll_once(sqs, trigger_url, clients) == 1
        assert _waiting(sqs, failed_url) == 0
    # THEN the next receive finds it moved to the failed-start queue, the event intact
    assert _poll_once(sqs, trigger_url, clients) == 0
    (kept,) = sqs.receive_message(QueueUrl=failed_url).get("Messages", [])
    assert json.loads(kept["Body"]) == event
    assert len(codepipeline.requests) == max_receive_count


def test_a_throttled_event_is_started_on_a_later_try_and_never_lost(queues: Queues) -> None:
    # GIVEN three uploads of different keys, CodePipeline throttling for a while
    sqs, trigger_url, failed_url, _ = queues
    journal: Journal = []
    codepipeline, s3 = _fakes(journal, PIPELINE)
    codepipeline.fail_next(*["throttled"] * (NO_WAIT.max_attempts * 2))
    keys = ("a.zip", "b.zip", "c.zip")
    routed = load_settings({"SOURCE_BUCKET": BUCKET, "ROUTES": json.dumps([{"key": "*.zip", "pipeline": PIPELINE}])})
    for key in keys:
        s3.put(BUCKET, key, version_id=f"{key}.v1")
        sqs.send_message(QueueUrl=trigger_url, MessageBody=json.dumps(upload_event(f"{key}.v1", "01", key=key)))
    clients = AwsClients(codepipeline, s3=s3, retry=NO_WAIT)  # type: ignore[arg-type]

    # WHEN the mapping polls until the queue is empty (never more than the receive count allows)
    for _ in range(5):
        _poll_once(sqs, trigger_url, clients, routed)

    # THEN every upload started once, nothing waits anywhere
    assert sorted(v for _, v in codepipeline.started_versions()) == [f"{key}.v1" for key in keys]
    assert codepipeline.faults["throttled"] == NO_WAIT.max_attempts * 2
    assert (_waiting(sqs, trigger_url), _waiting(sqs, failed_url)) == (0, 0)
