"""Fixtures every test shares: the function's environment as the template sets it, a Lambda context, clean metrics.
Which tests may use the network, and which must run one after another when the suite runs in parallel."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings
from moto.server import ThreadedMotoServer

from local.lambda_context import LocalLambdaContext
from support.environment import FUNCTION_ENV
from support.function_output import CurrentStdout, FunctionOutput

TESTS = Path(__file__).resolve().parent
# Its tests share fixed ports, .aws-sam/invoke and the container engine: one xdist worker runs them in turn.
SERIAL = TESTS / "local"

# Set before any test imports the handler: it reads its settings at import.
os.environ.update(FUNCTION_ENV)
for _leak in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CODEPIPELINE"):
    os.environ.pop(_leak, None)
# SAM CLI's code in the tests would send telemetry from a thread (the unit tests' socket guard caught it); make sets
# this too, a bare pytest did not.
os.environ["SAM_CLI_TELEMETRY"] = "0"


# CI runs the property tests on a fixed seed so a run is repeatable; locally each run explores new inputs.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


def is_unit_test(path: Path) -> bool:
    return path.is_relative_to(TESTS) and "unit" in path.relative_to(TESTS).parts[:-1]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if is_unit_test(item.path):
            # The bucket adopter's answer to CloudFormation is a real HTTP PUT, to a server the test runs on loopback.
            local_answer = "answer_server" in getattr(item, "fixturenames", ())
            item.add_marker(pytest.mark.allow_hosts(["127.0.0.1"]) if local_answer else pytest.mark.disable_socket)
    # The serial tests are the longest piece of work: started first, the other workers share the rest meanwhile.
    items.sort(key=lambda item: not item.path.is_relative_to(SERIAL))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadfile` (make test): a file on one worker, its module fixtures made once; tests/local as one file."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    serial = f"{SERIAL.relative_to(config.rootpath).as_posix()}/"

    class SerialLocalTests(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return serial if nodeid.startswith(serial) else super()._split_scope(nodeid)

    return SerialLocalTests(config, log)


@pytest.fixture
def lambda_context() -> LocalLambdaContext:
    return LocalLambdaContext(request_id="52fdfc07-2182-154f-163f-5f0f9a621d72")


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


@pytest.fixture
def moto_server() -> Iterator[str]:
    """moto's server on a free loopback port, for command lines that reach AWS through AWS_ENDPOINT_URL."""
    for _ in range(5):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        # ThreadedMotoServer.start waits without end when its thread cannot bind (another worker took the port):
        # its own steps, with a bounded wait and another port.
        server._thread = threading.Thread(target=server._server_entry, daemon=True)
        server._thread.start()
        if server._server_ready_event.wait(timeout=30):
            break
    else:
        pytest.fail("moto's server did not start on a free loopback port in 5 tries")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def output(capsys: pytest.CaptureFixture[str]) -> FunctionOutput:
    from trigger_fn.observability import logger

    logger.registered_handler.setStream(CurrentStdout())  # type: ignore[union-attr, arg-type]
    return FunctionOutput(capsys)
