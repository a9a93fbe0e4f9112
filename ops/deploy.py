"""`make deploy`: deploy the built stack with the pinned SAM CLI (the one in this venv).

The first time, when samconfig.toml holds no answers for the environment yet, this is `sam deploy --guided`:
SAM asks for the stack name, region and every template parameter and saves the answers. Afterwards it is
`sam deploy` from those answers, checked first against the template's own constraints and rules so a wrong
answer is named before anything is uploaded. `GUIDED=1` asks again, with the saved answers as defaults.

Either way, the stack name, region and profile then live in `[ENV.global.parameters]` (ops.deploy_config), where
`sam logs`, `sam delete`, `make start` and `make redrive` read them.

    make deploy [GUIDED=1] [CONFIG_ENV=name]
    PYTHONPATH=src python -m ops.deploy [--guided] [--config-env name]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from ops.deploy_config import DEFAULT_ENV, SAMCONFIG, ConfigError, promote_to_global, read_target, remember_region
from ops.parameter_checks import TEMPLATE, parameter_problems
from ops.stack import locate

SAM = Path(sys.executable).parent / "sam"
EXIT_REFUSED = 2

Runner = Callable[..., "subprocess.CompletedProcess[Any]"]


def sam_command(*, guided: bool, config_env: str, region: str | None) -> list[str]:
    command = [str(SAM), "deploy"]
    if guided:
        command.append("--guided")
    if region:
        # The region the operator tools would use; guided offers it as the default answer.
        command += ["--region", region]
    if config_env != DEFAULT_ENV:
        command += ["--config-env", config_env]
    return command


def deploy(
    *,
    guided: bool,
    config_env: str = DEFAULT_ENV,
    samconfig: Path = SAMCONFIG,
    template: Path = TEMPLATE,
    run: Runner = subprocess.run,
    environ: Mapping[str, str] = os.environ,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    target = read_target(samconfig, config_env)
    guided = guided or not target.parameters
    if not guided:
        problems = parameter_problems(target.parameters, template)
        if problems:
            print(_refusal(problems, target.where), file=err)
            return EXIT_REFUSED
    region = None if target.region else locate(config_env=config_env, environ=environ, samconfig=samconfig).region
    command = sam_command(guided=guided, config_env=config_env, region=region)
    print(f"$ sam {' '.join(command[1:])}", file=out, flush=True)
    # SAM talks to the user directly (prompts, change set, progress); nothing of it is captured.
    code = run(command, cwd=samconfig.parent, check=False).returncode
    moved = promote_to_global(samconfig, config_env)
    # Guided saves the region itself, when the user lets it save anything.
    if code == 0 and not guided and region and remember_region(samconfig, config_env, region):
        moved.append("region")
    saved = read_target(samconfig, config_env)
    if moved:
        print(
            f"samconfig.toml: {', '.join(moved)} of [{config_env}] kept in [{config_env}.global.parameters], "
            "where sam logs, sam delete, make start and make redrive read them",
            file=out,
        )
    if code != 0 and guided and saved.parameters:
        problems = parameter_problems(saved.parameters, template)
        if problems:
            print(_refusal(problems, saved.where), file=err)
    elif code == 0 and saved.stack_name:
        print(f"{saved.where}: stack {saved.stack_name}, region {saved.region or '(your default)'}", file=out)
    return code


def _refusal(problems: list[str], where: str) -> str:
    return (
        f"Not deployed: {where} says {'; '.join(problem.rstrip('.') for problem in problems)}. "
        "Answer again with `make deploy GUIDED=1` (your answers are the defaults), or edit samconfig.toml."
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make deploy", description=__doc__.splitlines()[0])
    parser.add_argument("--guided", action="store_true", help="ask every question again (make deploy GUIDED=1)")
    parser.add_argument("--config-env", default=DEFAULT_ENV, help="samconfig.toml environment (default: default)")
    args = parser.parse_args(argv)
    try:
        return deploy(guided=args.guided, config_env=args.config_env)
    except ConfigError as problem:
        print(f"Not deployed: {problem}", file=sys.stderr)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
