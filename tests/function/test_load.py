"""1,000 deliveries through the queue's batches against a CodePipeline that fails often: nothing lost, nothing doubled.

The deliveries are what EventBridge sends in a busy hour: uploads that match one or two routes, some
delivered two or three times under different event ids (at-least-once), unversioned uploads, uploads
under a route whose pipeline does not exist, events for other keys, buckets and event types, and a
few malformed ones. The fake CodePipeline throttles, answers 5xx, conflicts, refuses a share of calls
with a permanent error, and sometimes starts the execution but loses the answer; like the real
service it treats a repeated clientRequestToken as the same execution. The trigger queue is played as
AWS runs it: batches of 10; a record the function names in batchItemFailures is tried again, later,
in another batch, until it was received MaxReceiveCount times; then it is in the failed-start queue.
"""

from __future__ import annotations

import copy
import json
import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from local.aws_models.codepipeline import FakeCodePipeline
from local.aws_models.s3 import FakeS3
from local.sam_transform import transformed
from ops.template_model import REQUIRED_PARAMETERS, deployed
from support.events import fresh, load_event
from trigger_fn.batch import handle_batch
from trigger_fn.clients import AwsClients
from trigger_fn.pacing import BUSY_PAUSE_MAX_S
from trigger_fn.retries import RetryPolicy
from trigger_fn.s3_event import read_object_created
from trigger_fn.settings import load_settings
from trigger_fn.tokens import request_token

SEED = 20261120
DELIVERIES = 1000
BUCKET = "my-artifact-bucket"
# The template's: the queue's redrive policy (MaxReceiveCount) and the event source mapping's batch size.
_TEMPLATE = deployed(transformed(), REQUIRED_PARAMETERS)["Resources"]
MAX_RECEIVE_COUNT = int(_TEMPLATE["TriggerQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"])
BATCH_SIZE = int(_TEMPLATE["TriggerFunctionQueue"]["Properties"]["BatchSize"])
SETTINGS = load_settings(
    {
        "SOURCE_BUCKET": BUCKET,
        "ROUTES": json.dumps(
            [
                {"key": "releases/*.zip", "pipeline": "release"},
                {"key": "*.zip", "pipeline": "everything"},
                {"key": "broken/*", "pipeline": "deleted-pipeline"},
            ]
        ),
    }
)
# "deleted-pipeline" is routed to but does not exist.
EXISTING_PIPELINES = ("release", "everything")


@dataclass(frozen=True)
class Upload:
    """One object version, and what the function must do with each delivery of it."""

    name: str
    kind: str
    pipelines: tuple[str, ...] = ()  # pipelines that exist and must run exactly once for it
    ignore_reason: str | None = None


@dataclass
class Delivery:
    upload: Upload
    event: dict[str, Any]
    message_id: str = ""
    attempts: int = 0
    outcome: str = ""  # "settled" (left the queue) or "dlq"


def _seeded(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 - reproducible test data, not security


# The shared fake's faults, each a share of StartPipelineExecution calls: about 30 % fail.
FAULTS = (
    ("throttled", 0.12),
    ("server-error", 0.06),
    ("conflict", 0.04),
    ("access-denied", 0.02),  # permanent
    ("connection-lost", 0.02),
    ("started-answer-lost", 0.04),
)


def _event(rng: random.Random, template: str, key: str) -> dict[str, Any]:
    # Delivered within the token window: this test is about the token; test_ordering covers late events.
    event = fresh(load_event(template))
    obj = event["detail"]["object"]
    obj["key"] = key
    obj["sequencer"] = f"{rng.getrandbits(64):016X}"
    if "version-id" in obj:
        obj["version-id"] = f"{rng.getrandbits(96):024x}.v"
    return event


def _uploads(rng: random.Random) -> list[Delivery]:
    """Uploads of every kind, each delivered one to three times with a fresh event id, shuffled."""
    kinds = [
        ("release", 30, "put-object.json", "releases/app-{}.zip", ("release", "everything"), None),
        ("site", 25, "put-object.json", "site-{}.zip", ("everything",), None),
        ("unversioned", 8, "put-object-unversioned.json", "site-u{}.zip", ("everything",), None),
        ("broken", 5, "put-object.json", "broken/thing-{}.zip", ("everything",), None),
        ("other-key", 14, "put-object.json", "docs/notes-{}.txt", (), "no_matching_route"),
        ("other-bucket", 8, "other-bucket.json", "site-{}.zip", (), "other_bucket"),
        ("deleted", 7, "object-deleted.json", "site-{}.zip", (), "not_object_created"),
        ("malformed", 3, "put-object.json", "site-{}.zip", (), None),
    ]
    deliveries: list[Delivery] = []
    number = 0
    while len(deliveries) < DELIVERIES:
        number += 1
        kind, _, template, key_pattern, pipelines, reason = rng.choices(kinds, weights=[k[1] for k in kinds])[0]
        upload = Upload(f"{kind}-{number}", kind, pipelines, reason)
        first = _event(rng, template, key_pattern.format(number))
        if kind == "malformed":
            del first["detail"]["object"]["key"]
        for _ in range(rng.choices([1, 2, 3], weights=[6, 3, 1])[0]):
            # At-least-once: the same object version again, under a new event id.
            again = copy.deepcopy(first)
            again["id"] = f"{rng.getrandbits(128):032x}"
            deliveries.append(Delivery(upload, again))
    del deliveries[DELIVERIES:]
    rng.shuffle(deliveries)
    for number, delivery in enumerate(deliveries):
        delivery.message_id = f"message-{number:04d}"
    return deliveries


def _run_like_the_queue(deliveries: list[Delivery], clients: AwsClients) -> list[Delivery]:
    """Each round hands every message still in the queue to the function, in batches; a record it names in
    batchItemFailures stays for the next round. What is left after MaxReceiveCount rounds is dead-lettered."""
    pending = deliveries
    for _ in range(MAX_RECEIVE_COUNT):
        returned = []
        for first in range(0, len(pending), BATCH_SIZE):
            batch = pending[first : first + BATCH_SIZE]
            records = [
                {"messageId": d.message_id, "body": json.dumps(d.event), "eventSource": "aws:sqs"} for d in batch
            ]
            result = handle_batch({"Records": records}, SETTINGS, clients)
            failed = {failure["itemIdentifier"] for failure in result["batchItemFailures"]}
            for delivery in batch:
                delivery.attempts += 1
                if delivery.message_id in failed:
                    returned.append(delivery)
                else:
                    delivery.outcome = "settled"
        pending = returned
    for delivery in pending:
        delivery.outcome = "dlq"
    return pending


def _started_for(deliveries: list[Delivery], codepipeline: FakeCodePipeline) -> Counter[tuple[str, str]]:
    """Service side: the executions started for each (upload, pipeline), told apart by their tokens."""
    upload_of_token = {}
    for delivery in deliveries:
        if delivery.upload.pipelines:
            upload = read_object_created(delivery.event)
            for pipeline in (*EXISTING_PIPELINES, "deleted-pipeline"):
                upload_of_token[request_token(pipeline, upload)] = delivery.upload.name
    started: Counter[tuple[str, str]] = Counter()
    for execution in codepipeline.executions:
        started[(upload_of_token[execution.params["clientRequestToken"]], execution.pipeline)] += 1
    return started


def test_a_thousand_deliveries_under_faults_lose_nothing_and_start_each_version_once() -> None:
    # GIVEN 1,000 deliveries and a CodePipeline that fails about 30 % of calls
    deliveries = _uploads(_seeded(SEED))
    codepipeline = FakeCodePipeline.with_pipelines(*EXISTING_PIPELINES, random_faults=FAULTS, rng=_seeded(SEED + 1))
    sleeps: list[float] = []
    # Each upload is its key's only version, so S3 reports every event's version as current.
    s3 = FakeS3.holding(*(d.event for d in deliveries if d.upload.kind != "malformed"))
    clients = AwsClients(codepipeline, s3=s3, retry=RetryPolicy(sleep=sleeps.append))  # type: ignore[arg-type]

    # WHEN the queue hands them to the function, again and again for what it returns
    dlq = _run_like_the_queue(deliveries, clients)
    started_for = _started_for(deliveries, codepipeline)

    # THEN every delivery is accounted for: it left the queue, or it is in the failed-start queue
    assert len(deliveries) == DELIVERIES
    assert all(delivery.outcome in {"settled", "dlq"} for delivery in deliveries)
    for delivery in deliveries:
        if delivery.upload.ignore_reason:
            # Ignored at once, never returned to the queue, nothing started.
            assert (delivery.outcome, delivery.attempts) == ("settled", 1)
            assert not [key for key in started_for if key[0] == delivery.upload.name]

    # AND only what must be kept is kept, after MaxReceiveCount tries: malformed events, the deleted pipeline's
    # uploads, and (rarely) transient faults that outlasted every try
    assert all(delivery.attempts == MAX_RECEIVE_COUNT for delivery in dlq)
    assert all(d.outcome == "dlq" for d in deliveries if d.upload.kind in {"malformed", "broken"})
    assert all(d.attempts < MAX_RECEIVE_COUNT or d in dlq for d in deliveries)

    # AND each pipeline ran exactly once per object version, whatever the redeliveries, retries and lost answers
    expected = {(d.upload.name, p) for d in deliveries for p in d.upload.pipelines}
    assert max(started_for.values()) == 1
    assert set(started_for) <= expected
    never_started = expected - set(started_for)
    # A pipeline may stay unstarted only if every delivery of that version was dead-lettered.
    assert all(all(d.outcome == "dlq" for d in deliveries if d.upload.name == name) for name, _ in never_started), (
        never_started
    )
    # A version whose deliveries all left the queue started all of its pipelines.
    settled = {d.upload.name for d in deliveries if d.outcome == "settled" and d.upload.pipelines}
    assert {(name, p) for name, p in expected if name in settled} <= set(started_for)
    assert codepipeline.token_mismatches == []

    # AND the faults really happened, including answers lost after the start, which tokens made harmless
    for fault, _ in FAULTS:
        assert codepipeline.faults[fault] >= 5, codepipeline.faults
    assert codepipeline.replays >= 5
    assert sleeps
    # In-call backoffs, and the pauses between records after a busy answer: each bounded.
    assert all(0 <= delay <= max(RetryPolicy().max_delay_s, BUSY_PAUSE_MAX_S) for delay in sleeps)
    summary = Counter(delivery.outcome for delivery in deliveries)
    print(f"outcomes {dict(summary)}; faults {dict(codepipeline.faults)}; calls {len(codepipeline.requests)}")


def test_the_same_run_gives_the_same_outcome() -> None:
    # Seeded: a failure here can be replayed exactly.
    first = [(d.upload.name, d.event["id"]) for d in _uploads(_seeded(SEED))]
    second = [(d.upload.name, d.event["id"]) for d in _uploads(_seeded(SEED))]

    assert first == second
