"""One event, start to finish: decide, check, start the pipelines, and leave a log line and metric for each outcome.

Every result has one shape: `status` ("started", "dry_run" or "ignored"); for a start, `versionPinned` and
`executions`, each `{"pipelineExecutionId", "request"}` with the StartPipelineExecution request as sent (plus
`"alreadyStarted": true` when an execution of the version was found and nothing was sent), and `skipped` when a
route's start was withheld; for a dry run, `versionPinned`, `requests` (the requests it would send) and
`currentVersionChecked: false`; for an ignored event, `reasonCode` and `reason`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from botocore.exceptions import ClientError

from trigger_fn.clients import AwsClients
from trigger_fn.decisions import Ignore, Start, StartRequest, decide, needs_history_check, stale_reason
from trigger_fn.object_versions import VersionCheckFailed, current_version
from trigger_fn.observability import logger, metrics
from trigger_fn.pipeline_client import LookupFailed, StartFailed, find_execution_of_version, start_execution
from trigger_fn.retries import classify
from trigger_fn.s3_event import MalformedEventError, S3ObjectCreated
from trigger_fn.settings import Settings


def handle_event(
    event: Any,
    settings: Settings,
    clients: AwsClients,
    remaining_s: Callable[[], float] | None = None,
    now: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """Decide, act and report for one event; raises when the event must be kept for another try."""
    return act(read_decision(event, settings), settings, clients, remaining_s, now)


def read_decision(event: Any, settings: Settings) -> Ignore | Start:
    """`decide`, with the log line and metric of a malformed event before MalformedEventError is raised on."""
    try:
        return decide(event, settings)
    except MalformedEventError as error:
        # Raised, not swallowed: the caller keeps the event (a batch returns its record to the queue).
        logger.error("Rejected malformed event", extra={"field": error.field, "problem": error.problem})
        metrics.add_metric(name="EventsMalformed", unit=MetricUnit.Count, value=1)
        raise


def act(
    decision: Ignore | Start,
    settings: Settings,
    clients: AwsClients,
    remaining_s: Callable[[], float] | None = None,
    now: Callable[[], float] = time.time,
    *,
    own_metric_record: bool = True,
) -> dict[str, Any]:
    """Report an Ignore, or start a Start's requests; raises StartFailed, LookupFailed or VersionCheckFailed.

    `own_metric_record` is False when several events share the invocation's metric record (a queue batch):
    a per-pipeline dimension set added to it would then count every other event's metrics for that pipeline.
    """
    if isinstance(decision, Ignore):
        return _ignored(decision)
    return _start(decision, settings, clients, remaining_s, now, own_metric_record=own_metric_record)


def _ignored(decision: Ignore, **facts: str | None) -> dict[str, Any]:
    logger.info("Ignored event", extra={"reason_code": decision.reason_code, "reason": decision.reason, **facts})
    metrics.add_metric(name="EventsIgnored", unit=MetricUnit.Count, value=1)
    return {"status": "ignored", "reasonCode": decision.reason_code, "reason": decision.reason}


def _start(
    decision: Start,
    settings: Settings,
    clients: AwsClients,
    remaining_s: Callable[[], float] | None,
    now: Callable[[], float],
    *,
    own_metric_record: bool,
) -> dict[str, Any]:
    upload = decision.upload
    logger.append_keys(bucket=upload.bucket, key=upload.key, version_id=upload.version_id)
    if not decision.pinned:
        logger.warning(
            "Object event has no version-id: starting without a version pin or current-version check "
            "(the pipeline reads the newest)"
        )
        metrics.add_metric(name="UnpinnedStarts", unit=MetricUnit.Count, value=1)
    if settings.dry_run:
        # No AWS call at all, so sample events run offline: the current-version check is not made either.
        for request in decision.requests:
            _warn_omitted(request)
        planned = [request.as_api_params() for request in decision.requests]
        logger.info("Dry run: not starting", extra={"requests": planned})
        metrics.add_metric(name="DryRuns", unit=MetricUnit.Count, value=1)
        return {
            "status": "dry_run",
            "versionPinned": decision.pinned,
            "requests": planned,
            "currentVersionChecked": False,
        }

    guard = CurrentVersionGuard(decision.upload, clients, remaining_s)
    # An old event (a retry, a redrive) may outlive CodePipeline's memory of its token: look before starting.
    moment = now()
    look_first = needs_history_check(decision.upload, settings.token_window_s, moment)
    executions, withheld, failures = _start_each(
        decision, clients, guard, remaining_s, look_first=look_first, now=moment, own_metric_record=own_metric_record
    )
    if failures:
        # The whole event is tried again; pipelines already started repeat their token and start nothing new.
        # A permanent failure is named first: it is the one a person must fix before a redrive.
        raise next((failure for failure in failures if not failure.transient), failures[0])
    if guard.stale is not None and not executions:
        return _ignored(guard.stale, **guard.versions)
    result: dict[str, Any] = {"status": "started", "versionPinned": decision.pinned, "executions": executions}
    if guard.stale is not None and withheld:
        pipelines = [request.pipeline for request in withheld]
        logger.info(
            "Not starting the latestOnly routes: the uploaded version is no longer current",
            extra={"reason_code": guard.stale.reason_code, **guard.versions, "withheld": pipelines},
        )
        result["skipped"] = [
            {"pipeline": pipeline, "reasonCode": guard.stale.reason_code, "reason": guard.stale.reason}
            for pipeline in pipelines
        ]
    return result


class NoLongerCurrent(Exception):
    """The uploaded version stopped being the key's current one while its starts were under way."""


class CurrentVersionGuard:
    """Asks S3 for the key's current version right before each latestOnly start, and before each retry of one.

    A check made once per event goes stale: a backoff, a history lookup or the start of another pipeline
    leaves time for a newer upload, after which the older version must not start.
    """

    def __init__(self, upload: S3ObjectCreated, clients: AwsClients, remaining_s: Callable[[], float] | None) -> None:
        self.upload = upload
        self.clients = clients
        self.remaining_s = remaining_s
        # Why the version may no longer start, once a check found it replaced (or deleted, or unreadable).
        self.stale: Ignore | None = None
        self.versions: dict[str, str | None] = {}

    def still_current(self) -> bool:
        if self.stale is not None:
            return False
        try:
            current = current_version(
                self.clients.s3, self.upload.bucket, self.upload.key, self.clients.retry, self.remaining_s
            )
        except VersionCheckFailed as failure:
            # Never start without a successful check: raising keeps the event (its record returns to the queue).
            logger.error("Current-version check failed", extra={"error_code": failure.code, "error": str(failure)})
            metrics.add_metric(name="VersionCheckFailures", unit=MetricUnit.Count, value=1)
            raise
        self.stale = stale_reason(self.upload, current)
        if self.stale is None:
            return True
        metrics.add_metric(name="EventsSuperseded", unit=MetricUnit.Count, value=1)
        self.versions = {"event_version_id": self.upload.version_id, "current_version_id": current.version_id}
        return False

    def before_retry(self) -> None:
        if not self.still_current():
            raise NoLongerCurrent


def _start_each(
    decision: Start,
    clients: AwsClients,
    guard: CurrentVersionGuard,
    remaining_s: Callable[[], float] | None,
    *,
    look_first: bool,
    now: float,
    own_metric_record: bool = True,
) -> tuple[list[dict[str, Any]], list[StartRequest], list[StartFailed | LookupFailed]]:
    """Start every request (or find the version's earlier execution): the executions, the latestOnly requests
    withheld because the version stopped being current, and the failures."""
    upload = decision.upload
    # One pinned pipeline: its per-pipeline count rides in the invocation's own metric record (no second record).
    shared_record = own_metric_record and len(decision.requests) == 1 and decision.pinned
    executions: list[dict[str, Any]] = []
    withheld: list[StartRequest] = []
    failures: list[StartFailed | LookupFailed] = []
    for request in decision.requests:
        guarded = request.latest_only and decision.pinned
        if guarded and not guard.still_current():
            withheld.append(request)
            continue
        recheck = guard.before_retry if guarded else None
        _warn_omitted(request)
        try:
            codepipeline = _pipeline_client(clients, request)
            earlier = (
                find_execution_of_version(
                    codepipeline,
                    request,
                    upload.version_id or "",
                    clients.retry,
                    now=now,
                    uploaded_at=upload.event_time,
                    remaining_s=remaining_s,
                    before_retry=recheck,
                )
                if look_first
                else None
            )
            if earlier is not None:
                executions.append(
                    {"pipelineExecutionId": earlier, "request": request.as_api_params(), "alreadyStarted": True}
                )
                logger.info("Version already has an execution: not starting it again", extra=executions[-1])
                _count("ExecutionsAlreadyStarted", request.pipeline, shared_record=shared_record)
                continue
            execution_id = start_execution(
                codepipeline, request, clients.retry, remaining_s, recheck, pacer=clients.start_pacer
            )
        except NoLongerCurrent:
            withheld.append(request)
            continue
        except (StartFailed, LookupFailed) as failure:
            failures.append(failure)
            logger.error(
                "StartPipelineExecution failed" if isinstance(failure, StartFailed) else "Execution lookup failed",
                extra={
                    "pipeline": request.pipeline,
                    "error_code": failure.code,
                    "transient": failure.transient,
                    "client_request_token": request.client_request_token,
                    "error": str(failure),
                },
            )
            _count("PipelineStartFailures", request.pipeline, shared_record=shared_record)
            continue
        executions.append({"pipelineExecutionId": execution_id, "request": request.as_api_params()})
        logger.info("Started pipeline execution", extra=executions[-1])
        _count("PipelineExecutionsStarted", request.pipeline, shared_record=shared_record)
    return executions, withheld, failures


def _pipeline_client(clients: AwsClients, request: StartRequest) -> Any:
    """The client for the request's pipeline; a refused AssumeRole is a failed start, named with the role."""
    try:
        return clients.codepipeline_as(request.role_arn)
    except ClientError as error:
        code, _, transient = classify(error)
        raise StartFailed(
            request.pipeline, code, f"AssumeRole {request.role_arn} failed: {error}", transient=transient, attempts=1
        ) from error


def _warn_omitted(request: StartRequest) -> None:
    if not request.omitted_variables:
        return
    # Cut to CodePipeline's limit, a key would name another object: the variable is left out instead.
    logger.warning(
        "Pipeline variables left out: their value is longer than CodePipeline's 1000 characters",
        extra={"pipeline": request.pipeline, "omitted_variables": list(request.omitted_variables)},
    )
    metrics.add_metric(name="VariablesOmitted", unit=MetricUnit.Count, value=len(request.omitted_variables))


def _count(name: str, pipeline: str, *, shared_record: bool) -> None:
    # Totals (service only) feed the alarms; the per-pipeline copy answers "which pipeline".
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    if shared_record:
        # A second dimension set on the same EMF record: every metric in it is also counted per pipeline.
        metrics.add_dimensions(service=str(metrics.service), pipeline=pipeline)
        return
    with single_metric(
        name=name,
        unit=MetricUnit.Count,
        value=1,
        namespace=metrics.namespace,
        default_dimensions=metrics.default_dimensions,
    ) as metric:
        metric.add_dimension(name="pipeline", value=pipeline)
