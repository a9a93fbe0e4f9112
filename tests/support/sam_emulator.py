"""SAM's own Lambda emulator on the built artifact, for tests: warm (local/lambda_emulator.py) and `sam local invoke`.

Everything started here is stopped here: the emulator process and the containers it made.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from local.lambda_emulator import (
    FUNCTION,
    INVOKE_TIMEOUT_S,
    SAM,
    EmulatorProblem,
    WarmEmulator,
    container_ids,
    remove_containers,
)
from support.environment import ENV_VARS_FILE, EVENTS, FUNCTION_ENV, ROOT
from support.function_output import json_lines

BUILT_TEMPLATE = ROOT / ".aws-sam" / "build" / "template.yaml"


def sam_env() -> dict[str, str]:
    """A user's shell: SAM lets shell variables override the template's, so the tests' function settings must go."""
    shell = {name: value for name, value in os.environ.items() if name not in FUNCTION_ENV}
    return shell | {"SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "eu-west-1"}


class Invocation(NamedTuple):
    """One invoke: the function's answer and what it printed (Powertools JSON lines, EMF records, the runtime's)."""

    result: dict[str, Any]
    request_id: str
    log: str

    @property
    def records(self) -> list[dict[str, Any]]:
        return json_lines(self.log)


def removed(ids: list[str]) -> None:
    left = remove_containers(ids)
    assert not left, f"containers still there after removal: {left}"


@contextmanager
def warm_emulator_on(log_path: Path) -> Iterator[WarmEmulator]:
    """The built artifact (make build) in a serving emulator with local/env.json; stopped, containers and all."""
    emulator = WarmEmulator(BUILT_TEMPLATE, ENV_VARS_FILE, log_path, cwd=ROOT, env=sam_env())
    try:
        emulator.start()
        emulator.wait_until_serving()
        yield emulator
    except EmulatorProblem as problem:
        pytest.fail(f"{problem}:\n{emulator.output()[-3000:]}")
    finally:
        assert not emulator.stop(), "containers left after stopping sam local start-lambda"


def invoke_sample(emulator: WarmEmulator, event_file: str) -> Invocation:
    try:
        invoked = emulator.invoke((EVENTS / event_file).read_bytes())
    except EmulatorProblem as problem:
        pytest.fail(f"{problem}:\n{emulator.output()[-3000:]}")
    if not invoked.payload or invoked.request_id is None:
        pytest.fail(f"SAM got no answer from the function's container:\n{emulator.output()[-3000:]}")
    return Invocation(json.loads(invoked.payload), invoked.request_id, invoked.log)


def run_in_emulator(command: list[str]) -> subprocess.CompletedProcess[str]:
    """COMMAND (`sam local invoke …`) run in the repository as a user runs it; nothing of it is left running afterwards.

    Run again (at most twice more) only when SAM says its new container did not answer: SAM retries a container for
    ~0.7 s, which its emulator starting under qemu on a busy machine can miss. Any other outcome is returned as is.
    """
    for _ in range(3):
        result = subprocess.run(
            command, cwd=ROOT, env=sam_env(), capture_output=True, text=True, check=False, timeout=INVOKE_TIMEOUT_S
        )
        removed(container_ids(result.stderr))
        if f"No response from invoke container for {FUNCTION}" not in result.stderr:
            break
    return result


def sam_local_invoke(*args: str) -> subprocess.CompletedProcess[str]:
    return run_in_emulator([str(SAM), "local", "invoke", *args])
