"""Reports an Outcome: its log lines and metrics, and the Result (or the failure that keeps the event).

`own_metric_record` is False when several events share the invocation's metric record (a queue batch): a
per-pipeline dimension set added to it would then count every other event's metrics for that pipeline.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from trigger_fn.observability import logger, metrics
from trigger_fn.outcome import Outcome, Result, Step
from trigger_fn.plan import Ignore
from trigger_fn.retries import AwsCallFailed
from trigger_fn.start_requests import StartRequest

_FAILURE_LINES = {"ListPipelineExecutions": "Execution lookup failed", "HeadObject": "Current-version check failed"}


def report(outcome: Outcome, *, own_metric_record: bool = True) -> Result | AwsCallFailed:
    plan = outcome.plan
    if isinstance(plan, Ignore):
        return ignored(plan)
    upload = plan.upload
    logger.append_keys(bucket=upload.bucket, key=upload.key, version_id=upload.version_id)
    if not plan.pinned:
        logger.warning(
            "Object event has no version-id: starting without a version pin or current-version check "
            "(the pipeline reads the newest)"
        )
        metrics.add_metric(name="UnpinnedStarts", unit=MetricUnit.Count, value=1)
    if plan.dry_run:
        for request in plan.requests:
            _warn_omitted(request)
        planned = [request.as_api_params() for request in plan.requests]
        logger.info("Dry run: not starting", extra={"requests": planned})
        metrics.add_metric(name="DryRuns", unit=MetricUnit.Count, value=1)
        return Result("dry_run", version_pinned=plan.pinned, requests=tuple(planned))

    # One pinned pipeline: its per-pipeline count rides in the invocation's own metric record (no second record).
    shared_record = own_metric_record and len(plan.requests) == 1 and plan.pinned
    # List comprehensions, not generators: they run inline, with no frame per item.
    executions = [_reported(step, shared_record=shared_record) for step in outcome.steps]
    started = tuple([execution for execution in executions if execution is not None])
    if outcome.stale is not None:
        metrics.add_metric(name="EventsSuperseded", unit=MetricUnit.Count, value=1)
    if outcome.failure is not None:
        # The whole event is tried again; pipelines already started repeat their token and start nothing new.
        return outcome.failure
    if outcome.stale is None:
        return Result("started", version_pinned=plan.pinned, executions=started)
    versions = {"event_version_id": upload.version_id, "current_version_id": outcome.current_version_id}
    if not started:
        return ignored(outcome.stale, **versions)
    withheld = [step.request.pipeline for step in outcome.steps if step.kind == "withheld"]
    logger.info(
        "Not starting the latestOnly routes: the uploaded version is no longer current",
        extra={"reason_code": outcome.stale.reason_code, **versions, "withheld": withheld},
    )
    skipped = tuple(
        {"pipeline": pipeline, "reasonCode": outcome.stale.reason_code, "reason": outcome.stale.reason}
        for pipeline in withheld
    )
    return Result("started", version_pinned=plan.pinned, executions=started, skipped=skipped)


def ignored(reason: Ignore, **facts: str | None) -> Result:
    logger.info("Ignored event", extra={"reason_code": reason.reason_code, "reason": reason.reason, **facts})
    metrics.add_metric(name="EventsIgnored", unit=MetricUnit.Count, value=1)
    return Result("ignored", reason_code=reason.reason_code, reason=reason.reason)


def malformed(field: str, problem: str) -> None:
    logger.error("Rejected malformed event", extra={"field": field, "problem": problem})
    metrics.add_metric(name="EventsMalformed", unit=MetricUnit.Count, value=1)


def _reported(step: Step, *, shared_record: bool) -> dict[str, Any] | None:
    """Logs and counts one request's step; the execution it started or found, if any."""
    if step.tried and step.request.omitted_variables:
        _warn_omitted(step.request)
    pipeline = step.request.pipeline
    if step.failure is not None:
        _failed(step.failure, step.request, shared_record=shared_record)
        return None
    if step.kind == "withheld":
        return None
    execution: dict[str, Any] = {"pipelineExecutionId": step.execution_id, "request": step.params}
    if step.kind == "already_started":
        execution["alreadyStarted"] = True
        logger.info("Version already has an execution: not starting it again", extra=execution)
        _count("ExecutionsAlreadyStarted", pipeline, shared_record=shared_record)
    else:
        logger.info("Started pipeline execution", extra=execution)
        _count("PipelineExecutionsStarted", pipeline, shared_record=shared_record)
    return execution


def _failed(failure: AwsCallFailed, request: StartRequest, *, shared_record: bool) -> None:
    line = _FAILURE_LINES.get(failure.operation, "StartPipelineExecution failed")
    if failure.operation == "HeadObject":
        logger.error(line, extra={"error_code": failure.code, "error": str(failure)})
        metrics.add_metric(name="VersionCheckFailures", unit=MetricUnit.Count, value=1)
        return
    facts = {"pipeline": request.pipeline, "error_code": failure.code, "transient": failure.transient}
    logger.error(line, extra={**facts, "client_request_token": request.client_request_token, "error": str(failure)})
    _count("PipelineStartFailures", request.pipeline, shared_record=shared_record)


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
