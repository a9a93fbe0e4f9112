"""1,000 deliveries through the handler against a CodePipeline that fails often: nothing lost, nothing doubled.

The deliveries are what EventBridge sends in a busy hour: uploads that match one or two routes, some
delivered two or three times under different event ids (at-least-once), unversioned uploads, uploads
under a route whose pipeline does not exist, events for other keys, buckets and event types, and a
few malformed ones. The fake CodePipeline throttles, answers 5xx, conflicts, refuses a share of calls
with a permanent error, and sometimes starts the execution but loses the answer; like the real
service it treats a repeated clientRequestToken as the same execution. Lambda is played as AWS runs
it: a raised event is tried twice more, later, after other events; then it goes to the DLQ.
"""

from __future__ import annotations

import copy
import json
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from local.aws_models.codepipeline import FakeCodePipeline
from local.aws_models.s3 import FakeS3
from support.events import fresh, load_event
from trigger_fn.clients import AwsClients
from trigger_fn.pipeline_client import StartFailed
from trigger_fn.retries import RetryPolicy
from trigger_fn.s3_event import MalformedEventError
from trigger_fn.settings import load_settings
from trigger_fn.trigger import handle_event

SEED = 20261120
DELIVERIES = 1000
BUCKET = "my-artifact-bucket"
LAMBDA_ATTEMPTS = 3  # the first try and EventInvokeConfig's MaximumRetryAttempts: 2
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
    attempts: int = 0
    outcome: str = ""  # "started", "ignored" or "dlq"
    result: dict[str, Any] = field(default_factory=dict)
    errors: list[BaseException] = field(default_factory=list)


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
    return deliveries


def _run_like_lambda(
    deliveries: list[Delivery], clients: AwsClients, codepipeline: FakeCodePipeline
) -> tuple[list[Delivery], Counter[tuple[str, str]]]:
    """Each round tries every delivery still owed a try; what raised in all three rounds is dead-lettered.

    Also counts, service side, the executions each upload's deliveries made start, per pipeline.
    """
    started_for: Counter[tuple[str, str]] = Counter()
    pending = deliveries
    for _ in range(LAMBDA_ATTEMPTS):
        raised = []
        for delivery in pending:
            delivery.attempts += 1
            before = len(codepipeline.executions)
            try:
                delivery.result = handle_event(copy.deepcopy(delivery.event), SETTINGS, clients)
            except Exception as error:  # noqa: BLE001 - Lambda retries whatever the function raises
                delivery.errors.append(error)
                raised.append(delivery)
                continue
            finally:
                for execution in codepipeline.executions[before:]:
                    assert execution.version_id == delivery.event["detail"]["object"].get("version-id")
                    started_for[(delivery.upload.name, execution.pipeline)] += 1
            delivery.outcome = "started" if delivery.result["status"] == "started" else "ignored"
        pending = raised
    for delivery in pending:
        delivery.outcome = "dlq"
    return pending, started_for


def test_a_thousand_deliveries_under_faults_lose_nothing_and_start_each_version_once() -> None:
    # GIVEN 1,000 deliveries and a CodePipeline that fails about 30 % of calls
    deliveries = _uploads(_seeded(SEED))
    codepipeline = FakeCodePipeline.with_pipelines(*EXISTING_PIPELINES, random_faults=FAULTS, rng=_seeded(SEED + 1))
    sleeps: list[float] = []
    # Each upload is its key's only version, so S3 reports every event's version as current.
    s3 = FakeS3.holding(*(d.event for d in deliveries if d.upload.kind != "malformed"))
    clients = AwsClients(codepipeline, s3=s3, retry=RetryPolicy(sleep=sleeps.append))  # type: ignore[arg-type]

    # WHEN Lambda runs them, retrying what raised
    dlq, started_for = _run_like_lambda(deliveries, clients, codepipeline)

    # THEN every delivery is accounted for: started, ignored with its reason, or dead-lettered
    assert len(deliveries) == DELIVERIES
    assert all(delivery.outcome in {"started", "ignored", "dlq"} for delivery in deliveries)
    for delivery in deliveries:
        upload = delivery.upload
        if upload.ignore_reason:
            assert (delivery.outcome, delivery.result.get("reasonCode")) == ("ignored", upload.ignore_reason)
            assert delivery.attempts == 1
        else:
            # Zero silent drops: what should start either started or is kept in the DLQ.
            assert delivery.outcome in {"started", "dlq"}, (upload.name, delivery.result)

    # AND only what must be kept is kept: malformed events, the deleted pipeline, and exhausted transient faults
    for delivery in dlq:
        assert len(delivery.errors) == LAMBDA_ATTEMPTS
        assert all(isinstance(error, StartFailed | MalformedEventError) for error in delivery.errors)
        last = delivery.errors[-1]
        if delivery.upload.kind == "malformed":
            assert isinstance(last, MalformedEventError)
        else:
            # The handler raises its first failure; for "broken" uploads that may be the other pipeline's.
            assert isinstance(last, StartFailed)
            assert last.transient or last.code in {"PipelineNotFoundException", "AccessDeniedException"}
    assert {d.upload.kind for d in deliveries if d.upload.kind in {"malformed", "broken"}} <= {
        d.upload.kind for d in dlq
    }
    assert all(d.outcome == "dlq" for d in deliveries if d.upload.kind in {"malformed", "broken"})

    # AND each pipeline ran exactly once per object version, whatever the redeliveries, retries and lost answers
    runs: dict[tuple[str, str], set[str]] = defaultdict(set)
    for delivery in deliveries:
        for execution in delivery.result.get("executions", []):
            runs[(delivery.upload.name, execution["request"]["name"])].add(execution["pipelineExecutionId"])
    assert all(len(ids) == 1 for ids in runs.values()), "one version got two executions"
    expected = {(d.upload.name, p) for d in deliveries for p in d.upload.pipelines}
    never_started = expected - set(runs)
    # A pipeline may stay unstarted only if every delivery of that version was dead-lettered.
    assert all(all(d.outcome == "dlq" for d in deliveries if d.upload.name == name) for name, _ in never_started), (
        never_started
    )
    # The service side agrees: one execution per (version, pipeline), none for anything else.
    assert max(started_for.values()) == 1
    assert set(runs) <= set(started_for) <= expected
    assert sum(started_for.values()) == len(codepipeline.executions)
    assert codepipeline.token_mismatches == []

    # AND the faults really happened, including answers lost after the start, which tokens made harmless
    for fault, _ in FAULTS:
        assert codepipeline.faults[fault] >= 5, codepipeline.faults
    assert codepipeline.replays >= 5
    assert sleeps
    assert all(0 <= delay <= RetryPolicy().max_delay_s for delay in sleeps)
    summary = Counter(delivery.outcome for delivery in deliveries)
    print(f"outcomes {dict(summary)}; faults {dict(codepipeline.faults)}; calls {len(codepipeline.requests)}")


def test_the_same_run_gives_the_same_outcome() -> None:
    # Seeded: a failure here can be replayed exactly.
    first = [(d.upload.name, d.event["id"]) for d in _uploads(_seeded(SEED))]
    second = [(d.upload.name, d.event["id"]) for d in _uploads(_seeded(SEED))]

    assert first == second
