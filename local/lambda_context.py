"""The Lambda context, for running a handler outside Lambda: in-process invokes, demos, tests and the bench."""

from __future__ import annotations

import time
from collections.abc import Callable


class LocalLambdaContext:
    """The attributes Lambda's context object has (Powertools reads several); the deadline runs from creation.

    A plain class, not a dataclass: the bench imports it into a measured cold start.
    """

    def __init__(
        self,
        function_name: str = "s3-pipeline-trigger-trigger",
        *,
        request_id: str = "local-invoke",
        region: str = "eu-west-1",
        memory_mb: int = 256,
        timeout_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:123456789012:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef"
        # The bench passes its virtual clock: remaining time then runs in simulated seconds.
        self.clock = clock
        self.deadline = clock() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - self.clock()) * 1000))
