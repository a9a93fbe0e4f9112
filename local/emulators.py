"""The local AWS emulators as processes: ministack (S3, EventBridge, Lambda, CloudFormation, IAM, SQS, Logs) and
moto's server (CodePipeline, which ministack lacks), on free or fixed ports of 127.0.0.1, started and stopped together.

Everything listens on 127.0.0.1 only, with dummy credentials: nothing here can reach a real AWS account.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MINISTACK_VENV = ROOT / ".venv-ministack"
# Logs and state of what `make demo` and `make local-up` started; gitignored.
LOCAL_DIR = ROOT / ".local"
# Fixed so the endpoints printed for your own tools stay the same between runs; checked free before use.
DEFAULT_MINISTACK_PORT = 4599
DEFAULT_MOTO_PORT = 4598
# The emulators accept any key; fixed dummies keep a real profile from ever being read.
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
_READY_TIMEOUT_S = 30.0
_STOP_GRACE_S = 5.0


class PrerequisiteError(RuntimeError):
    """Something the user must fix first; the message is one sentence saying what to do."""


class LocalStackError(RuntimeError):
    """An emulator or deploy step failed; the message says which and where its log is."""


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def require_free_ports(*ports: int) -> None:
    for port in ports:
        if not port_is_free(port):
            raise PrerequisiteError(
                f"Port {port} on 127.0.0.1 is in use: stop what holds it "
                f"(`make local-down` if it is a local stack you started) and run this again."
            )


def require_ministack_venv() -> Path:
    binary = MINISTACK_VENV / "bin" / "ministack"
    if not binary.exists():
        raise PrerequisiteError(f"{binary} is missing: run `make ministack-venv` (it needs python3.13) first.")
    return binary


@dataclass
class Emulator:
    name: str
    port: int
    pid: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 20) -> str:
        with suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def base_env() -> dict[str, str]:
    # A clean environment: no AWS profile, endpoint or Powertools setting of the caller leaks in.
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "PYENV_VERSION", "PYENV_ROOT", "SYSTEMROOT")
    return {name: os.environ[name] for name in keep if name in os.environ}


def _spawn(name: str, argv: list[str], port: int, env: dict[str, str], workdir: Path) -> Emulator:
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        # Own process group: Ctrl-C in the terminal reaches us, not them, and stop() ends the whole group.
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
        )
    return Emulator(name=name, port=port, pid=process.pid, log_path=log_path, process=process)


def start_ministack(port: int, region: str, workdir: Path) -> Emulator:
    binary = require_ministack_venv()
    scratch = workdir / "ministack-tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    env = {
        **base_env(),
        "GATEWAY_PORT": str(port),
        "BIND_HOST": "127.0.0.1",
        "MINISTACK_REGION": region,
        # Unpacked function code and caches go here, removed with the work dir.
        "TMPDIR": str(scratch),
    }
    return _spawn("ministack", [str(binary)], port, env, workdir)


def start_moto(port: int, workdir: Path) -> Emulator:
    binary = Path(sys.executable).parent / "moto_server"
    if not binary.exists():
        raise PrerequisiteError(f"{binary} is missing: run `make venv` first.")
    return _spawn("moto", [str(binary), "-H", "127.0.0.1", "-p", str(port)], port, base_env(), workdir)


def wait_until_ready(emulator: Emulator, path: str, timeout_s: float = _READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if emulator.process is not None and emulator.process.poll() is not None:
            raise LocalStackError(f"{emulator.name} exited at start; its log:\n{emulator.log_tail()}")
        # A loopback URL we built; S310 warns about file: and other schemes.
        with suppress(OSError), urllib.request.urlopen(emulator.url + path, timeout=1) as response:  # noqa: S310
            if response.status == 200:
                return
        time.sleep(0.1)
    raise LocalStackError(
        f"{emulator.name} did not answer on {emulator.url} within {timeout_s:.0f} s; log:\n{emulator.log_tail()}"
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_process_group(pid: int, process: subprocess.Popen[bytes] | None = None) -> None:
    """End the process group we started (pid is its leader): TERM, a grace period, then KILL for the rest."""
    with suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + _STOP_GRACE_S
    while time.monotonic() < deadline:
        if process is not None:
            if process.poll() is not None:
                break
        elif not _alive(pid):
            break
        time.sleep(0.05)
    # Also ends any function worker the emulator left in its group.
    with suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    if process is not None:
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=_STOP_GRACE_S)


@dataclass
class Emulators:
    ministack: Emulator
    moto: Emulator

    def all(self) -> tuple[Emulator, Emulator]:
        return (self.ministack, self.moto)


def start_emulators(ministack_port: int, moto_port: int, region: str, workdir: Path) -> Emulators:
    """Start both, or neither: on any failure what was started is stopped before the error leaves."""
    started: list[Emulator] = []
    try:
        started.append(start_ministack(ministack_port, region, workdir))
        started.append(start_moto(moto_port, workdir))
        wait_until_ready(started[0], "/_ministack/health")
        wait_until_ready(started[1], "/moto-api/")
    except BaseException:
        for emulator in started:
            stop_process_group(emulator.pid, emulator.process)
        raise
    return Emulators(ministack=started[0], moto=started[1])


@contextmanager
def running_emulators(ministack_port: int, moto_port: int, region: str, workdir: Path) -> Iterator[Emulators]:
    """Both emulators for the duration of the block; stopped on success, error, Ctrl-C or SIGTERM."""
    previous = signal.getsignal(signal.SIGTERM)
    # SIGTERM would otherwise end Python without running `finally`.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    emulators = start_emulators(ministack_port, moto_port, region, workdir)
    try:
        yield emulators
    finally:
        for emulator in emulators.all():
            stop_process_group(emulator.pid, emulator.process)
        signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)
