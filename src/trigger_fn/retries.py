"""One retry loop for every AWS call the function makes: transient errors again, permanent ones at once.

botocore's own retries are switched off on our clients: its standard mode misses CodePipeline's
ConflictException and ConcurrentPipelineExecutionsLimitExceededException, and it cannot see how much
of the Lambda invocation is left. This loop covers every transient error the same way and stops early
enough to log the failure and flush metrics.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection
from typing import Any, NamedTuple

from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError

# Errors any AWS service may answer that pass on their own.
TRANSIENT_ERROR_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)
# Connection problems and timeouts are transient too.
CONNECTION_ERROR = "ConnectionError"


class AwsCallFailed(Exception):
    """An AWS call the event needs did not succeed; `transient` says whether waiting (a retry of the event) could help.

    The one failure the function raises to keep an event: its class name is the errorType of the failed-start queue.
    """

    def __init__(
        self,
        operation: str,
        target: str,
        code: str,
        message: str,
        *,
        transient: bool,
        attempts: int,
        consequence: str = "",
        explanation: str | None = None,
    ) -> None:
        self.operation = operation
        self.target = target
        self.code = code
        self.message = message
        self.transient = transient
        self.attempts = attempts
        kind = "transient" if transient else "permanent"
        # What a person needs to fix it (an access denial), else the code, its kind and AWS's own words.
        detail = explanation or f"{code} ({kind}, {attempts} attempt(s)): {message}"
        where = f"{operation}({target}) failed"
        super().__init__(f"{where}, {consequence}: {detail}" if consequence else f"{where} with {detail}")


class RetryPolicy(NamedTuple):
    max_attempts: int = 4
    base_delay_s: float = 0.2
    max_delay_s: float = 2.0
    # Leave this much of the invocation for logging the failure and flushing metrics.
    reserve_s: float = 3.0
    # Injectable so tests run retries without waiting.
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[float, float], float] = random.uniform
    clock: Callable[[], float] = time.monotonic


def call_with_retries[T](
    call: Callable[[], T],
    policy: RetryPolicy,
    operation: str,
    target: str,
    *,
    remaining_s: Callable[[], float] | None = None,
    transient_codes: Collection[str] = TRANSIENT_ERROR_CODES,
    before_retry: Callable[[], None] | None = None,
    consequence: str = "",
    explain: Callable[[str], str | None] | None = None,
) -> T:
    """The call's result, or AwsCallFailed after bounded retries of transient errors (full jitter backoff).

    `before_retry` runs after each backoff, before the next attempt; whatever it raises ends the loop.
    `consequence` and `explain` (by error code) word the failure for the person who reads it.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return call()
        except Exception as error:  # classified just below, re-raised as AwsCallFailed
            code, message, transient = classify(error, transient_codes)
            # Full jitter: spreads retries of many concurrent uploads instead of bunching them.
            delay = policy.jitter(0, min(policy.max_delay_s, policy.base_delay_s * 2 ** (attempt - 1)))
            out_of_time = remaining_s is not None and remaining_s() - delay < policy.reserve_s
            if not transient or attempt >= policy.max_attempts or out_of_time:
                raise AwsCallFailed(
                    operation,
                    target,
                    code,
                    message,
                    transient=transient,
                    attempts=attempt,
                    consequence=consequence,
                    explanation=explain(code) if explain is not None else None,
                ) from error
            policy.sleep(delay)
            if before_retry is not None:
                before_retry()


def classify(error: Exception, transient_codes: Collection[str] = TRANSIENT_ERROR_CODES) -> tuple[str, str, bool]:
    """(error code, message, transient) for an exception raised by a botocore call."""
    response: Any = getattr(error, "response", None)
    if isinstance(response, dict) and "Error" in response:
        metadata = response.get("ResponseMetadata", {})
        status = metadata.get("HTTPStatusCode", 0)
        # HeadObject errors have no body: botocore reports the HTTP status ("404", "403") as the code.
        code = str(response["Error"].get("Code") or status or "Unknown")
        message = str(response["Error"].get("Message", ""))
        return code, message, code in transient_codes or (isinstance(status, int) and status >= 500)
    if isinstance(error, BotoConnectionError | HTTPClientError):
        return CONNECTION_ERROR, str(error), True
    # Anything else (a request botocore refuses to send, say) will not fix itself by waiting.
    return type(error).__name__, str(error), False
