"""`make invoke [EVENT=put-object] [ENV=events/env.json]`: the handler on one event, in-process (sam local invoke).

EVENT is a file, or the name of a sample event in events/ (`put-object`, `put-object.json`). ENV is a
`sam local invoke --env-vars` file (default events/env.json, DRY_RUN=true): the function's variables come from
it alone, as in `sam local invoke`, never from your shell. Needs no Docker. With DRY_RUN=false it calls the
CodePipeline endpoint your AWS credentials and AWS_ENDPOINT_URL_CODEPIPELINE point at.

The last line printed is the function's result, or `{"errorType", "errorMessage"}` when it raises (exit 1).
Anything wrong with the files or settings is one line on stderr saying what to fix (exit 2).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from pathlib import Path
from typing import Any

from local.lambda_context import LocalLambdaContext
from local.template_model import sam_template

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
DEFAULT_ENV_VARS = EVENTS / "env.json"
FUNCTION = "TriggerFunction"
EXIT_FUNCTION_ERROR = 1
EXIT_USAGE = 2


class InvokeProblem(Exception):
    """The event, the env-vars file or the settings in it cannot be used; the message says what to fix."""


def sample_events() -> list[str]:
    return sorted(path.stem for path in EVENTS.glob("*.json") if path != DEFAULT_ENV_VARS)


def find_file(name: str, what: str) -> Path:
    """`name` as given, else in events/, with or without `.json`."""
    given = Path(name)
    for candidate in (given, EVENTS / name, EVENTS / f"{name}.json"):
        if candidate.is_file():
            return candidate
    if what != "event":
        raise InvokeProblem(f"no {what} file {name!r} here or in events/: give a file like events/env.json")
    known = sample_events()
    close = difflib.get_close_matches(Path(name).stem, known, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    raise InvokeProblem(f"no event file {name!r} here or in events/: {hint}the sample events are {', '.join(known)}")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InvokeProblem(f"{path} is not valid JSON: {error}") from error
    except (OSError, UnicodeDecodeError) as error:
        raise InvokeProblem(f"cannot read {path}: {error}") from error


def function_variables(env_vars: Any, path: Path) -> dict[str, str]:
    """The variables a `--env-vars` file gives TriggerFunction: its `Parameters`, then its own object."""
    if not isinstance(env_vars, dict) or not any(isinstance(env_vars.get(k), dict) for k in ("Parameters", FUNCTION)):
        raise InvokeProblem(
            f'{path} has no "{FUNCTION}" object: write {{"{FUNCTION}": {{"PIPELINE_NAME": "...", ...}}}}, '
            "as for sam local invoke --env-vars"
        )
    merged = {**env_vars.get("Parameters", {}), **env_vars.get(FUNCTION, {})}
    return {str(name): str(value) for name, value in merged.items()}


def template_variables() -> set[str]:
    """The variables the template gives the function itself (not the Globals ones)."""
    properties = sam_template()["Resources"][FUNCTION]["Properties"]
    return set(properties.get("Environment", {}).get("Variables", {}))


def use_function_environment(variables: dict[str, str], environ: dict[str, str] | os._Environ[str]) -> None:
    # As in `sam local invoke`: a setting the file leaves out is not taken from the caller's shell.
    for name in template_variables() - set(variables):
        environ.pop(name, None)
    environ.update(variables)
    environ.setdefault("POWERTOOLS_SERVICE_NAME", "s3-pipeline-trigger")
    environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "S3PipelineTrigger")
    environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    if not (environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")):
        # Lambda always sets a region; a dry run needs one to make its client and never calls it.
        environ["AWS_DEFAULT_REGION"] = "eu-west-1"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make invoke", description=__doc__.splitlines()[0])
    parser.add_argument("event", help="event file, or a sample event name from events/ (e.g. put-object)")
    parser.add_argument(
        "--env-vars", default=str(DEFAULT_ENV_VARS), help="sam-style env file (default events/env.json)"
    )
    args = parser.parse_args(argv)
    try:
        env_path = find_file(args.env_vars, "env-vars")
        event = read_json(find_file(args.event, "event"))
        use_function_environment(function_variables(read_json(env_path), env_path), os.environ)
        handler = _import_handler(env_path)
    except InvokeProblem as problem:
        print(f"make invoke: {problem}", file=sys.stderr)
        return EXIT_USAGE

    from trigger_fn.pipeline_client import StartFailed
    from trigger_fn.s3_event import MalformedEventError

    try:
        result = handler(event, LocalLambdaContext())
    except (MalformedEventError, StartFailed) as error:
        # What `sam local invoke` prints for a function error.
        print(json.dumps({"errorType": type(error).__name__, "errorMessage": str(error)}, ensure_ascii=False))
        return EXIT_FUNCTION_ERROR
    print(json.dumps(result, ensure_ascii=False))
    return 0


def _import_handler(env_path: Path) -> Any:
    from trigger_fn.settings import SettingsError

    try:
        from trigger_fn.handler import lambda_handler
    except SettingsError as error:
        raise InvokeProblem(
            f"{error} (make invoke reads the function's variables from {env_path}; add it there or pass ENV=file)"
        ) from error
    return lambda_handler


if __name__ == "__main__":
    sys.exit(main())
