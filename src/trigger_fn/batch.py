"""A batch of queued events: each record settled on its own, each key's newest version known before older ones.

TriggerQueue hands the function up to ten records; each body is one EventBridge event. The answer names only
the records to try again (`batchItemFailures`, with ReportBatchItemFailures on the event source mapping): a
record that failed goes back to the queue alone, and reaches FailedStartQueue only after MaxReceiveCount tries.

Within a batch, per bucket and key, the newest S3 `sequencer` is read first: an older version of the key is not
built on its latestOnly routes (settled `superseded`, no HeadObject). Versions that must start (routes with
latestOnly false start every version) start oldest first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from trigger_fn.batch_order import Queued, newest_per_key, oldest_first, without_superseded
from trigger_fn.clients import AwsClients
from trigger_fn.observability import logger, metrics
from trigger_fn.pacing import BusyPause
from trigger_fn.plan import Ignore, Start
from trigger_fn.queue_records import read_record
from trigger_fn.report import ignored, report
from trigger_fn.retries import AwsCallFailed
from trigger_fn.run import run
from trigger_fn.settings import Settings

# A record is begun only with this much time left beyond the retry reserve: one start with its backoffs fits.
RECORD_BUDGET_S = 2.0
# Keys the batch adds to the log lines of one record; removed before the next record.
_RECORD_KEYS = ("message_id", "bucket", "key", "version_id")


class BatchItemError(Exception):
    """A record failed but has no messageId: only failing the whole batch keeps it."""


def handle_batch(
    event: dict[str, Any],
    settings: Settings,
    clients: AwsClients,
    remaining_s: Callable[[], float] | None = None,
    now: Callable[[], float] = time.time,
) -> dict[str, list[dict[str, str]]]:
    """Settle every record; `{"batchItemFailures": [{"itemIdentifier": messageId}, ...]}` names the ones to retry."""
    failed: list[str] = []
    queued: list[Queued] = []
    for position, record in enumerate(event["Records"]):
        message_id = str(record.get("messageId") or "")
        with _record_logs(message_id):
            planned = read_record(record, settings, now())
            if planned is None:
                _settled(message_id, "failed", "malformed")
                failed.append(message_id)
            elif isinstance(planned, Ignore):
                result = ignored(planned)
                _settled(message_id, result.status, result.reason_code)
            else:
                queued.append(Queued(message_id, position, planned))

    newest = newest_per_key(queued)
    # What must be left to begin a record: the retry reserve and one record's budget.
    keep_s = clients.retry.reserve_s + RECORD_BUDGET_S
    busy = BusyPause(clients.retry, remaining_s, keep_s=keep_s)
    for item in oldest_first(queued):
        with _record_logs(item.message_id, item.plan):
            if remaining_s is not None and remaining_s() < keep_s:
                # Untried, it goes back to the queue: a receive, not a failure, as far as anyone can tell.
                _settled(item.message_id, "untried", "too little of the invocation left to start it")
                failed.append(item.message_id)
                continue
            if not _start(item, newest, clients, remaining_s=remaining_s, busy=busy):
                failed.append(item.message_id)

    if any(not message_id for message_id in failed):
        raise BatchItemError("a record without a messageId failed: the whole batch is returned to the queue")
    if failed:
        metrics.add_metric(name="BatchRecordsFailed", unit=MetricUnit.Count, value=len(failed))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


def _start(
    item: Queued,
    newest: dict[tuple[str, str], str],
    clients: AwsClients,
    *,
    remaining_s: Callable[[], float] | None,
    busy: BusyPause,
) -> bool:
    """Run and report one queued start; False when its record must go back to the queue."""
    plan, superseded = without_superseded(item.plan, newest)
    if superseded is not None:
        metrics.add_metric(name="EventsSuperseded", unit=MetricUnit.Count, value=1)
    if superseded is not None and not plan.requests:
        result = ignored(superseded)
        _settled(item.message_id, result.status, result.reason_code)
        return True
    try:
        answer = report(run(plan, clients, remaining_s), own_metric_record=False)
    except Exception:  # noqa: BLE001 - a bug fails its own record only; the queue keeps it, the log says why
        logger.exception("Record failed unexpectedly")
        _settled(item.message_id, "failed", "unexpected")
        return False
    if isinstance(answer, AwsCallFailed):
        _settled(item.message_id, "failed", answer.code, transient=answer.transient)
        if answer.transient:
            busy.pause()
        return False
    busy.calm()
    # The latestOnly routes a newer upload of the batch supersedes, or that the current-version check withheld.
    some_skipped = len(plan.requests) < len(item.plan.requests) or bool(answer.skipped)
    _settled(item.message_id, answer.status, "some routes superseded" if some_skipped else None)
    return True


def _settled(message_id: str, outcome: str, reason: str | None = None, **facts: Any) -> None:
    logger.info("Batch record settled", extra={"message_id": message_id, "outcome": outcome, "reason": reason, **facts})


@contextmanager
def _record_logs(message_id: str, plan: Start | None = None) -> Iterator[None]:
    logger.append_keys(message_id=message_id)
    if plan is not None:
        logger.set_correlation_id(plan.upload.event_id or None)
    try:
        yield
    finally:
        logger.remove_keys(list(_RECORD_KEYS))
        logger.set_correlation_id(None)
