"""The AWS the function meets in virtual time: the shared models behind round trips, and the function itself.

`local/aws_models` keeps the rules (token memory, a start rate, execution history, current versions); here each call
also takes virtual time (half before the service acts, half after), CodePipeline answers ConflictException for a
pipeline during bursts, and every call is journaled with the actor that made it. The function runs as Lambda runs
it: `trigger_fn.handler.lambda_handler` with a context whose remaining time is virtual, and AwsClients whose retry
policy sleeps in virtual time. The handler reads no clock of its own; the functions it calls take `now`, which it
does not pass, so the simulation hands them the virtual clock (the one seam patched from outside).
"""

from __future__ import annotations

import contextlib
import functools
import io
import random
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bench.simulation.kernel import Kernel

from local.aws_models.codepipeline import FakeCodePipeline, Pipeline, client_error
from local.aws_models.s3 import FakeS3
from local.lambda_context import LocalLambdaContext
from trigger_fn.clients import AwsClients
from trigger_fn.retries import RetryPolicy
from trigger_fn.settings import Settings


@dataclass(frozen=True)
class ServiceModel:
    # StartPipelineExecution calls CodePipeline accepts per second (the model throttles the rest).
    start_tps: int = 10
    # ConflictException bursts: how many, on a random pipeline each, how long each lasts.
    conflict_bursts: int = 30
    conflict_burst_s: float = 3.0
    # Round trips (virtual seconds).
    start_latency_s: float = 0.12
    list_latency_s: float = 0.15
    head_latency_s: float = 0.02
    # The function's own work per invocation and per record, and a new execution environment's init.
    invoke_overhead_s: float = 0.003
    record_overhead_s: float = 0.001
    init_s: float = 0.25
    timeout_s: float = 30.0
    memory_mb: int = 256


@dataclass(frozen=True)
class Call:
    at: float
    actor: str
    operation: str
    pipeline: str
    key: str
    version: str | None
    outcome: str  # "started", "replayed", "ok", or the error code


@dataclass
class Journal:
    calls: list[Call] = field(default_factory=list)

    def starts(self) -> list[Call]:
        return [call for call in self.calls if call.operation == "StartPipelineExecution"]


class ConflictBursts:
    """Windows in which one pipeline answers every start with ConflictException ("the pipeline is busy")."""

    def __init__(self, rng: random.Random, pipelines: list[str], model: ServiceModel, start: float, span: float):
        self.windows: list[tuple[str, float, float]] = []
        for _ in range(model.conflict_bursts):
            at = start + rng.uniform(0, span)
            self.windows.append((rng.choice(pipelines), at, at + model.conflict_burst_s))
        self.answered = 0

    def busy(self, pipeline: str, now: float) -> bool:
        return any(name == pipeline and begin <= now < end for name, begin, end in self.windows)


class TimedCodePipeline:
    def __init__(
        self, model: FakeCodePipeline, kernel: Kernel, service: ServiceModel, journal: Journal, bursts: ConflictBursts
    ):
        self.model = model
        self.kernel = kernel
        self.service = service
        self.journal = journal
        self.bursts = bursts
        model.on_start = self._maybe_conflict

    def start_pipeline_execution(self, **params: Any) -> dict[str, str]:
        half = self.service.start_latency_s / 2
        self.kernel.wait(half)
        before = len(self.model.executions)
        version = _version(params)
        try:
            answer = self.model.start_pipeline_execution(**params)
        except Exception as error:
            self._note("StartPipelineExecution", params["name"], version, _code(error))
            self.kernel.wait(half)
            raise
        started = len(self.model.executions) > before
        self._note("StartPipelineExecution", params["name"], version, "started" if started else "replayed")
        self.kernel.wait(half)
        return answer

    def list_pipeline_executions(self, **params: Any) -> dict[str, Any]:
        half = self.service.list_latency_s / 2
        self.kernel.wait(half)
        answer = self.model.list_pipeline_executions(**params)
        self._note("ListPipelineExecutions", params["pipelineName"], None, "ok")
        self.kernel.wait(half)
        return answer

    def _maybe_conflict(self, params: dict[str, Any]) -> None:
        if self.bursts.busy(params["name"], self.kernel.now()):
            self.bursts.answered += 1
            raise client_error("ConflictException", 409, "StartPipelineExecution", "the pipeline is busy")

    def _note(self, operation: str, pipeline: str, version: str | None, outcome: str) -> None:
        self.journal.calls.append(
            Call(self.kernel.now(), self.kernel.current_tag(), operation, pipeline, "", version, outcome)
        )


class TimedS3:
    def __init__(self, model: FakeS3, kernel: Kernel, service: ServiceModel, journal: Journal):
        self.model = model
        self.kernel = kernel
        self.service = service
        self.journal = journal

    def head_object(self, **params: Any) -> dict[str, Any]:
        half = self.service.head_latency_s / 2
        self.kernel.wait(half)
        try:
            answer = self.model.head_object(**params)
        except Exception as error:
            self._note(params["Key"], None, _code(error))
            self.kernel.wait(half)
            raise
        self._note(params["Key"], str(answer["VersionId"]), "ok")
        self.kernel.wait(half)
        return answer

    def _note(self, key: str, version: str | None, outcome: str) -> None:
        self.journal.calls.append(
            Call(self.kernel.now(), self.kernel.current_tag(), "HeadObject", "", key, version, outcome)
        )


@dataclass
class World:
    """One run's AWS: the models, their timed fronts, the function's clients and the journal."""

    kernel: Kernel
    service: ServiceModel
    settings: Settings
    rng: random.Random
    codepipeline: FakeCodePipeline
    s3: FakeS3
    journal: Journal
    bursts: ConflictBursts
    clients: AwsClients

    @classmethod
    def build(
        cls, kernel: Kernel, service: ServiceModel, settings: Settings, seed: int, burst_span: tuple[float, float]
    ) -> World:
        rng = random.Random(seed)  # noqa: S311 - reproducible backoff jitter and faults, not security
        pipelines = sorted({route.pipeline for route in settings.routes})
        codepipeline = FakeCodePipeline(
            pipelines={name: Pipeline(name) for name in pipelines},
            clock=kernel.now,
            max_starts_per_s=service.start_tps,
            rng=random.Random(seed + 1),  # noqa: S311 - test data
        )
        s3 = FakeS3()
        journal = Journal()
        bursts = ConflictBursts(rng, pipelines, service, *burst_span)
        timed_codepipeline = TimedCodePipeline(codepipeline, kernel, service, journal, bursts)
        timed_s3 = TimedS3(s3, kernel, service, journal)
        retry = RetryPolicy(sleep=kernel.wait, jitter=rng.uniform, clock=kernel.now)
        clients = AwsClients(timed_codepipeline, s3=timed_s3, retry=retry)  # type: ignore[arg-type]
        return cls(kernel, service, settings, rng, codepipeline, s3, journal, bursts, clients)

    def environment_clients(self, start_interval_s: float) -> AwsClients:
        """The clients of one execution environment: the same services, a start pacer of its own."""
        return AwsClients(
            self.clients.codepipeline, s3=self.clients.s3, retry=self.clients.retry, start_interval_s=start_interval_s
        )


@dataclass
class Invocations:
    """Lambda's bill for one path: invocations, billed milliseconds, cold starts, concurrency."""

    count: int = 0
    billed_ms: int = 0
    cold_starts: int = 0
    errors: int = 0
    running: int = 0
    peak_running: int = 0
    idle_environments: int = 0

    def begin(self) -> bool:
        """One more invocation running; True when it needs a new execution environment (a cold start)."""
        self.count += 1
        self.running += 1
        self.peak_running = max(self.peak_running, self.running)
        if self.idle_environments:
            self.idle_environments -= 1
            return False
        self.cold_starts += 1
        return True

    def end(self, seconds: float) -> None:
        self.running -= 1
        self.idle_environments += 1
        # Lambda bills duration rounded up to the millisecond.
        self.billed_ms += int(-(-seconds * 1000 // 1))


def invoke(
    world: World, event: dict[str, Any], invocations: Invocations, records: int = 1, clients: AwsClients | None = None
) -> Any:
    """Run the handler once, from inside an actor, as Lambda would; raises what the function raised (or a timeout)."""
    # Imported on first use: the handler (and Powertools behind it) read the environment at import.
    from trigger_fn import handler  # noqa: PLC0415

    kernel = world.kernel
    began = kernel.now()
    cold = invocations.begin()
    # The journal tells invocations apart: the function's checks and starts are matched within one.
    actor = kernel.retag(f"invocation-{invocations.count}")
    if cold:
        kernel.wait(world.service.init_s)
    context = LocalLambdaContext(
        request_id=f"request-{invocations.count}",
        region="us-east-1",
        memory_mb=world.service.memory_mb,
        timeout_s=world.service.timeout_s,
        clock=kernel.now,
    )
    try:
        kernel.wait(world.service.invoke_overhead_s + world.service.record_overhead_s * records)
        result = handler.lambda_handler(event, context, clients=clients or world.clients)
        if kernel.now() > context.deadline:
            raise TimeoutError("Task timed out")
        return result
    except Exception:
        invocations.errors += 1
        raise
    finally:
        invocations.end(min(kernel.now(), context.deadline) - began)
        kernel.retag(actor)


class _Discard(io.StringIO):
    def write(self, text: str) -> int:
        return len(text)


@contextlib.contextmanager
def function_in_virtual_time(kernel: Kernel, settings: Settings) -> Iterator[None]:
    """The handler with these settings and the virtual clock; its log lines and metrics discarded (not measured)."""
    from aws_lambda_powertools import Metrics  # noqa: PLC0415 - as in invoke

    from trigger_fn import batch, handler, trigger  # noqa: PLC0415
    from trigger_fn.observability import logger  # noqa: PLC0415

    # Module attributes replaced for the run and put back after it: the seams the handler lacks.
    module: Any = handler
    saved = (module.SETTINGS, module.handle_event, module.handle_batch)
    module.SETTINGS = settings
    module.handle_event = functools.partial(trigger.handle_event, now=kernel.now)
    module.handle_batch = functools.partial(batch.handle_batch, now=kernel.now)
    log_handler: Any = logger.registered_handler
    stream = log_handler.stream
    log_handler.setStream(_Discard())
    try:
        with contextlib.redirect_stdout(_Discard()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        module.SETTINGS, module.handle_event, module.handle_batch = saved
        log_handler.setStream(stream)
        Metrics().clear_metrics()
        Metrics().clear_default_dimensions()


def _version(params: dict[str, Any]) -> str | None:
    for revision in params.get("sourceRevisions", []):
        if revision["revisionType"] == "S3_OBJECT_VERSION_ID":
            return str(revision["revisionValue"])
    return None


def _code(error: Exception) -> str:
    response: Any = getattr(error, "response", None)
    if isinstance(response, dict) and "Error" in response:
        return str(response["Error"].get("Code"))
    return type(error).__name__
