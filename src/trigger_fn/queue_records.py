"""The queue's records: whether an event is a batch of them, and the plan of the event each one carries."""

from __future__ import annotations

import json
from typing import Any

from trigger_fn.observability import logger
from trigger_fn.plan import Plan
from trigger_fn.report import malformed
from trigger_fn.s3_event import MalformedEventError
from trigger_fn.settings import Settings
from trigger_fn.trigger import read_plan

QUEUE_EVENT_SOURCE = "aws:sqs"


def is_queue_batch(event: Any) -> bool:
    """True for the event source mapping's batch: `Records` from `aws:sqs` (an S3 or SNS `Records` is not)."""
    records = event.get("Records") if isinstance(event, dict) else None
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(record, dict) and record.get("eventSource") == QUEUE_EVENT_SOURCE for record in records)
    )


def read_record(record: dict[str, Any], settings: Settings, now: float) -> Plan | None:
    """The plan of the record's event; None when its body is no event or the event is malformed (both logged)."""
    body = record.get("body")
    try:
        event = json.loads(body) if isinstance(body, str) else None
    except json.JSONDecodeError:
        event = None
    if not isinstance(event, dict):
        malformed("body", "is not a JSON object")
        return None
    payload = event.get("requestPayload")
    if isinstance(event.get("requestContext"), dict) and isinstance(payload, dict):
        # Lambda's on-failure record of an event sent back from the failed-start queue: the event is its payload.
        event = payload
    logger.set_correlation_id(event.get("id") if isinstance(event.get("id"), str) else None)
    try:
        return read_plan(event, settings, now)
    except MalformedEventError:
        return None
