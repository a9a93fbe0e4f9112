"""CodePipeline adapter: StartPipelineExecution, and the lookup of an execution of one version.

Both are retried within the invocation and their failures named. A repeated start is safe: every request
carries the idempotency token of its pipeline and object version.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from trigger_fn.decisions import execution_of_version
from trigger_fn.retries import TRANSIENT_ERROR_CODES, CallFailed, RetryPolicy, StartPacer, call_with_retries

if TYPE_CHECKING:
    from mypy_boto3_codepipeline import CodePipelineClient
    from mypy_boto3_codepipeline.type_defs import StartPipelineExecutionOutputTypeDef

    from trigger_fn.decisions import StartRequest

# The history looked at: pages of the newest executions, back to the upload, none older than the DLQs keep events.
HISTORY_PAGE = 100
HISTORY_MAX_AGE_S = 14 * 24 * 3600
# An execution's start time and the event's time come from different clocks.
CLOCK_SKEW_S = 300

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
    uploaded_at: float | None = None,
    remaining_s: Callable[[], float] | None = None,
    before_retry: Callable[[], None] | None = None,
) -> str | None:
    """An execution of the pipeline whose S3 source revision is this version, or None.

    Reads the history newest first, page by page, until the executions are older than the upload (none of
    those can be of this version) or older than the dead-letter queues keep events. Runs out of the
    invocation's time: LookupFailed (transient), as starting without knowing could run the version twice.
    """
    oldest = now - HISTORY_MAX_AGE_S
    if uploaded_at is not None:
        oldest = max(oldest, uploaded_at - CLOCK_SKEW_S)
    page_token: str | None = None
    pages = 0
    while True:
        if pages and remaining_s is not None and remaining_s() < retry.reserve_s:
            raise LookupFailed(
                request.pipeline,
                CallFailed(
                    "OutOfTime",
                    f"{pages} page(s) read, history not read back to the upload",
                    transient=True,
                    attempts=pages,
                ),
            )
        response = _history_page(
            client, request.pipeline, page_token, retry, remaining_s=remaining_s, before_retry=before_retry
        )
        pages += 1
        summaries: list[Any] = response.get("pipelineExecutionSummaries", [])
        found = execution_of_version(
            [s for s in summaries if "startTime" not in s or s["startTime"].timestamp() >= oldest],
            request.source_action,
            version_id,
        )
        page_token = response.get("nextToken")
        reached_older = any("startTime" in s and s["startTime"].timestamp() < oldest for s in summaries)
        if found is not None or not page_token or reached_older:
            return found


def _history_page(
    client: CodePipelineClient,
    pipeline: str,
    page_token: str | None,
    retry: RetryPolicy,
    *,
    remaining_s: Callable[[], float] | None,
    before_retry: Callable[[], None] | None,
) -> Any:
    def read() -> Any:
        if page_token:
            return client.list_pipeline_executions(pipelineName=pipeline, maxResults=HISTORY_PAGE, nextToken=page_token)
        return client.list_pipeline_executions(pipelineName=pipeline, maxResults=HISTORY_PAGE)

    try:
        return call_with_retries(
            read,
            retry,
            remaining_s,
            START_TRANSIENT_CODES,
            before_retry,
        )
    except CallFailed as failure:
        raise LookupFailed(pipeline, failure) from failure


def start_execution(
    client: CodePipelineClient,
    request: StartRequest,
    retry: RetryPolicy,
    remaining_s: Callable[[], float] | None = None,
    before_retry: Callable[[], None] | None = None,
    *,
    pacer: StartPacer | None = None,
) -> str:
    """The new (or, for a repeated token, the earlier) execution id; StartFailed when none was started."""

    def attempt() -> StartPipelineExecutionOutputTypeDef:
        if pacer is not None:
            pacer.wait()
        return client.start_pipeline_execution(**request.as_api_params())

    try:
        response = call_with_retries(
            attempt,
            retry,
            remaining_s,
            START_TRANSIENT_CODES,
            before_retry,
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
