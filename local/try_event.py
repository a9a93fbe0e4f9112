"""`make invoke [EVENT=put-object] [ENV=events/env.json]`: one event in SAM's own Lambda emulator, else in-process.

Where a container engine runs arm64 (`make engine`), the built artifact runs as `sam local invoke` runs it; anywhere
else the handler runs in this process (local/invoke.py). The first line, on stderr, says which and why; the event
and settings files are found the same way on both paths, and the function's result is the last line.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from local import container_engine, invoke

SAM = str(Path(sys.executable).parent / "sam")


def in_emulator(event: Path, env_vars: Path) -> int:
    # Built first, as `sam local invoke` runs the artifact in .aws-sam/build, not the source.
    built = subprocess.run([SAM, "build"], cwd=invoke.ROOT, stdout=subprocess.DEVNULL, check=False)
    if built.returncode != 0:
        return built.returncode
    command = [SAM, "local", "invoke", invoke.FUNCTION, "-e", str(event), "--env-vars", str(env_vars)]
    # SAM lets a shell variable override the template's; make invoke takes the function's settings from the file alone.
    shell = {name: value for name, value in os.environ.items() if name not in invoke.template_variables()}
    return subprocess.run(command, cwd=invoke.ROOT, env=shell, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make invoke", description=__doc__.splitlines()[0])
    parser.add_argument("event", help="event file, or a sample event name from events/ (e.g. put-object)")
    parser.add_argument("--env-vars", default=str(invoke.DEFAULT_ENV_VARS), help="sam-style env file")
    args = parser.parse_args(argv)
    reason = container_engine.unavailable_reason()
    if reason:
        print(f"make invoke: in-process, as SAM's emulator cannot run here ({reason})", file=sys.stderr, flush=True)
        return invoke.main(argv)
    try:
        event = invoke.find_file(args.event, "event")
        env_vars = invoke.find_file(args.env_vars, "env-vars")
    except invoke.InvokeProblem as problem:
        print(f"make invoke: {problem}", file=sys.stderr)
        return invoke.EXIT_USAGE
    print("make invoke: sam local invoke, SAM's Lambda emulator (python3.13 arm64)", file=sys.stderr, flush=True)
    return in_emulator(event, env_vars)


if __name__ == "__main__":
    sys.exit(main())
