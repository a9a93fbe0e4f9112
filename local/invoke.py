"""`make invoke [EVENT=put-object] [ENV=local/env.json]`: the handler on one event, in-process (sam local invoke).

EVENT is a file, or the name of a sample event in events/ (`put-object`, `put-object.json`). ENV is a
`sam local invoke --env-vars` file (default local/env.json, DRY_RUN=true): the function's variables come from
it alone, as in `sam local invoke`, never from your shell. Needs no Docker. With DRY_RUN=false it calls the
CodePipeline endpoint your AWS credentials and AWS_ENDPOINT_URL_CODEPIPELINE point at.

The last line printed is the function's result, or `{"errorType", "errorMessage"}` when it raises (exit 1).
Anything wrong with the files or settings is one line on stderr saying what to fix (exit 2). local/try_event.py
makes the same checks, with the same words, before it builds or starts SAM's emulator.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any, NamedTuple

from local.lambda_context import LocalLambdaContext

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
LOCAL = ROOT / "local"
DEFAULT_ENV_VARS = LOCAL / "env.json"
FUNCTION = "TriggerFunction"
EXIT_FUNCTION_ERROR = 1
EXIT_USAGE = 2


class InvokeProblem(Exception):
    """The event, the env-vars file or the settings in it cannot be used; the message says what to fix."""


def sample_events() -> list[str]:
    return sorted(path.stem for path in EVENTS.glob("*.json"))


def find_file(name: str, what: str) -> Path:
    """`name` as given, else in events/ (an event) or local/ (an env-vars file), with or without `.json`."""
    given = Path(name)
    folder = EVENTS if what == "event" else LOCAL
    for candidate in (given, folder / name, folder / f"{name}.json"):
        if candidate.is_file():
            return candidate
    if what != "event":
        raise InvokeProblem(f"no {what} file {name!r} here or in local/: give a file like local/env.json")
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
            f'{path} has no "{FUNCTION}" object: write {{"{FUNCTION}": {{"ROUTES": "...", ...}}}}, '
            "as for sam local invoke --env-vars"
        )
    merged = {**env_vars.get("Parameters", {}), **env_vars.get(FUNCTION, {})}
    return {str(name): str(value) for name, value in merged.items()}


def template_variables() -> set[str]:
    """The variables the template gives the function itself (not the Globals ones)."""
    # Imported here: the template model loads SAM CLI's YAML reader (~0.3 s); a bad event file need not wait for it.
    from ops.template_model import sam_template

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


class CheckedInputs(NamedTuple):
    """What an invoke runs on, checked before anything is built or started: the same on both paths."""

    event_path: Path
    event: dict[str, Any]
    env_path: Path
    variables: dict[str, str]


def checked_inputs(event_name: str, env_vars_name: str) -> CheckedInputs:
    """The event (a JSON object) and the function's variables from the env-vars file, or InvokeProblem."""
    env_path = find_file(env_vars_name, "env-vars")
    event_path = find_file(event_name, "event")
    event = read_json(event_path)
    if not isinstance(event, dict):
        raise InvokeProblem(
            f"{event_path} holds {_json_kind(event)}, not an event: an event is a JSON object, as in "
            "events/put-object.json"
        )
    return CheckedInputs(event_path, event, env_path, function_variables(read_json(env_path), env_path))


def _json_kind(value: Any) -> str:
    kinds = {list: "a JSON array", str: "a JSON string", bool: "true or false", type(None): "null"}
    return kinds.get(type(value), "a JSON number")


def error_line(error_type: str, error_message: str) -> str:
    """The function's error as `sam local invoke` prints it (the stack trace is in the log lines above it)."""
    return json.dumps({"errorType": error_type, "errorMessage": error_message}, ensure_ascii=False)


def run_in_process(inputs: CheckedInputs) -> int:
    """The handler on the event in this process, with the file's variables: its log lines and metrics on stderr,
    as SAM's emulator path prints them, and its result alone on stdout."""
    try:
        use_function_environment(inputs.variables, os.environ)
        # The Logger keeps the stream it is made with: made (at import) and run with stdout pointing at stderr.
        with redirect_stdout(sys.stderr):
            handler = _import_handler(inputs.env_path)
    except InvokeProblem as problem:
        print(f"make invoke: {problem}", file=sys.stderr)
        return EXIT_USAGE

    from trigger_fn.retries import AwsCallFailed
    from trigger_fn.s3_event import MalformedEventError

    try:
        with redirect_stdout(sys.stderr):
            result = handler(inputs.event, LocalLambdaContext())
    except (MalformedEventError, AwsCallFailed) as error:
        print(error_line(type(error).__name__, str(error)))
        return EXIT_FUNCTION_ERROR
    print(json.dumps(result, ensure_ascii=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make invoke", description=__doc__.splitlines()[0])
    parser.add_argument("event", help="event file, or a sample event name from events/ (e.g. put-object)")
    parser.add_argument("--env-vars", default=str(DEFAULT_ENV_VARS), help="sam-style env file (default local/env.json)")
    args = parser.parse_args(argv)
    try:
        inputs = checked_inputs(args.event, args.env_vars)
    except InvokeProblem as problem:
        print(f"make invoke: {problem}", file=sys.stderr)
        return EXIT_USAGE
    return run_in_process(inputs)


def settings_problem(message: str, env_path: Path) -> str:
    """A SettingsError of the function's cold start, as make invoke says it on both paths."""
    return f"{message} (make invoke reads the function's variables from {env_path}; add it there or pass ENV=file)"


def _import_handler(env_path: Path) -> Any:
    from trigger_fn.route_config import SettingsError

    try:
        from trigger_fn.handler import lambda_handler
    except SettingsError as error:
        raise InvokeProblem(settings_problem(str(error), env_path)) from error
    return lambda_handler


if __name__ == "__main__":
    sys.exit(main())
