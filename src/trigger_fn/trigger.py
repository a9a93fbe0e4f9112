"""One event, start to finish: decide, start the pipelines, and leave a log line and metric for each outcome."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from trigger_fn.decisions import Ignore, Start, StartRequest, decide
from trigger_fn.observability import logger, metrics
from trigger_fn.pipeline_client import PipelineStarter, StartFailed, make_client
from trigger_fn.s3_event import MalformedEventError
from trigger_fn.settings import Settings


def handle_event(
    event: Any,
    settings: Settings,
    starter: PipelineStarter | None = None,
    remaining_s: Callable[[], float] | None = None,
) -> dict[str, Any]:
    """Decide, act and report for one event; raises when the event must be kept for a retry or the DLQ."""
    try:
        decision = decide(event, settings)
    except MalformedEventError as error:
        # Raised, not swallowed: Lambda's retries end in the on-failure queue, which keeps the event.
        logger.error("Rejected malformed event", extra={"field": error.field, "problem": error.problem})
        metrics.add_metric(name="EventsMalformed", unit=MetricUnit.Count, value=1)
        raise
    if isinstance(decision, Ignore):
        logger.info("Ignored event", extra={"reason_code": decision.reason_code, "reason": decision.reason})
        metrics.add_metric(name="EventsIgnored", unit=MetricUnit.Count, value=1)
        return {"status": "ignored", "reasonCode": decision.reason_code, "reason": decision.reason}
    return _start(decision, settings, starter, remaining_s)


def _start(
    decision: Start, settings: Settings, starter: PipelineStarter | None, remaining_s: Callable[[], float] | None
) -> dict[str, Any]:
    upload = decision.upload
    logger.append_keys(bucket=upload.bucket, key=upload.key, version_id=upload.version_id)
    if not decision.pinned:
        logger.warning("Object event has no version-id: starting without a version pin (pipeline reads the newest)")
        metrics.add_metric(name="UnpinnedStarts", unit=MetricUnit.Count, value=1)
    if settings.dry_run:
        requests = [request.as_api_params() for request in decision.requests]
        logger.info("Dry run: not starting", extra={"requests": requests})
        metrics.add_metric(name="DryRuns", unit=MetricUnit.Count, value=1)
        return {"status": "dry_run", "versionPinned": decision.pinned, "requests": requests}

    starter = starter or _starter()
    # One pinned pipeline: its per-pipeline count rides in the invocation's own metric record (no second record).
    shared_record = len(decision.requests) == 1 and decision.pinned
    executions: list[dict[str, Any]] = []
    failures: list[StartFailed] = []
    for request in decision.requests:
        try:
            execution_id = starter.start(request, remaining_s)
        except StartFailed as failure:
            failures.append(failure)
            logger.error(
                "StartPipelineExecution failed",
                extra={
                    "pipeline": request.pipeline,
                    "error_code": failure.code,
                    "transient": failure.transient,
                    "attempts": failure.attempts,
                    "client_request_token": request.client_request_token,
                },
            )
            _count("PipelineStartFailures", request.pipeline, shared_record=shared_record)
            continue
        executions.append(_execution_summary(request, execution_id))
        logger.info("Started pipeline execution", extra=executions[-1])
        _count("PipelineExecutionsStarted", request.pipeline, shared_record=shared_record)
    if failures:
        # The whole event is retried; pipelines already started repeat their token and start nothing new.
        # A permanent failure is named first: it is the one a person must fix before a redrive.
        raise next((failure for failure in failures if not failure.transient), failures[0])
    result: dict[str, Any] = {"status": "started", "versionPinned": decision.pinned, "executions": executions}
    if len(executions) == 1:
        result.update(executions[0])
    return result


def _execution_summary(request: StartRequest, execution_id: str) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "pipelineName": request.pipeline,
        "pipelineExecutionId": execution_id,
        "sourceRevisions": [dict(revision) for revision in request.source_revisions],
        "clientRequestToken": request.client_request_token,
    }
    if request.variables:
        summary["variables"] = [dict(variable) for variable in request.variables]
    return summary


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


@cache
def _starter() -> PipelineStarter:
    # One client per execution environment, made on first use.
    return PipelineStarter(make_client())
