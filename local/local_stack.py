"""`make local-up` / `make local-down`: the stack on the local emulators, left running for your own tools, and
`python -m local.local_stack upload|logs|executions` to use it meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from local.emulators import (
    DEFAULT_MINISTACK_PORT,
    DEFAULT_MOTO_PORT,
    LOCAL_DIR,
    Emulator,
    Emulators,
    LocalStackError,
    PrerequisiteError,
    require_free_ports,
    require_ministack_venv,
    start_emulators,
    stop_process_group,
)
from local.sample_site import zip_site
from local.stack_deploy import load_local_config
from local.stack_watch import LocalStack

_STATE_FILE = LOCAL_DIR / "stack.json"
# What each recorded pid must be running, so a reused pid is never signalled.
_EXPECTED_COMMAND = {"ministack": "ministack", "moto": "moto_server"}


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def local_up() -> None:
    config = load_local_config()
    if _STATE_FILE.exists():
        raise PrerequisiteError("A local stack is already recorded in .local/: run `make local-down` first.")
    require_ministack_venv()
    require_free_ports(DEFAULT_MINISTACK_PORT, DEFAULT_MOTO_PORT)
    LOCAL_DIR.mkdir(exist_ok=True)
    emulators = start_emulators(DEFAULT_MINISTACK_PORT, DEFAULT_MOTO_PORT, config.region, LOCAL_DIR)
    try:
        for emulator in emulators.all():
            (LOCAL_DIR / f"{emulator.name}.pid").write_text(f"{emulator.pid}\n")
        stack = LocalStack(config=config, emulators=emulators)
        stack.deploy(on_step=lambda command: print(f"  $ {command}", flush=True))
        stack.create_pipeline()
        _STATE_FILE.write_text(
            json.dumps(
                {"ministack": emulators.ministack.url, "moto": emulators.moto.url, "outputs": stack.outputs}, indent=2
            )
        )
    except BaseException:
        for emulator in emulators.all():
            stop_process_group(emulator.pid, emulator.process)
        local_down(quiet=True)
        raise
    python = os.path.relpath(sys.executable, Path.cwd())
    print(
        f"""
Local stack up (left running on purpose; pids in .local/*.pid).
  ministack  {emulators.ministack.url}  (S3, EventBridge, Lambda, CloudFormation, Logs) log: .local/ministack.log
  moto       {emulators.moto.url}  (CodePipeline)  log: .local/moto.log
  bucket {stack.outputs["SourceBucket"]}   function {stack.function_name}   pipeline {config.pipeline_name}

Upload the sample site (or any file) and see what happened:
  {python} -m local.local_stack upload local/site --key {config.object_key}
  {python} -m local.local_stack logs
  {python} -m local.local_stack executions

With your own tools: AWS_ENDPOINT_URL={emulators.ministack.url} AWS_ENDPOINT_URL_CODEPIPELINE={emulators.moto.url} \\
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION={config.region}

Stop it: make local-down"""
    )


def local_down(quiet: bool = False) -> None:
    stopped = []
    for name, expected in _EXPECTED_COMMAND.items():
        pid_file = LOCAL_DIR / f"{name}.pid"
        if not pid_file.exists():
            continue
        pid = int(pid_file.read_text().strip())
        if expected in _command_line(pid):
            stop_process_group(pid)
            stopped.append(f"{name} (pid {pid})")
        pid_file.unlink()
    _STATE_FILE.unlink(missing_ok=True)
    shutil.rmtree(LOCAL_DIR / "ministack-tmp", ignore_errors=True)
    if not quiet:
        print(f"Stopped {', '.join(stopped)}." if stopped else "No local stack was running.")


def _running_stack() -> LocalStack:
    if not _STATE_FILE.exists():
        raise PrerequisiteError("No local stack is running: start one with `make local-up`.")
    state = json.loads(_STATE_FILE.read_text())
    config = load_local_config()

    def recorded(name: str, url: str) -> Emulator:
        port = int(url.rsplit(":", 1)[1])
        return Emulator(name=name, port=port, pid=0, log_path=LOCAL_DIR / f"{name}.log")

    emulators = Emulators(ministack=recorded("ministack", state["ministack"]), moto=recorded("moto", state["moto"]))
    return LocalStack(config=config, emulators=emulators, outputs=state["outputs"])


def _cli_upload(path: Path, key: str) -> None:
    stack = _running_stack()
    body = zip_site(path)[0] if path.is_dir() else path.read_bytes()
    version = stack.upload(key, body)
    print(f"Uploaded {len(body)} bytes to s3://{stack.outputs['SourceBucket']}/{key} (version {version}).")


def _cli_logs() -> None:
    for record in _running_stack().function_records():
        print(json.dumps(record))


def _cli_executions() -> None:
    for execution in _running_stack().executions():
        print(f"{execution.start_time:%H:%M:%S}  {execution.execution_id}  {execution.status}  {execution.trigger}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.local_stack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start the emulators, deploy the stack, create the pipeline; leave them running")
    commands.add_parser("down", help="stop the emulators `up` started")
    upload = commands.add_parser("upload", help="upload a file, or a folder as a zip, to the stack's bucket")
    upload.add_argument("path", type=Path)
    upload.add_argument("--key", default="my-website.zip")
    commands.add_parser("logs", help="print the function's log lines and metric records")
    commands.add_parser("executions", help="list the pipeline's executions")
    args = parser.parse_args(argv)
    try:
        match args.command:
            case "up":
                local_up()
            case "down":
                local_down()
            case "upload":
                _cli_upload(args.path, args.key)
            case "logs":
                _cli_logs()
            case "executions":
                _cli_executions()
    except (PrerequisiteError, LocalStackError) as error:
        print(f"{error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
