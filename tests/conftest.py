"""Shared fixtures: the function's environment as the template sets it, sample events, a Lambda context."""

from __future__ import annotations

import copy
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings
from scripts.emf import emf_metrics

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"

# The environment the template gives the function; set before any test imports the handler.
FUNCTION_ENV = {
    "SOURCE_BUCKET": "my-artifact-bucket",
    "OBJECT_KEY": "my-website.zip",
    "PIPELINE_NAME": "my-website-pipeline",
    "SOURCE_ACTION_NAME": "Source",
    "OVERRIDE_OBJECT_KEY": "false",
    "DRY_RUN": "false",
    "POWERTOOLS_SERVICE_NAME": "s3-pipeline-trigger",
    "POWERTOOLS_METRICS_NAMESPACE": "S3PipelineTrigger",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
os.environ.update(FUNCTION_ENV)
for _leak in ("ROUTES", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CODEPIPELINE"):
    os.environ.pop(_leak, None)


# CI runs the property tests on a fixed seed so a run is repeatable; locally each run explores new inputs.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


def load_event(name: str) -> dict[str, Any]:
    """A sample event from events/, the same file `sam local invoke -e events/NAME` uses."""
    event: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return event


@dataclass
class FakeLambdaContext:
    function_name: str = "s3-pipeline-trigger-TriggerFunction"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:s3-pipeline-trigger-TriggerFunction"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"
    remaining_ms: int = 30_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture(autouse=True)
def _reset_metrics() -> Iterator[None]:
    # Metrics are module singletons in Powertools; a test must not see another's leftovers.
    yield
    from aws_lambda_powertools import Metrics

    Metrics().clear_metrics()
    Metrics().clear_default_dimensions()
    from aws_lambda_powertools.logging import logger as logger_module
    from aws_lambda_powertools.metrics.provider import cold_start

    # Each test is a fresh execution environment as far as the cold-start flags go.
    cold_start.is_cold_start = True
    logger_module.is_cold_start = True


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every JSON object printed on its own line (Powertools logs and EMF metrics)."""
    lines = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def emitted_metrics(records: list[dict[str, Any]]) -> list[tuple[str, tuple[str, ...], dict[str, str], float]]:
    """(name, sorted dimension names, dimensions, value) for every metric in every dimension set of the records."""
    return [(name, tuple(sorted(dimensions)), dimensions, value) for name, dimensions, value in emf_metrics(records)]


class FunctionOutput:
    """What the function printed: Powertools JSON log lines and EMF metric records, in order."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys

    def records(self) -> list[dict[str, Any]]:
        return json_lines(self._capsys.readouterr().out)


class _CurrentStdout:
    """The Logger keeps the stream it was made with; this one writes wherever stdout is captured now."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def output(capsys: pytest.CaptureFixture[str]) -> FunctionOutput:
    from trigger_fn.observability import logger

    logger.registered_handler.setStream(_CurrentStdout())  # type: ignore[union-attr, arg-type]
    return FunctionOutput(capsys)


class RecordingCodePipeline:
    """A real (moto) client that also keeps every StartPipelineExecution request as sent."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.requests: list[dict[str, Any]] = []

    def start_pipeline_execution(self, **params: Any) -> Any:
        self.requests.append(copy.deepcopy(params))
        return self.client.start_pipeline_execution(**params)
