"""Virtual time: a discrete-event loop in which the function's own code runs as it is, one thread at a time.

Each simulated actor (a Lambda invocation, an event source mapping's poller) is a thread, but only one thread
ever runs: the loop hands it the baton and waits until the actor waits in virtual time (a sleep in the function's
retry loop, an AWS call's round trip) or ends. Events at the same instant run in the order they were scheduled,
so a seeded run is the same run every time.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import threading
from collections.abc import Callable


class SimulationError(RuntimeError):
    """An actor raised where nothing expected it: the simulation itself is wrong, so the run stops."""


class _Actor:
    def __init__(self, kernel: Kernel, body: Callable[[], None], tag: str) -> None:
        self.kernel = kernel
        self.body = body
        self.tag = tag
        self.go = threading.Semaphore(0)
        # Bumped by every wake-up: a resume scheduled for an older wait is stale and skipped.
        self.generation = 0
        self.parked = False
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, name=tag, daemon=True)

    def _main(self) -> None:
        self.go.acquire()
        try:
            self.body()
        except BaseException as error:  # noqa: BLE001 - handed to the loop, which stops the run with it
            self.error = error
        finally:
            self.kernel._actor_done()


class Kernel:
    def __init__(self, start: float) -> None:
        self._now = start
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._current: _Actor | None = None
        self._back = threading.Semaphore(0)
        self.actors_started = 0

    def now(self) -> float:
        return self._now

    def at(self, when: float, action: Callable[[], None]) -> None:
        """Run `action` in the loop at virtual time `when` (never earlier than now)."""
        heapq.heappush(self._queue, (max(when, self._now), next(self._order), action))

    def spawn(self, when: float, body: Callable[[], None], tag: str) -> None:
        """Start an actor at `when`: `body` runs in virtual time and may call `wait`."""
        actor = _Actor(self, body, tag)

        def start() -> None:
            self.actors_started += 1
            actor.thread.start()
            self._resume(actor, actor.generation)

        self.at(when, start)

    def current_tag(self) -> str:
        return self._current.tag if self._current is not None else "loop"

    def retag(self, tag: str) -> str:
        """Rename the running actor (a poller per invocation it makes, say); returns the old name."""
        actor = self._actor()
        old, actor.tag = actor.tag, tag
        return old

    def wait(self, seconds: float) -> None:
        """From inside an actor: let `seconds` of virtual time pass."""
        actor = self._actor()
        self.at(self._now + max(0.0, seconds), functools.partial(self._resume, actor, actor.generation))
        self._yield(actor)

    def park(self, seconds: float) -> None:
        """Like `wait`, but ends early when the actor's waker is called: a long poll that a new message ends."""
        actor = self._actor()
        actor.parked = True
        self.at(self._now + max(0.0, seconds), functools.partial(self._resume, actor, actor.generation))
        self._yield(actor)

    def waker(self) -> Callable[[], None]:
        """A function that, called from anywhere in the run, ends the current actor's next `park` now."""
        actor = self._actor()

        def wake() -> None:
            if actor.parked:
                actor.generation += 1
                self.at(self._now, functools.partial(self._resume, actor, actor.generation))

        return wake

    def run(self, until: float | None = None) -> None:
        while self._queue:
            when, _, action = self._queue[0]
            if until is not None and when > until:
                return
            heapq.heappop(self._queue)
            self._now = when
            action()

    # ------------------------------------------------------------------ the baton
    def _actor(self) -> _Actor:
        actor = self._current
        if actor is None or threading.current_thread() is not actor.thread:
            raise SimulationError("wait() is for actors; the loop's own actions must not wait")
        return actor

    def _yield(self, actor: _Actor) -> None:
        self._current = None
        self._back.release()
        actor.go.acquire()

    def _resume(self, actor: _Actor, generation: int) -> None:
        if generation != actor.generation:
            return
        actor.generation += 1
        actor.parked = False
        self._current = actor
        actor.go.release()
        self._back.acquire()
        if actor.error is not None:
            error, actor.error = actor.error, None
            raise SimulationError(f"{actor.tag} failed: {error!r}") from error

    def _actor_done(self) -> None:
        self._current = None
        self._back.release()
