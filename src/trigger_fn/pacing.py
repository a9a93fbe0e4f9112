"""Spacing of StartPipelineExecution attempts: under the stack's start rate, and further apart after "busy" answers."""

from __future__ import annotations

from collections.abc import Callable

from trigger_fn.retries import RetryPolicy

# The pause after CodePipeline answered "busy" (throttled, conflict, too many executions) grows per busy answer.
BUSY_PAUSE_BASE_S = 0.5
BUSY_PAUSE_MAX_S = 4.0


class StartPacer:
    """Spaces this execution environment's StartPipelineExecution attempts, retries included.

    `interval_s` is MaxConcurrency / MaxStartsPerSecond: with at most MaxConcurrency environments taking
    batches at once, the stack never sends more than MaxStartsPerSecond attempts a second, whatever CodePipeline
    answers. 0 leaves the calls unpaced.
    """

    def __init__(self, interval_s: float, policy: RetryPolicy) -> None:
        self.interval_s = interval_s
        self.policy = policy
        self._next_at: float | None = None

    def wait(self) -> None:
        if self.interval_s <= 0:
            return
        now = self.policy.clock()
        if self._next_at is not None and self._next_at > now:
            self.policy.sleep(self._next_at - now)
            now = self._next_at
        self._next_at = now + self.interval_s


class BusyPause:
    """After a transient failure, a bounded, growing pause before a batch's next record (never past the time left).

    `keep_s` is the time that must stay left for that record: the retry reserve plus one record's budget.
    """

    def __init__(self, policy: RetryPolicy, remaining_s: Callable[[], float] | None, keep_s: float) -> None:
        self.policy = policy
        self.remaining_s = remaining_s
        self.keep_s = keep_s
        self.busy_answers = 0

    def pause(self) -> None:
        self.busy_answers += 1
        delay = self.policy.jitter(0, min(BUSY_PAUSE_MAX_S, BUSY_PAUSE_BASE_S * 2 ** (self.busy_answers - 1)))
        if self.remaining_s is not None:
            delay = min(delay, max(0.0, self.remaining_s() - self.keep_s))
        if delay > 0:
            self.policy.sleep(delay)

    def calm(self) -> None:
        self.busy_answers = 0
