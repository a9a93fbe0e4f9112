"""CodePipeline adapter: StartPipelineExecution, and the lookup of an execution of one version.

Both are retried within the invocation and their failures named. A repeated start is safe: every request
carries the idempotency token of its pipeline and object version.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from trigger_fn.decisions import execution_of_version
from trigger_fn.retries import TRANSIENT_ERROR_CODES, CallFailed, RetryPolicy, call_with_retries

if TYPE_CHECKING:
    from mypy_boto3_codepipeline import CodePipelineClient

    from trigger_fn.decisions import StartRequest

# The history looked at: one page of the newest executions, none older than the dead-letter queues keep events.
HISTORY_PAGE = 100
HISTORY_MAX_AGE_S = 14 * 24 * 3600

# CodePipeline's "busy" answers pass too: another start holds the pipeline, or too many run at once.
START_TRANSIENT_CODES = TRANSIENT_ERROR_CODES | {
    "ConflictException",
    "ConcurrentPipelineExecutionsLimitExceededException",
}


class StartFailed(Exception):
    """StartPipelineExecution did not start an execution; the event must be kept."""

    def __init__(self, pipeline: str, code: str, message: str, *, transient: bool, attempts: int) -> None:
        self.pipeline = pipeline
        self.code = code
        self.transient = transient
        self.attempts = attempts
        kind = "transient" if transient else "permanent"
        super().__init__(
            f"StartPipelineExecution({pipeline}) failed with {code} ({kind}, {attempts} attempt(s)): {message}"
        )


class LookupFailed(Exception):
    """ListPipelineExecutions failed: whether the version already ran is unknown, so nothing may start."""

    def __init__(self, pipeline: str, failure: CallFailed) -> None:
        self.pipeline = pipeline
        self.code = failure.code
        self.transient = failure.transient
        kind = "transient" if failure.transient else "permanent"
        super().__init__(
            f"ListPipelineExecutions({pipeline}) failed with {failure.code} ({kind}, {failure.attempts} attempt(s)): "
            f"{failure.message}"
        )


def find_execution_of_version(
    client: CodePipelineClient,
    request: StartRequest,
    version_id: str,
    retry: RetryPolicy,
    *,
    now: float,
    remaining_s: Callable[[], float] | None = None,
) -> str | None:
    """An execution of the pipeline whose S3 source revision is this version, among the newest 100 of 14 days."""
    try:
        response = call_with_retries(
            lambda: client.list_pipeline_executions(pipelineName=request.pipeline, maxResults=HISTORY_PAGE),
            retry,
            remaining_s,
            START_TRANSIENT_CODES,
        )
    except CallFailed as failure:
        raise LookupFailed(request.pipeline, failure) from failure
    recent: list[Any] = [
        summary
        for summary in response.get("pipelineExecutionSummaries", [])
        if "startTime" not in summary or now - summary["startTime"].timestamp() <= HISTORY_MAX_AGE_S
    ]
    return execution_of_version(recent, request.source_action, version_id)


def start_execution(
    client: CodePipelineClient,
    request: StartRequest,
    retry: RetryPolicy,
    remaining_s: Callable[[], float] | None = None,
) -> str:
    """The new (or, for a repeated token, the earlier) execution id; StartFailed when none was started."""
    try:
        response = call_with_retries(
            lambda: client.start_pipeline_execution(**request.as_api_params()),
            retry,
            remaining_s,
            START_TRANSIENT_CODES,
        )
    except CallFailed as failure:
        raise StartFailed(
            request.pipeline, failure.code, failure.message, transient=failure.transient, attempts=failure.attempts
        ) from failure
    execution_id = response.get("pipelineExecutionId")
    if not execution_id:
        raise StartFailed(
            request.pipeline, "NoExecutionId", "response had no pipelineExecutionId", transient=True, attempts=1
        )
    return execution_id
