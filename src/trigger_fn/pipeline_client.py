"""CodePipeline adapter: StartPipelineExecution, and the lookup of an execution of one version.

Both are retried within the invocation; a failure is an AwsCallFailed naming the operation and the pipeline.
A repeated start is safe: every request carries the idempotency token of its pipeline and object version.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from trigger_fn.retries import TRANSIENT_ERROR_CODES, AwsCallFailed, RetryPolicy, call_with_retries

if TYPE_CHECKING:
    from mypy_boto3_codepipeline import CodePipelineClient
    from mypy_boto3_codepipeline.type_defs import StartPipelineExecutionOutputTypeDef

    from trigger_fn.pacing import StartPacer

START = "StartPipelineExecution"
LIST_EXECUTIONS = "ListPipelineExecutions"
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


def find_execution_of_version(
    client: CodePipelineClient,
    pipeline: str,
    source_action: str,
    version_id: str,
    retry: RetryPolicy,
    *,
    now: float,
    uploaded_at: float | None = None,
    remaining_s: Callable[[], float] | None = None,
    before_retry: Callable[[], None] | None = None,
) -> str | None:
    """An execution of the pipeline whose S3 source revision (of `source_action`) is this version, or None.

    Reads the history newest first, page by page, until the executions are older than the upload (none of
    those can be of this version) or older than the dead-letter queues keep events. Runs out of the
    invocation's time: AwsCallFailed (transient), as starting without knowing could run the version twice.
    """
    oldest = now - HISTORY_MAX_AGE_S
    if uploaded_at is not None:
        oldest = max(oldest, uploaded_at - CLOCK_SKEW_S)
    page_token: str | None = None
    pages = 0
    while True:
        if pages and remaining_s is not None and remaining_s() < retry.reserve_s:
            message = f"{pages} page(s) read, history not read back to the upload"
            raise AwsCallFailed(LIST_EXECUTIONS, pipeline, "OutOfTime", message, transient=True, attempts=pages)
        params: dict[str, Any] = {"pipelineName": pipeline, "maxResults": HISTORY_PAGE}
        if page_token:
            params["nextToken"] = page_token
        response: Any = call_with_retries(
            partial(client.list_pipeline_executions, **params),
            retry,
            LIST_EXECUTIONS,
            pipeline,
            remaining_s=remaining_s,
            transient_codes=START_TRANSIENT_CODES,
            before_retry=before_retry,
        )
        pages += 1
        summaries: list[Any] = response.get("pipelineExecutionSummaries", [])
        found = execution_of_version(
            [s for s in summaries if "startTime" not in s or s["startTime"].timestamp() >= oldest],
            source_action,
            version_id,
        )
        page_token = response.get("nextToken")
        reached_older = any("startTime" in s and s["startTime"].timestamp() < oldest for s in summaries)
        if found is not None or not page_token or reached_older:
            return found


def execution_of_version(summaries: list[dict[str, Any]], source_action: str, version_id: str) -> str | None:
    """The id of the newest listed execution whose S3 source revision is this version, if any."""
    for summary in summaries:
        for revision in summary.get("sourceRevisions", []):
            if revision.get("actionName") == source_action and revision.get("revisionId") == version_id:
                return str(summary["pipelineExecutionId"])
    return None


def start_execution(
    client: CodePipelineClient,
    params: dict[str, Any],
    retry: RetryPolicy,
    remaining_s: Callable[[], float] | None = None,
    before_retry: Callable[[], None] | None = None,
    *,
    pacer: StartPacer | None = None,
) -> str:
    """The new (or, for a repeated token, the earlier) execution id of the request `params` (as sent);
    AwsCallFailed when none was started."""
    pipeline = str(params["name"])

    def attempt() -> StartPipelineExecutionOutputTypeDef:
        if pacer is not None:
            pacer.wait()
        return client.start_pipeline_execution(**params)

    response = call_with_retries(
        attempt,
        retry,
        START,
        pipeline,
        remaining_s=remaining_s,
        transient_codes=START_TRANSIENT_CODES,
        before_retry=before_retry,
    )
    execution_id = response.get("pipelineExecutionId")
    if not execution_id:
        message = "response had no pipelineExecutionId"
        raise AwsCallFailed(START, pipeline, "NoExecutionId", message, transient=True, attempts=1)
    return execution_id
