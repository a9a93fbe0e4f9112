"""`make engine` / `make engine-stop`: a Docker engine for `sam local`, started here only where none runs.

A machine where `docker info` already answers (a laptop with Docker) is left alone. On a Debian-like machine where
we are root (CI), the engine is installed from Debian's packages and started without touching the host's firewall:
no NAT, so containers reach nothing but this host. What was started is recorded in .local/engine.json, and
`stop` stops exactly that. It never pretends: no engine means one line saying why, and exit status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from local import arm64_emulation

ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = ROOT / ".local"
STATE_FILE = STATE_DIR / "engine.json"
DOCKERD_LOG = STATE_DIR / "dockerd.log"

# docker.io is the engine; the other three run arm64 containers and build the stand-in Lambda image.
OS_PACKAGES = ("docker.io", "qemu-user-static", "binfmt-support", "mmdebstrap")
# No iptables rules, no forwarding, no masquerading: the host's firewall stays as it was.
DOCKERD_FLAGS = ("--storage-driver=overlay2", "--iptables=false", "--ip-forward=false", "--ip-masq=false")
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0


class EngineUnavailable(Exception):
    """No container engine can run here; the message is the one-line reason."""


def engine_answers() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        result = subprocess.run(
            [docker, "info", "--format", "{{.ServerVersion}}"], check=False, capture_output=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0


def unavailable_reason() -> str | None:
    """Why `sam local` cannot run an arm64 function here, or None when it can (engine answers, arm64 runs)."""
    if not engine_answers():
        return "no container engine: `docker info` does not answer (make engine starts one on Debian as root)"
    return arm64_emulation.unavailable_reason()


def _missing_packages() -> list[str]:
    missing = []
    for package in OS_PACKAGES:
        status = subprocess.run(
            ["dpkg-query", "--show", "--showformat=${db:Status-Abbrev}", package],
            check=False,
            capture_output=True,
            text=True,
        )
        if not status.stdout.startswith("ii"):
            missing.append(package)
    return missing


def _install_packages() -> None:
    if os.geteuid() != 0 or shutil.which("apt-get") is None or shutil.which("dpkg-query") is None:
        raise EngineUnavailable(
            "no container engine: `docker info` does not answer, and installing one needs root and apt-get"
        )
    missing = _missing_packages()
    if not missing:
        return
    print(f"installing {' '.join(missing)} (apt-get)", flush=True)
    quiet_env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=quiet_env, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        check=True,
        env=quiet_env,
        stdout=subprocess.DEVNULL,
    )


def _last_log_line() -> str:
    try:
        lines = DOCKERD_LOG.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return lines[-1] if lines else "no log"


def _start_dockerd() -> int:
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise EngineUnavailable("no container engine: docker.io is installed but dockerd is not on PATH")
    STATE_DIR.mkdir(exist_ok=True)
    with DOCKERD_LOG.open("ab") as log:
        # Its own session, so it outlives this command and a Ctrl-C in the terminal that ran it.
        process = subprocess.Popen(
            [dockerd, *DOCKERD_FLAGS], stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EngineUnavailable(f"no container engine: dockerd exited ({_last_log_line()})")
        if engine_answers():
            return process.pid
        time.sleep(0.2)
    process.terminate()
    raise EngineUnavailable(
        f"no container engine: dockerd not answering after {READY_TIMEOUT_S:.0f} s ({_last_log_line()})"
    )


def _read_state() -> dict[str, object]:
    try:
        state: dict[str, object] = json.loads(STATE_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state


def start() -> str:
    """Make `sam local` able to run arm64 containers here; returns what was done, in one line."""
    started = ""
    if not engine_answers():
        _install_packages()
        pid = _start_dockerd()
        STATE_FILE.write_text(json.dumps({"dockerd_pid": pid}), encoding="utf-8")
        started = f"dockerd started (pid {pid}, log {DOCKERD_LOG.relative_to(ROOT)})"
    if arm64_emulation.unavailable_reason():
        if os.geteuid() != 0:
            raise EngineUnavailable(f"{arm64_emulation.unavailable_reason()}; registering it needs root")
        _install_packages()
        mounted, enabled = arm64_emulation.enable()
        state = _read_state() | {"mounted_binfmt_misc": mounted, "enabled_qemu_aarch64": enabled}
        STATE_DIR.mkdir(exist_ok=True)
        STATE_FILE.write_text(json.dumps(state), encoding="utf-8")
        started = f"{started}, " if started else ""
        started += "arm64 emulation registered (qemu-aarch64)"
    ours = _read_state().get("dockerd_pid")
    if not started and isinstance(ours, int) and _is_dockerd(ours):
        return f"dockerd already running (started by make engine, pid {ours}): nothing to start"
    return started or "a container engine already answers here and runs arm64: nothing to start"


def _is_dockerd(pid: int) -> bool:
    """The pid is still the dockerd we started, not a process that reused its number, and not a zombie."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
        state = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return Path(os.fsdecode(command)).name == "dockerd" and state != "Z"


def stop() -> str:
    """Stop what `start` started, nothing else; returns what was done, in one line."""
    state = _read_state()
    if not state:
        return "make engine started nothing here: nothing to stop"
    done = []
    pid = state.get("dockerd_pid")
    if isinstance(pid, int) and _is_dockerd(pid):
        # dockerd stops its containers and its containerd on SIGTERM.
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _is_dockerd(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _is_dockerd(pid):
            os.kill(pid, signal.SIGKILL)
        done.append(f"dockerd stopped (pid {pid})")
    if state.get("enabled_qemu_aarch64"):
        arm64_emulation.disable(unmount=bool(state.get("mounted_binfmt_misc")))
        done.append("arm64 emulation unregistered")
    STATE_FILE.unlink()
    return ", ".join(done) or "what make engine started had already stopped"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop", "status"])
    args = parser.parse_args(argv)
    try:
        if args.action == "start":
            print(start())
        elif args.action == "stop":
            print(stop())
        else:
            reason = unavailable_reason()
            print(reason or "ready: a container engine answers and runs arm64 containers")
            return 1 if reason else 0
    except EngineUnavailable as error:
        print(error, file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as error:
        command = " ".join(map(str, error.cmd))
        print(f"no container engine: `{command}` failed (exit {error.returncode})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
