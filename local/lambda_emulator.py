"""SAM's own Lambda emulator, warm and waited for: `sam local start-lambda --warm-containers EAGER` on a free
loopback port, invoked through the Lambda API only once the function's container answers, then stopped together
with every container it made. `make invoke` and the sam_local tests both run the built function this way.

Why wait: SAM retries a new container for only ~0.7 s, while the Runtime Interface Emulator inside an arm64
container starting under qemu needs longer; `sam local invoke` then prints "No response from invoke container",
returns nothing and exits 0.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

SAM = Path(sys.executable).parent / "sam"
FUNCTION = "TriggerFunction"
# The emulated (qemu) cold start of the function takes ~7 s here; a busy machine may need much longer.
START_TIMEOUT_S = 180.0
INVOKE_TIMEOUT_S = 300.0
# SAM relays the container's output as it comes: the line that ends an invoke may follow the answer by a moment.
LOG_END_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 60.0
DOCKER_TIMEOUT_S = 60.0
SERVING = "Running on http://127.0.0.1:"
REPORT = "REPORT RequestId: "
# A failed init prints no REPORT line: the emulator's own failure line ends that invoke's output instead.
INIT_FAILED_END = "(rapid) Invoke DONE failed"
# SAM logs each HTTP request it serves; that line is its own, not the function's.
_REQUEST_LINE = '"POST /2015-03-31/functions/'


class EmulatorProblem(Exception):
    """SAM's emulator did not start, answer or report in time; the message says what happened, in one line."""


class Invoked(NamedTuple):
    """One invoke: the answer SAM's Lambda endpoint gave (empty when it got none) and what was printed for it,
    complete unless its end did not come within LOG_END_TIMEOUT_S."""

    payload: bytes
    log: str
    complete: bool

    @property
    def request_id(self) -> str | None:
        reports = [line for line in self.log.splitlines() if line.startswith(REPORT)]
        return reports[-1].removeprefix(REPORT).split(maxsplit=1)[0] if reports else None


def container_ids(sam_output: str) -> list[str]:
    """The containers SAM says it made (one `SAM_CONTAINER_ID:` line each)."""
    return [line.split(":", 1)[1].strip() for line in sam_output.splitlines() if line.startswith("SAM_CONTAINER_ID:")]


def _docker(*arguments: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["docker", *arguments], check=False, capture_output=True, text=True, timeout=DOCKER_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(["docker", *arguments], 124, "", "timed out")


def existing_containers(ids: list[str]) -> list[str]:
    return [cid for cid in ids if _docker("container", "inspect", cid).returncode == 0]


def remove_containers(ids: list[str]) -> list[str]:
    """Removes what SAM made and left (start-lambda sometimes loses track of a container on exit); returns the ids
    still there afterwards, which is none unless docker failed."""
    for cid in existing_containers(ids):
        _docker("rm", "--force", cid)
    return existing_containers(ids)


def _published_port(cid: str, function: str) -> int | None:
    inspect = ("container", "inspect", "--format")
    if _docker(*inspect, '{{index .Config.Labels "sam.cli.function.name"}}', cid).stdout.strip() != function:
        return None
    published = _docker(*inspect, '{{(index (index .NetworkSettings.Ports "8080/tcp") 0).HostPort}}', cid).stdout
    return int(published) if published.strip().isdigit() else None


def _answers_http(port: int) -> bool:
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip() and _REQUEST_LINE not in line]
    return lines[-1] if lines else "it printed nothing"


class WarmEmulator:
    """`sam local start-lambda FUNCTION --warm-containers EAGER`: one container, started before the first invoke
    and kept between invokes. start(), wait_until_serving(), invoke() as often as needed, and always stop()."""

    def __init__(
        self,
        template: Path,
        env_vars: Path,
        log_path: Path,
        *,
        cwd: Path,
        env: Mapping[str, str],
        sam: Path = SAM,
        function: str = FUNCTION,
    ) -> None:
        self.template = template
        self.env_vars = env_vars
        self.log_path = log_path
        self.cwd = cwd
        self.env = dict(env)
        self.sam = sam
        self.function = function
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._client: LambdaClient | None = None

    def start(self) -> None:
        import boto3
        from botocore import UNSIGNED
        from botocore.config import Config

        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        command = [
            str(self.sam),
            "local",
            "start-lambda",
            self.function,
            "--template",
            str(self.template),
            "--env-vars",
            str(self.env_vars),
            "--warm-containers",
            "EAGER",
            "--skip-pull-image",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        with self.log_path.open("wb") as log:
            # Its own session: a Ctrl-C in the terminal reaches only the caller, which stops SAM with SIGTERM, the
            # signal on which SAM removes its containers.
            self.process = subprocess.Popen(
                command,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._client = boto3.client(
            "lambda",
            endpoint_url=f"http://127.0.0.1:{self.port}",
            region_name="us-east-1",
            # Unsigned: SAM checks no credentials. One attempt: a retried invoke would run the function twice.
            config=Config(
                signature_version=UNSIGNED,
                connect_timeout=10,
                read_timeout=INVOKE_TIMEOUT_S,
                retries={"total_max_attempts": 1},
            ),
        )

    def output(self) -> str:
        return self._output_bytes().decode("utf-8", errors="replace")

    def _output_bytes(self) -> bytes:
        try:
            return self.log_path.read_bytes()
        except FileNotFoundError:
            return b""

    def _exited(self) -> str | None:
        if self.process is None or self.process.poll() is None:
            return None
        return f"sam local start-lambda exited ({self.process.returncode}): {_last_line(self.output())}"

    def _function_port(self) -> int | None:
        for cid in container_ids(self.output()):
            port = _published_port(cid, self.function)
            if port is not None:
                return port
        return None

    def wait_until_serving(self, timeout_s: float | None = None) -> float:
        """Until SAM serves and the function's warm container answers; returns the seconds that took."""
        timeout_s = START_TIMEOUT_S if timeout_s is None else timeout_s
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            exited = self._exited()
            if exited:
                raise EmulatorProblem(exited)
            if SERVING in self.output():
                port = self._function_port()
                if port is not None and _answers_http(port):
                    return time.monotonic() - started
            time.sleep(0.2)
        raise EmulatorProblem(
            f"the function's container did not answer within {timeout_s:.0f} s of starting sam local start-lambda "
            f"(its last line: {_last_line(self.output())})"
        )

    def invoke(self, payload: bytes) -> Invoked:
        """One invoke through the Lambda API; waits (bounded) for the line that ends what the invoke printed."""
        if self._client is None:
            raise EmulatorProblem("sam local start-lambda was not started")
        from botocore.exceptions import BotoCoreError, ClientError

        start = len(self._output_bytes())
        try:
            answer = self._client.invoke(FunctionName=self.function, Payload=payload)["Payload"].read()
        except (BotoCoreError, ClientError) as error:
            raise EmulatorProblem(f"the invoke through sam local start-lambda failed: {error}") from error
        if not answer:
            # SAM got nothing from the container, so nothing of it will end; what SAM said is there already.
            return Invoked(answer, self._output_bytes()[start:].decode("utf-8", errors="replace"), complete=True)
        deadline = time.monotonic() + LOG_END_TIMEOUT_S
        while True:
            since = self._output_bytes()[start:].decode("utf-8", errors="replace")
            lines = since.splitlines(keepends=True)
            for index, line in enumerate(lines):
                if line.endswith("\n") and (line.startswith(REPORT) or INIT_FAILED_END in line):
                    return Invoked(answer, "".join(lines[: index + 1]), complete=True)
            if time.monotonic() > deadline or self._exited():
                return Invoked(answer, since, complete=False)
            time.sleep(0.1)

    def stop(self) -> list[str]:
        """Stops SAM and removes every container it said it made; returns the ids still there (none, normally)."""
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return remove_containers(container_ids(self.output()))
