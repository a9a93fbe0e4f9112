"""Runs a plan: every AWS call one event needs, in order, and what came of each. Nothing is logged here.

A latestOnly request of a pinned upload starts only while its version is the key's current one: S3 is asked
right before the start and before each retry of it (a check made once per event goes stale: a backoff, a
history lookup or the start of another pipeline leaves time for a newer upload).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from trigger_fn.clients import AwsClients
from trigger_fn.object_versions import CurrentVersion, current_version
from trigger_fn.outcome import Outcome, Step
from trigger_fn.pipeline_client import START, find_execution_of_version, start_execution
from trigger_fn.plan import Ignore, Plan, Start
from trigger_fn.retries import AwsCallFailed, classify
from trigger_fn.s3_event import S3ObjectCreated
from trigger_fn.start_requests import StartRequest


def run(plan: Plan, clients: AwsClients, remaining_s: Callable[[], float] | None = None) -> Outcome:
    """Make the plan's calls; the Outcome names the failure that keeps the event, if one does."""
    if isinstance(plan, Ignore) or plan.dry_run:
        # No AWS call at all for a dry run, so sample events run offline: not even the current-version check.
        return Outcome(plan)
    guard = _CurrentVersionGuard(plan.upload, clients, remaining_s)
    steps: list[Step] = []
    for request in plan.requests:
        steps.append(_run_request(request, plan, clients, guard, remaining_s))
        if guard.failure is not None:
            # Never start without a successful check: the event is kept, with the check's failure.
            return Outcome(plan, tuple(steps), failure=guard.failure)
    failures = [step.failure for step in steps if step.failure is not None]
    # A permanent failure is named first: it is the one a person must fix before a redrive.
    failure = next((f for f in failures if not f.transient), failures[0]) if failures else None
    return Outcome(plan, tuple(steps), guard.stale, guard.current_version_id, failure)


def stale_reason(upload: S3ObjectCreated, current: CurrentVersion) -> Ignore | None:
    """Why a latestOnly start of this upload must not happen now, or None when its version is still current."""
    if current.version_id is not None and current.version_id == upload.version_id and not current.needs_customer_key:
        return None
    where = f"s3://{upload.bucket}/{upload.key}"
    if current.needs_customer_key:
        return Ignore(
            "customer_key_encrypted",
            f"{where} answers HeadObject with 400, as S3 does for an object encrypted with a customer-provided key "
            "(SSE-C): CodePipeline's S3 source cannot read it either; upload it with SSE-S3 or SSE-KMS",
        )
    if current.version_id is None:
        return Ignore(
            "object_deleted", f"{where} has no current version (deleted): version {upload.version_id} is not built"
        )
    if current.version_id != upload.version_id:
        return Ignore(
            "superseded",
            f"{where} version {upload.version_id} was replaced by {current.version_id}: the newer upload builds",
        )
    return None


def _run_request(
    request: StartRequest,
    plan: Start,
    clients: AwsClients,
    guard: _CurrentVersionGuard,
    remaining_s: Callable[[], float] | None,
) -> Step:
    params = request.as_api_params()
    try:
        if request.guarded and not guard.still_current():
            return Step(request, params, "withheld", tried=False)
    except AwsCallFailed as failure:
        return Step(request, params, "failed", failure=failure, tried=False)
    recheck = guard.before_retry if request.guarded else None
    try:
        codepipeline = _client_for(clients, request)
        if plan.history_first:
            # An old event (a retry, a redrive) may outlive CodePipeline's memory of its token: look before starting.
            earlier = find_execution_of_version(
                codepipeline,
                request.pipeline,
                request.source_action,
                plan.upload.version_id or "",
                clients.retry,
                now=plan.planned_at,
                uploaded_at=plan.upload.event_time,
                remaining_s=remaining_s,
                before_retry=recheck,
            )
            if earlier is not None:
                return Step(request, params, "already_started", execution_id=earlier)
        pacer = clients.start_pacer
        execution_id = start_execution(codepipeline, params, clients.retry, remaining_s, recheck, pacer=pacer)
    except _NoLongerCurrent:
        return Step(request, params, "withheld")
    except AwsCallFailed as failure:
        return Step(request, params, "failed", failure=failure)
    return Step(request, params, "started", execution_id=execution_id)


def _client_for(clients: AwsClients, request: StartRequest) -> Any:
    """The client for the request's pipeline; a refused AssumeRole is a failed start, named with the role."""
    try:
        return clients.codepipeline_as(request.role_arn)
    except ClientError as error:
        code, _, transient = classify(error)
        message = f"AssumeRole {request.role_arn} failed: {error}"
        raise AwsCallFailed(START, request.pipeline, code, message, transient=transient, attempts=1) from error


class _NoLongerCurrent(Exception):
    """The uploaded version stopped being the key's current one while its start was being retried."""


class _CurrentVersionGuard:
    """Asks S3 for the key's current version right before each latestOnly start, and before each retry of one."""

    def __init__(self, upload: S3ObjectCreated, clients: AwsClients, remaining_s: Callable[[], float] | None) -> None:
        self.upload = upload
        self.clients = clients
        self.remaining_s = remaining_s
        # Why the version may no longer start, once a check found it replaced (or deleted, or unreadable).
        self.stale: Ignore | None = None
        self.current_version_id: str | None = None
        self.failure: AwsCallFailed | None = None

    def still_current(self) -> bool:
        if self.stale is not None:
            return False
        try:
            current = current_version(
                self.clients.s3, self.upload.bucket, self.upload.key, self.clients.retry, self.remaining_s
            )
        except AwsCallFailed as failure:
            self.failure = failure
            raise
        self.stale = stale_reason(self.upload, current)
        self.current_version_id = current.version_id
        return self.stale is None

    def before_retry(self) -> None:
        if not self.still_current():
            raise _NoLongerCurrent
