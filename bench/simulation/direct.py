"""The DIRECT path: EventBridge's rule invokes the function asynchronously, one event per invocation.

Lambda's asynchronous queue, as AWS documents it (docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling):
- each event is invoked as soon as it arrives while the account has concurrency left (no reserved concurrency);
- past the account's limit the invocation is throttled and the event returns to the queue, tried again with a
  delay growing from 1 s to at most 5 min, for up to MaximumEventAgeInSeconds (6 h), then sent to the on-failure
  destination;
- a function error (raised, or the timeout) is retried twice, one minute and then two minutes later; after the
  third error the event goes to the on-failure destination (FailedStartQueue), where a person must redrive it.
AWS also writes that when the function cannot keep up "events might also be deleted from the queue without being
sent to the function", but gives no rule for when: no drops are modelled.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from bench.simulation.services import Invocations, World, invoke
from bench.simulation.workload import Delivery

RETRY_DELAYS_S = (60.0, 120.0)
THROTTLE_FIRST_S = 1.0
THROTTLE_MAX_S = 300.0


@dataclass(frozen=True)
class DirectConfig:
    # Lambda's default concurrent executions per account and Region.
    account_concurrency: int = 1000
    max_event_age_s: float = 21600.0


@dataclass
class _Queued:
    delivery: Delivery
    enqueued_at: float
    errors: int = 0
    throttles: int = 0


@dataclass
class DirectPath:
    world: World
    config: DirectConfig = field(default_factory=DirectConfig)
    invocations: Invocations = field(default_factory=Invocations)
    # What reached the on-failure destination, and why.
    failed: list[tuple[Delivery, str]] = field(default_factory=list)
    settled_at: dict[int, float] = field(default_factory=dict)
    throttled: int = 0
    # Invocations dispatched and not yet ended: what the account's concurrency limit counts.
    active: int = 0
    _numbers: int = 0

    def deliver(self, delivery: Delivery) -> None:
        """EventBridge hands the event to Lambda's asynchronous queue now."""
        self._dispatch(_Queued(delivery, self.world.kernel.now()))

    def _dispatch(self, item: _Queued) -> None:
        kernel = self.world.kernel
        if self.active >= self.config.account_concurrency:
            self.throttled += 1
            delay = min(THROTTLE_MAX_S, THROTTLE_FIRST_S * 2**item.throttles)
            item.throttles += 1
            if kernel.now() + delay - item.enqueued_at > self.config.max_event_age_s:
                self._fail(item, "expired")
                return
            kernel.at(kernel.now() + delay, lambda: self._dispatch(item))
            return
        self._numbers += 1
        self.active += 1
        kernel.spawn(kernel.now(), lambda: self._invoke(item), f"direct-{self._numbers}")

    def _invoke(self, item: _Queued) -> None:
        event: dict[str, Any] = item.delivery.upload.event
        try:
            invoke(self.world, copy.deepcopy(event), self.invocations)
        except Exception:  # noqa: BLE001 - Lambda retries whatever the function raised
            self.active -= 1
            item.errors += 1
            if item.errors > len(RETRY_DELAYS_S):
                self._fail(item, "retries exhausted")
                return
            delay = RETRY_DELAYS_S[item.errors - 1]
            self.world.kernel.at(self.world.kernel.now() + delay, lambda: self._dispatch(item))
            return
        self.active -= 1
        self.settled_at[id(item.delivery)] = self.world.kernel.now()

    def _fail(self, item: _Queued, why: str) -> None:
        self.failed.append((item.delivery, why))
        self.settled_at[id(item.delivery)] = self.world.kernel.now()
