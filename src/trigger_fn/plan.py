"""The plan for one event, made without any AWS call: ignore it (and why), or the exact starts it calls for.

A start's plan says what `trigger_fn.run` must do: each StartPipelineExecution request (revisions, token,
variables, role), which of them the current-version check guards, and whether the pipeline's execution
history must be looked at first.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

from trigger_fn.s3_event import OBJECT_CREATED, S3_SOURCE, S3ObjectCreated, read_envelope, read_object_created
from trigger_fn.settings import Settings
from trigger_fn.start_requests import StartRequest, plan_starts


class Ignore(NamedTuple):
    """Nothing to start; `reason_code` and `reason` say why (in the log line and the result)."""

    reason_code: str
    reason: str


class Start(NamedTuple):
    """The starts one upload calls for, and how `trigger_fn.run` makes them."""

    upload: S3ObjectCreated
    requests: tuple[StartRequest, ...]
    # The upload names its version: the requests pin it, and latestOnly routes are guarded.
    pinned: bool
    # The event may be older than CodePipeline's memory of its tokens: look for an execution of the version first.
    history_first: bool = False
    # Log the requests, send nothing.
    dry_run: bool = False
    # Epoch seconds the plan was made at: how far back the history is read is counted from it.
    planned_at: float = 0.0


Plan = Ignore | Start


def plan(event: Any, settings: Settings, now: float | None = None) -> Plan:
    """Ignore or Start for one EventBridge event, planned at `now` (epoch seconds; default: the clock's now).

    Raises MalformedEventError when the event is not an EventBridge event at all (not an object, or no
    `source` / `detail-type` string), or when it is an `Object Created` event for the source bucket that
    cannot be read. Every other event gets an Ignore with its reason.
    """
    envelope = read_envelope(event)
    if envelope.source != S3_SOURCE or envelope.detail_type != OBJECT_CREATED:
        return Ignore(
            "not_object_created",
            f"event is {envelope.source!r} / {envelope.detail_type!r}, not {S3_SOURCE!r} / {OBJECT_CREATED!r}",
        )
    if settings.source_account is not None and envelope.account != settings.source_account:
        # Only the bucket's own account may start pipelines: any other sender on the bus is refused here too.
        return Ignore(
            "other_account",
            f"event from account {envelope.account!r}, not the source bucket's account {settings.source_account!r}",
        )
    if envelope.bucket is not None and envelope.bucket != settings.source_bucket:
        return Ignore("other_bucket", f"bucket {envelope.bucket!r} is not the source bucket {settings.source_bucket!r}")
    upload = read_object_created(event)
    requests = plan_starts(settings, upload)
    if not requests:
        return Ignore("no_matching_route", f"key {upload.key!r} matches no route")
    planned_at = time.time() if now is None else now
    return Start(
        upload=upload,
        requests=requests,
        pinned=upload.version_id is not None,
        history_first=needs_history_check(upload, settings.token_window_s, planned_at),
        dry_run=settings.dry_run,
        planned_at=planned_at,
    )


def needs_history_check(upload: S3ObjectCreated, token_window_s: int, now: float) -> bool:
    """True when the event is too old to trust the token alone: look for an execution of its version first."""
    if upload.version_id is None:
        return False
    return upload.event_time is None or now - upload.event_time > token_window_s
