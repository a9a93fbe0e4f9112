"""One event, start to finish: decide, start the pipelines, and leave a log line and metric for each outcome.

Every result has one shape: `status` ("started", "dry_run" or "ignored"); for a start, `versionPinned` and
`executions`, each `{"pipelineExecutionId", "request"}` with the StartPipelineExecution request as sent; for a
dry run, `versionPinned` and `requests`, the requests it would send; for an ignored event, `reasonCode` and
`reason`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from trigger_fn.clients import AwsClients
from trigger_fn.decisions import Ignore, Start, decide
from trigger_fn.observability import logger, metrics
from trigger_fn.pipeline_client import StartFailed, start_execution
from trigger_fn.s3_event import MalformedEventError
from trigger_fn.settings import Settings


def handle_event(
    event: Any,
    settings: Settings,
    clients: AwsClients,
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
    return _start(decision, settings, clients, remaining_s)


def _start(
    decision: Start, settings: Settings, clients: AwsClients, remaining_s: Callable[[], float] | None
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

    # One pinned pipeline: its per-pipeline count rides in the invocation's own metric record (no second record).
    shared_record = len(decision.requests) == 1 and decision.pinned
    executions: list[dict[str, Any]] = []
    failures: list[StartFailed] = []
    for request in decision.requests:
        try:
            execution_id = start_execution(clients.codepipeline, request, clients.retry, remaining_s)
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
        executions.append({"pipelineExecutionId": execution_id, "request": request.as_api_params()})
        logger.info("Started pipeline execution", extra=executions[-1])
        _count("PipelineExecutionsStarted", request.pipeline, shared_record=shared_record)
    if failures:
        # The whole event is retried; pipelines already started repeat their token and start nothing new.
        # A permanent failure is named first: it is the one a person must fix before a redrive.
        raise next((failure for failure in failures if not failure.transient), failures[0])
    return {"status": "started", "versionPinned": decision.pinned, "executions": executions}


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
