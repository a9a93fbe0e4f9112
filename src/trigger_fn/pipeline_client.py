"""CodePipeline adapter: sends one StartPipelineExecution and turns AWS errors into two outcomes.

botocore's own retries are switched off: its standard mode retries throttling and 5xx but not
ConflictException or ConcurrentPipelineExecutionsLimitExceededException, and it cannot see how
much of the Lambda invocation is left. One loop here covers every transient error the same way,
stops early enough to report the failure, and is safe to repeat because every request carries
an idempotency token.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import boto3
from botocore.config import Config
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError

if TYPE_CHECKING:
    from mypy_boto3_codepipeline import CodePipelineClient

    from trigger_fn.decisions import StartRequest

# Errors that may pass on their own: try again within this invocation, then let Lambda retry.
TRANSIENT_ERROR_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ConflictException",
        "ConcurrentPipelineExecutionsLimitExceededException",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)
# Connection problems and timeouts are transient too; the token makes a repeat harmless.
_CONNECTION_ERROR = "ConnectionError"


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


class RetryPolicy(NamedTuple):
    max_attempts: int = 4
    base_delay_s: float = 0.2
    max_delay_s: float = 2.0
    # Leave this much of the invocation for logging the failure and flushing metrics.
    reserve_s: float = 3.0


class PipelineStarter:
    """Starts executions through one CodePipeline client; sleep and jitter are injectable for tests."""

    def __init__(
        self,
        client: CodePipelineClient,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.client = client
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.jitter = jitter

    def start(self, request: StartRequest, remaining_s: Callable[[], float] | None = None) -> str:
        """Return the new execution id, or raise StartFailed after bounded retries of transient errors."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.client.start_pipeline_execution(**request.as_api_params())
            except Exception as error:  # classified just below, re-raised as StartFailed
                code, message, transient = _classify(error)
                delay = self._backoff(attempt)
                out_of_time = remaining_s is not None and remaining_s() - delay < self.retry.reserve_s
                if not transient or attempt >= self.retry.max_attempts or out_of_time:
                    raise StartFailed(request.pipeline, code, message, transient=transient, attempts=attempt) from error
                self.sleep(delay)
                continue
            execution_id = response.get("pipelineExecutionId")
            if not execution_id:
                raise StartFailed(
                    request.pipeline,
                    "NoExecutionId",
                    "response had no pipelineExecutionId",
                    transient=True,
                    attempts=attempt,
                )
            return execution_id

    def _backoff(self, attempt: int) -> float:
        # Full jitter: spreads retries of many concurrent uploads instead of bunching them.
        ceiling = min(self.retry.max_delay_s, self.retry.base_delay_s * 2 ** (attempt - 1))
        return self.jitter(0, ceiling)


def _classify(error: Exception) -> tuple[str, str, bool]:
    response: Any = getattr(error, "response", None)
    if isinstance(response, dict) and "Error" in response:
        code = str(response["Error"].get("Code", "Unknown"))
        message = str(response["Error"].get("Message", ""))
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code, message, code in TRANSIENT_ERROR_CODES or (isinstance(status, int) and status >= 500)
    if _is_connection_error(error):
        return _CONNECTION_ERROR, str(error), True
    # Anything else (a request botocore refuses to send, say) will not fix itself by waiting.
    return type(error).__name__, str(error), False


def _is_connection_error(error: Exception) -> bool:
    return isinstance(error, BotoConnectionError | HTTPClientError)


def make_client() -> CodePipelineClient:
    """The real client; honours AWS_ENDPOINT_URL_CODEPIPELINE for the local emulator."""
    config = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=3, read_timeout=10)
    return boto3.client("codepipeline", config=config)
