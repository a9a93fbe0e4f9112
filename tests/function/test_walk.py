"""The shape of one event's walk through the function: plan, then run (every AWS call), then report, each module
entered at most twice; and every module of the function short enough to read in one sitting."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from local.aws_models.codepipeline import FakeCodePipeline
from local.aws_models.s3 import FakeS3
from local.lambda_context import LocalLambdaContext
from support.events import fresh, load_event
from trigger_fn import handler
from trigger_fn.clients import AwsClients
from trigger_fn.retries import RetryPolicy

PACKAGE = "trigger_fn"
SOURCE = Path(__file__).parents[2] / "src" / PACKAGE
MAX_LINES = 150
# The adapters and the retry loop: only the run step may reach them.
AWS_SIDE = {f"{PACKAGE}.{name}" for name in ("clients", "object_versions", "pipeline_client", "retries", "pacing")}


def entries(call: Callable[[], Any]) -> list[str]:
    """In order, each call into a function module from another module (or from outside the package)."""
    entered: list[str] = []

    def profile(frame: FrameType, event: str, _arg: Any) -> None:
        if event != "call":
            return
        module = str(frame.f_globals.get("__name__", ""))
        caller = frame.f_back
        if module.startswith(f"{PACKAGE}.") and (caller is None or caller.f_globals.get("__name__") != module):
            entered.append(module)

    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
    return entered


def test_a_fresh_pinned_upload_walks_plan_run_report_entering_no_module_more_than_twice() -> None:
    # GIVEN a fresh upload of the one-route key, its version still the key's current one
    event = fresh(load_event("put-object.json"))
    journal: list[tuple[str, str]] = []
    codepipeline = FakeCodePipeline.with_pipelines("my-website-pipeline", journal=journal)
    s3 = FakeS3.holding(event, journal=journal)
    clients = AwsClients(codepipeline, s3=s3, retry=RetryPolicy(sleep=lambda _: None))  # type: ignore[arg-type]

    # WHEN the handler takes it, traced
    walk = entries(lambda: handler.lambda_handler(event, LocalLambdaContext(), clients=clients))

    # THEN it made exactly the calls it needed: HeadObject, then StartPipelineExecution
    assert [what for what, _ in journal] == ["head-ok", "start"]
    # AND no module was entered more than twice
    assert {module: count for module, count in Counter(walk).items() if count > 2} == {}
    # AND the steps came in order, each once: plan, run, report
    steps = [module for module in walk if module in {f"{PACKAGE}.plan", f"{PACKAGE}.run", f"{PACKAGE}.report"}]
    assert steps == [f"{PACKAGE}.plan", f"{PACKAGE}.run", f"{PACKAGE}.report"]
    # AND every AWS call was made by the run step: the adapters were entered only between run and report
    aws_side = [at for at, module in enumerate(walk) if module in AWS_SIDE]
    assert aws_side
    assert walk.index(f"{PACKAGE}.run") < min(aws_side)
    assert max(aws_side) < walk.index(f"{PACKAGE}.report")


def test_every_module_of_the_function_is_under_the_line_limit() -> None:
    lengths = {path.name: len(path.read_text(encoding="utf-8").splitlines()) for path in SOURCE.glob("*.py")}

    offenders = sorted(name for name, lines in lengths.items() if lines >= MAX_LINES)

    assert offenders == [], f"modules of {MAX_LINES} lines or more: {offenders}"
