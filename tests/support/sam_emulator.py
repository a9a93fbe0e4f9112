"""SAM's own Lambda emulator on the built artifact, for tests: `sam local start-lambda` (warm) and `sam local invoke`.

Everything started here is stopped here: the emulator process and the containers it made.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

import boto3
import pytest
from botocore.config import Config

from support.environment import EVENTS, FUNCTION_ENV, ROOT
from support.function_output import json_lines

SAM = Path(sys.executable).parent / "sam"
BUILT_TEMPLATE = ROOT / ".aws-sam" / "build" / "template.yaml"
FUNCTION = "TriggerFunction"
# The emulated (qemu) cold start of the function takes ~7 s here; a busy machine may need much longer.
START_TIMEOUT_S = 180.0
INVOKE_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 60.0


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


def container_ids(sam_output: str) -> list[str]:
    """The containers SAM says it made (one `SAM_CONTAINER_ID:` line each)."""
    return [line.split(":", 1)[1].strip() for line in sam_output.splitlines() if line.startswith("SAM_CONTAINER_ID:")]


def _existing(ids: list[str]) -> list[str]:
    return [
        cid
        for cid in ids
        if subprocess.run(["docker", "container", "inspect", cid], check=False, capture_output=True).returncode == 0
    ]


def remove_containers(ids: list[str]) -> None:
    """Removes what SAM made and left: start-lambda sometimes loses track of one of its eager containers on exit."""
    for cid in _existing(ids):
        subprocess.run(["docker", "rm", "--force", cid], capture_output=True, check=False)
    assert not _existing(ids), f"containers still there after removal: {_existing(ids)}"


def _docker_inspect(cid: str, template: str) -> str:
    inspect = ["docker", "container", "inspect", "--format", template, cid]
    return subprocess.run(inspect, check=False, capture_output=True, text=True).stdout.strip()


def _rie_answers(port: int) -> bool:
    """The emulator inside answers HTTP; before that, docker's port proxy accepts and then drops the connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/")
        connection.getresponse().read()
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
    return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class WarmEmulator:
    """`sam local start-lambda --warm-containers EAGER`: one container per function, kept between invokes."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.port = _free_port()
        self._log_file = log_path.open("w", encoding="utf-8")
        # Its own process group, so stopping it cannot reach pytest; SIGTERM makes SAM remove its containers.
        self.process = subprocess.Popen(
            [
                SAM,
                "local",
                "start-lambda",
                "--warm-containers",
                "EAGER",
                "--host",
                "127.0.0.1",
                "--port",
                f"{self.port}",
            ],
            cwd=ROOT,
            env=sam_env(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.client = boto3.client(
            "lambda",
            endpoint_url=f"http://127.0.0.1:{self.port}",
            region_name="eu-west-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
            config=Config(read_timeout=INVOKE_TIMEOUT_S, retries={"total_max_attempts": 1}),
        )

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def _function_port(self) -> int | None:
        for cid in container_ids(self.output()):
            if _docker_inspect(cid, '{{index .Config.Labels "sam.cli.function.name"}}') == FUNCTION:
                published = _docker_inspect(cid, '{{(index (index .NetworkSettings.Ports "8080/tcp") 0).HostPort}}')
                return int(published) if published.isdigit() else None
        return None

    def wait_until_serving(self) -> float:
        """Until SAM serves and the function's warm container listens: SAM retries a silent container for only ~0.7 s,
        too short for its emulator starting under qemu on a busy machine (the invoke then comes back empty)."""
        started = time.monotonic()
        while time.monotonic() - started < START_TIMEOUT_S:
            if self.process.poll() is not None:
                pytest.fail(f"sam local start-lambda exited ({self.process.returncode}):\n{self.output()[-3000:]}")
            if "Running on http://127.0.0.1" in self.output():
                port = self._function_port()
                if port is not None and _rie_answers(port):
                    return time.monotonic() - started
            time.sleep(0.2)
        pytest.fail(f"sam local start-lambda did not serve in {START_TIMEOUT_S:.0f} s:\n{self.output()[-3000:]}")

    def invoke(self, event_file: str) -> Invocation:
        reports_before = self.output().count("\nREPORT RequestId: ")
        response = self.client.invoke(FunctionName=FUNCTION, Payload=(EVENTS / event_file).read_bytes())
        payload = response["Payload"].read()
        if not payload:
            pytest.fail(f"SAM got no answer from the function's container:\n{self.output()[-3000:]}")
        result = json.loads(payload)
        # SAM relays the container's output as it comes: wait for this invoke's REPORT line before reading it.
        deadline = time.monotonic() + INVOKE_TIMEOUT_S
        while self.output().count("\nREPORT RequestId: ") == reports_before and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.output().count("\nREPORT RequestId: ") == reports_before:
            pytest.fail(f"no REPORT line for this invoke in {INVOKE_TIMEOUT_S:.0f} s:\n{self.output()[-3000:]}")
        # Cut at REPORT lines, not START ones: SAM sometimes drops a new container's first START line.
        reports = self.output().split("\nREPORT RequestId: ")
        request_id = reports[reports_before + 1].split(maxsplit=1)[0]
        return Invocation(result, request_id, reports[reports_before])

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log_file.close()
        remove_containers(container_ids(self.output()))


def run_in_emulator(command: list[str]) -> subprocess.CompletedProcess[str]:
    """COMMAND (`sam local invoke …`, or `make invoke` on its emulator path) run in the repository as a user runs it;
    nothing of it is left running afterwards.

    Run again (at most twice more) only when SAM says its new container did not answer: SAM retries a container for
    ~0.7 s, which its emulator starting under qemu on a busy machine can miss. Any other outcome is returned as is.
    """
    for _ in range(3):
        result = subprocess.run(
            command, cwd=ROOT, env=sam_env(), capture_output=True, text=True, check=False, timeout=INVOKE_TIMEOUT_S
        )
        remove_containers(container_ids(result.stderr))
        if f"No response from invoke container for {FUNCTION}" not in result.stderr:
            break
    return result


def sam_local_invoke(*args: str) -> subprocess.CompletedProcess[str]:
    return run_in_emulator([str(SAM), "local", "invoke", *args])
