"""`make invoke [EVENT=put-object] [ENV=local/env.json] [LOCAL=inprocess]`: one event in SAM's own Lambda emulator,
else in-process.

The event and settings files are checked first, the same way and with the same words on both paths (local/invoke.py).
Where a container engine runs arm64 (`make engine`), the function is built into its own folder and run by
`sam local start-lambda` once its container answers (local/lambda_emulator.py); anywhere else, or with
LOCAL=inprocess, the handler runs in this process. The first line, on stderr, says which. The function's log lines
go to stderr and its result is the last line on stdout; no result is never a success: one line says why (exit 3).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from local import container_engine, invoke, lambda_emulator
from local.lambda_emulator import EmulatorProblem, WarmEmulator

# Not .aws-sam/build: a `make build` or `make test` running at the same time must not swap the artifact underneath.
WORK_DIR = invoke.ROOT / ".aws-sam" / "invoke"
BUILD_DIR = WORK_DIR / "build"
CACHE_DIR = WORK_DIR / "cache"
EMULATOR_LOG = WORK_DIR / "start-lambda.log"
BUILD_TIMEOUT_S = 600.0
EXIT_NO_RESULT = 3
EXIT_INTERRUPTED = 130
EMULATOR_LINE = "make invoke: sam local start-lambda, SAM's Lambda emulator (python3.13 arm64)"


class BuildFailed(Exception):
    """`sam build` failed or did not finish; the message says which, in one line."""


def _sam_env() -> dict[str, str]:
    # SAM lets a shell variable override the template's; make invoke takes the function's settings from the file alone.
    shell = {name: value for name, value in os.environ.items() if name not in invoke.template_variables()}
    # `sam build` looks for python3.13 on PATH: the venv's, and pyenv's 3.13 where that is how it is installed.
    shell["PATH"] = f"{lambda_emulator.SAM.parent}{os.pathsep}{shell.get('PATH', '')}"
    shell.setdefault("PYENV_VERSION", "3.11.7:3.13.0")
    return shell | {"SAM_CLI_TELEMETRY": "0"}


def build() -> None:
    """`sam build` into make invoke's own folder; its output is shown only when it fails."""
    command = [str(lambda_emulator.SAM), "build", "--build-dir", str(BUILD_DIR), "--cache-dir", str(CACHE_DIR)]
    try:
        built = subprocess.run(
            command,
            cwd=invoke.ROOT,
            env=_sam_env(),
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise BuildFailed(f"sam build did not finish within {BUILD_TIMEOUT_S:.0f} s") from error
    if built.returncode != 0:
        sys.stderr.write(built.stdout[-3000:] + built.stderr[-3000:])
        raise BuildFailed(f"sam build failed (exit {built.returncode}); its output is above")


def function_result(payload: bytes, log: str, env_path: Path) -> tuple[str, int]:
    """The last line to print and the exit status for what SAM's Lambda endpoint answered.

    A SettingsError (the cold start refused the settings) is InvokeProblem, as in-process; no answer is EmulatorProblem.
    """
    if not payload.strip():
        said = [line.strip() for line in log.splitlines() if "No response from invoke container" in line]
        why = f": {said[-1]}" if said else ""
        raise EmulatorProblem(f"SAM's emulator answered the invoke with nothing{why}")
    try:
        result = json.loads(payload)
    except ValueError as error:
        shown = payload[:200].decode("utf-8", errors="replace")
        raise EmulatorProblem(f"SAM's emulator answered {shown!r}, which is not JSON") from error
    if isinstance(result, dict) and result.get("errorType") == "SettingsError":
        raise invoke.InvokeProblem(invoke.settings_problem(str(result.get("errorMessage", "")), env_path))
    if isinstance(result, dict) and "errorType" in result:
        return invoke.error_line(
            str(result["errorType"]), str(result.get("errorMessage", ""))
        ), invoke.EXIT_FUNCTION_ERROR
    return json.dumps(result, ensure_ascii=False), 0


def in_emulator(inputs: invoke.CheckedInputs) -> int:
    build()
    emulator = WarmEmulator(
        BUILD_DIR / "template.yaml",
        inputs.env_path,
        EMULATOR_LOG,
        cwd=invoke.ROOT,
        env=_sam_env(),
        sam=lambda_emulator.SAM,
    )
    try:
        emulator.start()
        emulator.wait_until_serving()
        invoked = emulator.invoke(inputs.event_path.read_bytes())
        sys.stderr.write(invoked.log)
        if not invoked.complete:
            ended = f"its end did not come within {lambda_emulator.LOG_END_TIMEOUT_S:.0f} s"
            print(f"make invoke: the function's log above may be incomplete ({ended})", file=sys.stderr)
        sys.stderr.flush()
        line, status = function_result(invoked.payload, invoked.log, inputs.env_path)
        print(line, flush=True)
        return status
    finally:
        left = _stop_uninterrupted(emulator)
        if left:
            print(f"make invoke: containers left running: {' '.join(left)} (docker rm --force them)", file=sys.stderr)


def _shown(path: Path) -> str:
    return str(path.relative_to(invoke.ROOT) if path.is_relative_to(invoke.ROOT) else path)


def _stop_uninterrupted(emulator: WarmEmulator) -> list[str]:
    """Stops SAM and its containers even if Ctrl-C is pressed again meanwhile (the stop is bounded by timeouts)."""
    ignored = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in ignored}
    try:
        return emulator.stop()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _raise_interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signum)


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    # A closed terminal or a `kill` stops make invoke the way Ctrl-C does: through the cleanup.
    previous = {signum: signal.signal(signum, _raise_interrupt) for signum in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make invoke", description=__doc__.splitlines()[0])
    parser.add_argument("event", help="event file, or a sample event name from events/ (e.g. put-object)")
    parser.add_argument("--env-vars", default=str(invoke.DEFAULT_ENV_VARS), help="sam-style env file")
    parser.add_argument("--in-process", action="store_true", help="run the handler in-process even where SAM could")
    args = parser.parse_args(argv)
    try:
        inputs = invoke.checked_inputs(args.event, args.env_vars)
    except invoke.InvokeProblem as problem:
        print(f"make invoke: {problem}", file=sys.stderr)
        return invoke.EXIT_USAGE
    unavailable = None if args.in_process else container_engine.unavailable_reason()
    if args.in_process or unavailable:
        why = f"SAM's emulator cannot run here ({unavailable})" if unavailable else "LOCAL=inprocess asks"
        print(f"make invoke: in-process, as {why}", file=sys.stderr, flush=True)
        return invoke.run_in_process(inputs)
    print(EMULATOR_LINE, file=sys.stderr, flush=True)
    try:
        with _terminate_as_interrupt():
            return in_emulator(inputs)
    except BuildFailed as problem:
        print(f"make invoke: no result: {problem}", file=sys.stderr)
    except EmulatorProblem as problem:
        print(f"make invoke: no result: {problem} (log: {_shown(EMULATOR_LOG)})", file=sys.stderr)
    except invoke.InvokeProblem as problem:
        print(f"make invoke: {problem}", file=sys.stderr)
        return invoke.EXIT_USAGE
    except KeyboardInterrupt:
        print("make invoke: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_NO_RESULT


if __name__ == "__main__":
    sys.exit(main())
