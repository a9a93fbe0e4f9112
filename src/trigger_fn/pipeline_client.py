"""CodePipeline adapter: one StartPipelineExecution, retried within the invocation, failures named.

A repeat is safe: every request carries the idempotency token of its pipeline and object version.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from trigger_fn.retries import TRANSIENT_ERROR_CODES, CallFailed, RetryPolicy, call_with_retries

if TYPE_CHECKING:
    from mypy_boto3_codepipeline import CodePipelineClient

    from trigger_fn.decisions import StartRequest

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
