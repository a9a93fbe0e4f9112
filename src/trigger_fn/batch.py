"""A batch of queued events: each record settled on its own, each key's newest version known before older ones.

TriggerQueue hands the function up to ten records; each body is one EventBridge event. The answer names only
the records to try again (`batchItemFailures`, with ReportBatchItemFailures on the event source mapping): a
record that failed goes back to the queue alone, and reaches FailedStartQueue only after MaxReceiveCount tries.

Within a batch, per bucket and key, the newest S3 `sequencer` is read first: an older version of the key is not
built on its latestOnly routes (settled `superseded`, no HeadObject). Versions that must start (routes with
latestOnly false start every version) start oldest first.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from aws_lambda_powertools.metrics import MetricUnit

from trigger_fn.clients import AwsClients
from trigger_fn.decisions import Ignore, Start
from trigger_fn.object_versions import VersionCheckFailed
from trigger_fn.observability import logger, metrics
from trigger_fn.pipeline_client import LookupFailed, StartFailed
from trigger_fn.s3_event import MalformedEventError
from trigger_fn.settings import Settings
from trigger_fn.trigger import act, read_decision

QUEUE_EVENT_SOURCE = "aws:sqs"
# A record is begun only with this much time left beyond the retry reserve: one start with its backoffs fits.
RECORD_BUDGET_S = 2.0
# The pause after CodePipeline answered "busy" (throttled, conflict, too many executions) grows per busy answer.
BUSY_PAUSE_BASE_S = 0.5
BUSY_PAUSE_MAX_S = 4.0
# Keys the batch adds to the log lines of one record; removed before the next record.
_RECORD_KEYS = ("message_id", "bucket", "key", "version_id")

Failure = StartFailed | LookupFailed | VersionCheckFailed


class BatchItemError(Exception):
    """A record failed but has no messageId: only failing the whole batch keeps it."""


class _Queued(NamedTuple):
    message_id: str
    position: int
    decision: Start


def is_queue_batch(event: Any) -> bool:
    """True for the event source mapping's batch: `Records` from `aws:sqs` (an S3 or SNS `Records` is not)."""
    records = event.get("Records") if isinstance(event, dict) else None
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(record, dict) and record.get("eventSource") == QUEUE_EVENT_SOURCE for record in records)
    )


def handle_batch(
    event: dict[str, Any],
    settings: Settings,
    clients: AwsClients,
    remaining_s: Callable[[], float] | None = None,
    now: Callable[[], float] = time.time,
) -> dict[str, list[dict[str, str]]]:
    """Settle every record; `{"batchItemFailures": [{"itemIdentifier": messageId}, ...]}` names the ones to retry."""
    failed: list[str] = []
    queued: list[_Queued] = []
    for position, record in enumerate(event["Records"]):
        message_id = str(record.get("messageId") or "")
        with _record_logs(message_id):
            decision = _read(record, message_id, settings)
            if decision is None:
                failed.append(message_id)
            elif isinstance(decision, Ignore):
                result = act(decision, settings, clients, own_metric_record=False)
                _settled(message_id, result["status"], result["reasonCode"])
            else:
                queued.append(_Queued(message_id, position, decision))

    newest = _newest_per_key(queued)
    busy = _BusyPause(clients, remaining_s)
    for item in _oldest_first(queued):
        with _record_logs(item.message_id, item.decision):
            if remaining_s is not None and remaining_s() < clients.retry.reserve_s + RECORD_BUDGET_S:
                # Untried, it goes back to the queue: a receive, not a failure, as far as anyone can tell.
                _settled(item.message_id, "untried", "too little of the invocation left to start it")
                failed.append(item.message_id)
                continue
            if not _start(item, newest, settings, clients, remaining_s=remaining_s, now=now, busy=busy):
                failed.append(item.message_id)

    if any(not message_id for message_id in failed):
        raise BatchItemError("a record without a messageId failed: the whole batch is returned to the queue")
    if failed:
        metrics.add_metric(name="BatchRecordsFailed", unit=MetricUnit.Count, value=len(failed))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


def _read(record: dict[str, Any], message_id: str, settings: Settings) -> Ignore | Start | None:
    """The record's decision; None when its body is no event (logged and counted as malformed)."""
    body = record.get("body")
    try:
        event = json.loads(body) if isinstance(body, str) else None
    except json.JSONDecodeError:
        event = None
    if not isinstance(event, dict):
        logger.error("Rejected malformed event", extra={"field": "body", "problem": "is not a JSON object"})
        metrics.add_metric(name="EventsMalformed", unit=MetricUnit.Count, value=1)
        _settled(message_id, "failed", "malformed")
        return None
    payload = event.get("requestPayload")
    if isinstance(event.get("requestContext"), dict) and isinstance(payload, dict):
        # Lambda's on-failure record of an event sent back from the failed-start queue: the event is its payload.
        event = payload
    logger.set_correlation_id(event.get("id") if isinstance(event.get("id"), str) else None)
    try:
        return read_decision(event, settings)
    except MalformedEventError:
        _settled(message_id, "failed", "malformed")
        return None


def _start(
    item: _Queued,
    newest: dict[tuple[str, str], str],
    settings: Settings,
    clients: AwsClients,
    *,
    remaining_s: Callable[[], float] | None,
    now: Callable[[], float],
    busy: _BusyPause,
) -> bool:
    """Act on one queued start; False when its record must go back to the queue."""
    decision, superseded_by = _without_superseded(item.decision, newest)
    if superseded_by is not None:
        metrics.add_metric(name="EventsSuperseded", unit=MetricUnit.Count, value=1)
    upload = item.decision.upload
    reason = (
        f"s3://{upload.bucket}/{upload.key} version {upload.version_id}: a newer version ({superseded_by}) "
        "was uploaded in the same batch; the newer upload builds"
    )
    if not decision.requests:
        result = act(Ignore("superseded", reason), settings, clients, own_metric_record=False)
        _settled(item.message_id, result["status"], result["reasonCode"])
        return True
    try:
        result = act(decision, settings, clients, remaining_s, now, own_metric_record=False)
    except (StartFailed, LookupFailed, VersionCheckFailed) as failure:
        _settled(item.message_id, "failed", failure.code, transient=failure.transient)
        if failure.transient:
            busy.pause()
        return False
    except Exception:  # noqa: BLE001 - a bug fails its own record only; the queue keeps it, the log says why
        logger.exception("Record failed unexpectedly")
        _settled(item.message_id, "failed", "unexpected")
        return False
    busy.calm()
    if superseded_by is not None:
        withheld = [r.pipeline for r in item.decision.requests if r not in decision.requests]
        result.setdefault("skipped", []).extend(
            {"pipeline": pipeline, "reasonCode": "superseded", "reason": reason} for pipeline in withheld
        )
    _settled(item.message_id, result["status"], "some routes superseded" if result.get("skipped") else None)
    return True


def _newest_per_key(queued: list[_Queued]) -> dict[tuple[str, str], str]:
    """Per (bucket, key), the largest comparable sequencer of the batch's pinned uploads."""
    newest: dict[tuple[str, str], str] = {}
    for item in queued:
        order = _order(item.decision)
        where = (item.decision.upload.bucket, item.decision.upload.key)
        if order is not None and _later(order, newest.get(where)):
            newest[where] = order
    return newest


def _without_superseded(decision: Start, newest: dict[tuple[str, str], str]) -> tuple[Start, str | None]:
    """The decision without its latestOnly requests when a newer version of the key is in the batch, and that
    version's id (None when it is the key's newest here)."""
    order = _order(decision)
    upload = decision.upload
    newer = newest.get((upload.bucket, upload.key))
    if order is None or newer is None or not _later(newer, order):
        return decision, None
    kept = tuple(request for request in decision.requests if not request.latest_only)
    return decision._replace(requests=kept), newer.split("\0", 1)[1]


def _oldest_first(queued: list[_Queued]) -> list[_Queued]:
    """In arrival order, except that each key's versions are taken in sequencer order, oldest first."""
    first_seen: dict[tuple[str, str], int] = {}
    for item in queued:
        first_seen.setdefault((item.decision.upload.bucket, item.decision.upload.key), item.position)

    def place(item: _Queued) -> tuple[int, str, int]:
        where = (item.decision.upload.bucket, item.decision.upload.key)
        return first_seen[where], _order(item.decision) or "", item.position

    return sorted(queued, key=place)


def _order(decision: Start) -> str | None:
    """The upload's sequencer, left-padded to compare as S3 says (then "\\0" and the version), or None when the
    upload cannot be placed (no version pin or no sequencer)."""
    upload = decision.upload
    if upload.version_id is None or upload.sequencer is None:
        return None
    # S3 sequencers differ in length: left-pad with zeros, then compare as strings (same key only).
    return f"{upload.sequencer.upper():0>64}\0{upload.version_id}"


def _later(order: str, other: str | None) -> bool:
    return other is None or order.split("\0", 1)[0] > other.split("\0", 1)[0]


class _BusyPause:
    """After a transient failure, a bounded, growing pause before the next record (never past the time left)."""

    def __init__(self, clients: AwsClients, remaining_s: Callable[[], float] | None) -> None:
        self.retry = clients.retry
        self.remaining_s = remaining_s
        self.busy_answers = 0

    def pause(self) -> None:
        self.busy_answers += 1
        delay = self.retry.jitter(0, min(BUSY_PAUSE_MAX_S, BUSY_PAUSE_BASE_S * 2 ** (self.busy_answers - 1)))
        left = self.remaining_s() if self.remaining_s is not None else None
        if left is not None:
            delay = min(delay, max(0.0, left - self.retry.reserve_s - RECORD_BUDGET_S))
        if delay > 0:
            self.retry.sleep(delay)

    def calm(self) -> None:
        self.busy_answers = 0


def _settled(message_id: str, outcome: str, reason: str | None = None, **facts: Any) -> None:
    logger.info("Batch record settled", extra={"message_id": message_id, "outcome": outcome, "reason": reason, **facts})


@contextmanager
def _record_logs(message_id: str, decision: Start | None = None) -> Iterator[None]:
    logger.append_keys(message_id=message_id)
    if decision is not None:
        logger.set_correlation_id(decision.upload.event_id or None)
    try:
        yield
    finally:
        logger.remove_keys(list(_RECORD_KEYS))
        logger.set_correlation_id(None)
