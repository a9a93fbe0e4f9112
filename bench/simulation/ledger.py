"""What became of every upload, read from the models after a run: the figures the report prints.

Each upload owes one execution per matching route's pipeline: for a `latestOnly: false` route, of that version;
for a `latestOnly` route, of the key's newest version only (an older one may be passed over: superseded). An
upload is then started, superseded, ignored (no route), in a dead-letter queue (a person must redrive it) or
lost (owed, not started, in no queue). Executions are judged against S3's history:
- doubled: one pipeline ran one version more than once;
- stale (latestOnly routes): an older version started after a newer one on the same pipeline, or started without
  the function's own HeadObject (in that invocation, before the start) having found it current;
- raced: the function's check found it current, but a newer upload landed in the round trip before the start
  (the newer upload's own start follows); counted apart, as no check-then-start can close that window.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from bench.simulation import prices
from bench.simulation.services import Call, Invocations, World
from bench.simulation.workload import EPOCH, Delivery, Plan, Upload

OUTCOMES = ("started", "superseded", "ignored", "in DLQ", "lost")


@dataclass
class PathResult:
    name: str
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    lost: int = 0
    doubled: int = 0
    stale: int = 0
    stale_order: int = 0
    stale_unchecked: int = 0
    raced: int = 0
    dead_letters: int = 0
    settled_without_person_pct: float = 0.0
    drain_s: float = 0.0
    peak_start_tps_attempted: int = 0
    peak_start_tps_accepted: int = 0
    start_calls: int = 0
    starts_throttled: int = 0
    starts_conflict: int = 0
    starts_replayed: int = 0
    executions: int = 0
    head_calls: int = 0
    list_calls: int = 0
    lambda_invocations: int = 0
    lambda_errors: int = 0
    cold_starts: int = 0
    peak_concurrency: int = 0
    gb_s: float = 0.0
    sqs_requests: int = 0
    cost_per_million: float = 0.0
    cost_parts: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def judge(
    name: str,
    plan: Plan,
    world: World,
    invocations: Invocations,
    *,
    dead: list[Delivery],
    settled_at: dict[int, float],
    sqs_requests: int,
) -> PathResult:
    result = PathResult(name)
    uploads_of_key: dict[str, list[Upload]] = defaultdict(list)
    for upload in plan.uploads:
        uploads_of_key[upload.key].append(upload)
    by_version = {upload.version_id: upload for upload in plan.uploads}
    runs: dict[tuple[str, str], int] = Counter(
        (execution.pipeline, execution.version_id or "") for execution in world.codepipeline.executions
    )
    dead_uploads = {delivery.upload.number for delivery in dead}

    for upload in plan.uploads:
        owed = [
            _owed(upload, pipeline, latest_only=latest, runs=runs, uploads_of_key=uploads_of_key, dead=dead_uploads)
            for pipeline, latest in upload.routes
        ]
        result.lost += owed.count("lost")
        if not upload.routes:
            outcome = "ignored"
        elif "lost" in owed:
            outcome = "lost"
        elif "in DLQ" in owed:
            outcome = "in DLQ"
        elif "started" in owed:
            outcome = "started"
        else:
            outcome = "superseded"
        result.outcomes[outcome] += 1
    result.doubled = sum(1 for count in runs.values() if count > 1)
    _judge_staleness(result, plan, world, by_version, uploads_of_key)

    result.dead_letters = len(dead)
    result.settled_without_person_pct = 100.0 * (1 - len(dead_uploads) / len(plan.uploads))
    # Drained: every delivery of the upload window settled (late redeliveries hours later are not the burst).
    times = [settled_at.get(id(d), math.inf) for d in plan.deliveries if d.kind != "late"]
    result.drain_s = max(times, default=EPOCH) - EPOCH

    starts = world.journal.starts()
    attempted: Counter[int] = Counter(int(call.at) for call in starts)
    accepted: Counter[int] = Counter(int(call.at) for call in starts if call.outcome in ("started", "replayed"))
    result.peak_start_tps_attempted = max(attempted.values(), default=0)
    result.peak_start_tps_accepted = max(accepted.values(), default=0)
    result.start_calls = len(starts)
    result.starts_throttled = sum(1 for call in starts if call.outcome == "ThrottlingException")
    result.starts_conflict = sum(1 for call in starts if call.outcome == "ConflictException")
    result.starts_replayed = sum(1 for call in starts if call.outcome == "replayed")
    result.executions = len(world.codepipeline.executions)
    result.head_calls = sum(1 for call in world.journal.calls if call.operation == "HeadObject")
    result.list_calls = sum(1 for call in world.journal.calls if call.operation == "ListPipelineExecutions")

    result.lambda_invocations = invocations.count
    result.lambda_errors = invocations.errors
    result.cold_starts = invocations.cold_starts
    result.peak_concurrency = invocations.peak_running
    result.gb_s = invocations.billed_ms / 1000 * world.service.memory_mb / 1024
    result.sqs_requests = sqs_requests
    per_million = 1_000_000 / len(plan.uploads)
    result.cost_parts = {
        "lambda": prices.lambda_cost(invocations.count, invocations.billed_ms, world.service.memory_mb) * per_million,
        "sqs": prices.sqs_cost(sqs_requests) * per_million,
        "eventbridge": prices.EVENTBRIDGE_AWS_SERVICE_EVENT * len(plan.deliveries) * per_million,
    }
    result.cost_per_million = sum(result.cost_parts.values())
    return result


def _owed(
    upload: Upload,
    pipeline: str,
    *,
    latest_only: bool,
    runs: dict[tuple[str, str], int],
    uploads_of_key: dict[str, list[Upload]],
    dead: set[int],
) -> str:
    if runs.get((pipeline, upload.version_id)):
        return "started"
    if latest_only and uploads_of_key[upload.key][-1] is not upload:
        return "superseded"
    return "in DLQ" if upload.number in dead else "lost"


def _judge_staleness(
    result: PathResult,
    plan: Plan,
    world: World,
    by_version: dict[str, Upload],
    uploads_of_key: dict[str, list[Upload]],
) -> None:
    latest_only = {route.pipeline for route in plan.settings.routes if route.latest_only}
    newest_started: dict[tuple[str, str], int] = {}
    heads: dict[tuple[str, str], list[Call]] = defaultdict(list)
    for call in world.journal.calls:
        if call.operation == "HeadObject":
            heads[(call.actor, call.key)].append(call)
    started_calls = {
        (call.pipeline, call.version): call for call in world.journal.starts() if call.outcome == "started"
    }
    for execution in world.codepipeline.executions:
        upload = by_version.get(execution.version_id or "")
        if upload is None or execution.pipeline not in latest_only:
            continue
        where = (execution.pipeline, upload.key)
        order = newest_started.get(where, -1) > upload.number
        newest_started[where] = max(newest_started.get(where, -1), upload.number)
        start = started_calls.get((execution.pipeline, upload.version_id))
        checks = [call for call in heads.get((start.actor, upload.key), []) if call.at <= start.at] if start else []
        unchecked = not checks or checks[-1].version != upload.version_id
        if order or unchecked:
            result.stale += 1
            result.stale_order += order
            result.stale_unchecked += unchecked
            continue
        newer = [u for u in uploads_of_key[upload.key] if u.number > upload.number and u.at <= execution.start_time]
        result.raced += bool(newer)
