"""The stack on local AWS emulators: ministack (S3, EventBridge, Lambda, CloudFormation, IAM, SQS, Logs) and
moto's server (CodePipeline, which ministack lacks). Used by `make demo`, `make local-up/local-down` and the e2e tests.

Everything listens on 127.0.0.1 only, with dummy credentials: nothing here can reach a real AWS account.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from local.example_pipeline import create_s3_source_pipeline
from local.sample_site import zip_site

ROOT = Path(__file__).resolve().parent.parent
MINISTACK_VENV = ROOT / ".venv-ministack"
LOCAL_DIR = ROOT / ".local"
# Fixed so the endpoints printed for your own tools stay the same between runs; checked free before use.
DEFAULT_MINISTACK_PORT = 4599
DEFAULT_MOTO_PORT = 4598
# Set on the deployed function only: the template has no emulator setting, AWS deployments never see one.
CODEPIPELINE_ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL_CODEPIPELINE"
_FUNCTION_UPDATE_TIMEOUT_S = 30.0
# The emulators accept any key; fixed dummies keep a real profile from ever being read.
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
_READY_TIMEOUT_S = 30.0
_STOP_GRACE_S = 5.0
_CLIENT_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 2}, connect_timeout=3, read_timeout=30)


class PrerequisiteError(RuntimeError):
    """Something the user must fix first; the message is one sentence saying what to do."""


class LocalStackError(RuntimeError):
    """An emulator or deploy step failed; the message says which and where its log is."""


# ---------------------------------------------------------------- configuration


@dataclass(frozen=True)
class LocalConfig:
    """The `[local]` environment of samconfig.toml: what `sam deploy --config-env local` deploys."""

    stack_name: str
    region: str
    parameters: dict[str, str]

    @property
    def bucket(self) -> str:
        return self.parameters["SourceBucketName"]

    @property
    def pipeline_name(self) -> str:
        return self.parameters["PipelineName"]

    @property
    def object_key(self) -> str:
        return self.parameters["ObjectKey"]


def load_local_config(root: Path = ROOT) -> LocalConfig:
    config = tomllib.loads((root / "samconfig.toml").read_text(encoding="utf-8"))
    local = config.get("local")
    if not local:
        raise PrerequisiteError(f"{root / 'samconfig.toml'} has no [local] environment: restore it from git.")
    merged = {**local.get("global", {}).get("parameters", {}), **local.get("deploy", {}).get("parameters", {})}
    overrides = merged.get("parameter_overrides", "")
    words = shlex.split(overrides) if isinstance(overrides, str) else list(overrides)
    parameters = dict(word.split("=", 1) for word in words)
    return LocalConfig(stack_name=merged["stack_name"], region=merged["region"], parameters=parameters)


# ---------------------------------------------------------------- ports and processes


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


def _base_env() -> dict[str, str]:
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
        **_base_env(),
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
    return _spawn("moto", [str(binary), "-H", "127.0.0.1", "-p", str(port)], port, _base_env(), workdir)


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


# ---------------------------------------------------------------- the stack on the emulators


def aws_env(endpoint_url: str, region: str) -> dict[str, str]:
    """Environment for the SAM CLI: every AWS call goes to the emulator, with dummy credentials."""
    bin_dir = str(Path(sys.executable).parent)
    env = _base_env()
    # The venv's python3.13 must be on PATH for `sam build`.
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env.update(DUMMY_CREDENTIALS)
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
            "SAM_CLI_TELEMETRY": "0",
            # An empty config file: no profile, SSO or credential process of the user is read.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )
    env.setdefault("PYENV_VERSION", "3.11.7:3.13.0")
    return env


@dataclass
class Execution:
    execution_id: str
    status: str
    trigger: str
    start_time: datetime


@dataclass
class LocalStack:
    """The deployed stack and its emulators, with what a user would do to it."""

    config: LocalConfig
    emulators: Emulators
    project_dir: Path = ROOT
    # None: samconfig's [local] build folder; tests pass their own so parallel runs cannot collide.
    build_dir: Path | None = None
    outputs: dict[str, str] = field(default_factory=dict)

    def client(self, service: str, *, on_moto: bool = False) -> Any:
        emulator = self.emulators.moto if on_moto else self.emulators.ministack
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=emulator.url,
            region_name=self.config.region,
            config=_CLIENT_CONFIG,
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    # -- deploy

    def deploy_parameters(self, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
        return {**self.config.parameters, **(overrides or {})}

    def sam_commands(self, overrides: Mapping[str, str] | None = None) -> list[list[str]]:
        """`sam build`, then `sam deploy`, both `--config-env local`, adding only what differs from that config."""
        sam = str(Path(sys.executable).parent / "sam")
        build = [sam, "build", "--config-env", "local"]
        deploy = [sam, "deploy", "--config-env", "local"]
        if self.build_dir is not None:
            build += ["--build-dir", str(self.build_dir), "--cache-dir", str(self.build_dir.with_name("cache"))]
            # Outside the project, sam would look for samconfig.toml next to the built template.
            config_file = str(self.project_dir / "samconfig.toml")
            deploy += ["--config-file", config_file, "--template-file", str(self.build_dir / "template.yaml")]
        parameters = self.deploy_parameters(overrides)
        if parameters != self.config.parameters:
            deploy += ["--parameter-overrides", *(f"{name}={value}" for name, value in parameters.items())]
        return [build, deploy]

    def deploy(self, overrides: Mapping[str, str] | None = None, on_step: Callable[[str], None] | None = None) -> None:
        env = aws_env(self.emulators.ministack.url, self.config.region)
        for command in self.sam_commands(overrides):
            if on_step:
                on_step(shlex.join(["sam", *command[1:]]))
            result = subprocess.run(command, cwd=self.project_dir, env=env, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                # Upload progress says nothing about the failure; the stack's failed resources say everything.
                output = [line for line in (result.stdout + result.stderr).splitlines() if "Uploading to" not in line]
                output += self.failed_resources()
                raise LocalStackError(
                    f"`{shlex.join(['sam', *command[1:]])}` failed (exit {result.returncode}):\n"
                    + "\n".join(output[-30:])
                )
        stack = self.client("cloudformation").describe_stacks(StackName=self.config.stack_name)["Stacks"][0]
        self.outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
        self.outputs["StackStatus"] = stack["StackStatus"]
        self.point_function_at_moto()
        self.number_the_queue_concurrency()

    def point_function_at_moto(self) -> None:
        """ministack has no CodePipeline: the function's CodePipeline calls go to moto's server instead."""
        lambda_client = self.client("lambda")
        name = self.outputs["TriggerFunctionName"]
        variables = lambda_client.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
        lambda_client.update_function_configuration(
            FunctionName=name,
            Environment={"Variables": {**variables, CODEPIPELINE_ENDPOINT_VARIABLE: self.emulators.moto.url}},
        )
        deadline = time.monotonic() + _FUNCTION_UPDATE_TIMEOUT_S
        while lambda_client.get_function_configuration(FunctionName=name).get("LastUpdateStatus") == "InProgress":
            if time.monotonic() > deadline:
                raise LocalStackError(f"{name}: UpdateFunctionConfiguration still in progress after 30 s")
            time.sleep(0.1)

    def number_the_queue_concurrency(self) -> None:
        number_queue_concurrency(self.client("lambda"), self.outputs["TriggerFunctionName"])

    def failed_resources(self) -> list[str]:
        """One line per resource the emulator's CloudFormation failed, with its reason."""
        try:
            events = self.client("cloudformation").describe_stack_events(StackName=self.config.stack_name)
        except Exception:  # noqa: BLE001 - no stack yet means nothing failed there; the SAM output says why
            return []
        return [
            f"FAILED {event['LogicalResourceId']} ({event['ResourceType']}): {event.get('ResourceStatusReason', '')}"
            for event in reversed(events["StackEvents"])
            if event["ResourceStatus"].endswith("_FAILED")
        ]

    @property
    def function_name(self) -> str:
        return self.outputs["TriggerFunctionName"]

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    # -- the pipeline the function starts

    def create_pipeline(self) -> str:
        return create_s3_source_pipeline(
            codepipeline=self.client("codepipeline", on_moto=True),
            iam=self.client("iam", on_moto=True),
            s3=self.client("s3", on_moto=True),
            name=self.config.pipeline_name,
            source_bucket=self.outputs["SourceBucket"],
            object_key=self.config.object_key,
            source_action=self.config.parameters.get("SourceActionName", "Source"),
            allow_key_override=self.config.parameters.get("OverrideObjectKey", "false") == "true",
        )

    def executions(self) -> list[Execution]:
        summaries = self.client("codepipeline", on_moto=True).list_pipeline_executions(
            pipelineName=self.config.pipeline_name
        )["pipelineExecutionSummaries"]
        return [
            Execution(
                execution_id=summary["pipelineExecutionId"],
                status=summary["status"],
                trigger=summary.get("trigger", {}).get("triggerType", ""),
                start_time=summary["startTime"],
            )
            for summary in summaries
        ]

    def wait_for_new_execution(self, known: set[str], timeout_s: float = 30.0) -> Execution | None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for execution in self.executions():
                if execution.execution_id not in known:
                    return execution
            time.sleep(0.05)
        return None

    # -- uploads and what they cause

    def upload(self, key: str, body: bytes) -> str | None:
        """put_object exactly as a user would; returns the new version id."""
        response = self.client("s3").put_object(Bucket=self.outputs["SourceBucket"], Key=key, Body=body)
        version: str | None = response.get("VersionId")
        return version

    def watch_bucket_events(self) -> BucketEventWatcher:
        """A second rule that copies every Object Created event of the bucket to a queue, to see what was sent."""
        return BucketEventWatcher.create(self.client("events"), self.client("sqs"), self.outputs["SourceBucket"])

    def function_records(self) -> list[dict[str, Any]]:
        """Every JSON line the function printed (Powertools logs and EMF metrics), oldest first."""
        logs = self.client("logs")
        records: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"logGroupName": self.log_group}
        while True:
            try:
                page = logs.filter_log_events(**kwargs)
            except logs.exceptions.ResourceNotFoundException:
                return records
            for event in page["events"]:
                message = event["message"].strip()
                if message.startswith("{"):
                    with suppress(json.JSONDecodeError):
                        records.append(json.loads(message))
            if not page.get("nextToken"):
                return records
            kwargs["nextToken"] = page["nextToken"]

    def invocations(self) -> set[str]:
        """Request ids of the function's invocations so far (each logs Powertools lines carrying it)."""
        return {record["function_request_id"] for record in self.function_records() if "function_request_id" in record}

    def wait_for_record(
        self, matches: Callable[[dict[str, Any]], bool], timeout_s: float = 15.0
    ) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for record in self.function_records():
                if matches(record):
                    return record
            time.sleep(0.1)
        return None


@dataclass
class BucketEventWatcher:
    sqs: Any
    queue_url: str
    # Every event received so far, whichever key it was waited for.
    seen: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def create(cls, events: Any, sqs: Any, bucket: str) -> BucketEventWatcher:
        queue_url = sqs.create_queue(QueueName="local-demo-bucket-events")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        pattern = {"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": {"bucket": {"name": [bucket]}}}
        events.put_rule(Name="local-demo-watch-bucket", EventPattern=json.dumps(pattern))
        events.put_targets(Rule="local-demo-watch-bucket", Targets=[{"Id": "queue", "Arn": queue_arn}])
        return cls(sqs=sqs, queue_url=queue_url)

    def wait_for_event(self, key: str, timeout_s: float = 15.0) -> dict[str, Any] | None:
        """The Object Created event EventBridge delivered for this key, or None."""
        deadline = time.monotonic() + timeout_s
        while True:
            for event in self.seen:
                if event.get("detail", {}).get("object", {}).get("key") == key:
                    return event
            if time.monotonic() >= deadline:
                return None
            messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for message in messages.get("Messages", []):
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                self.seen.append(json.loads(message["Body"]))


# ---------------------------------------------------------------- `make local-up` / `make local-down`

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


def number_queue_concurrency(lambda_client: Any, function_name: str) -> None:
    """ministack 1.5.33 keeps the template's MaximumConcurrency as the string a parameter gives (CloudFormation makes
    it a number), and its queue poller then fails at every poll: set it again as a number, as AWS holds it."""
    mappings = lambda_client.list_event_source_mappings(FunctionName=function_name)["EventSourceMappings"]
    for mapping in mappings:
        concurrency = mapping.get("ScalingConfig", {}).get("MaximumConcurrency")
        if concurrency is not None:
            lambda_client.update_event_source_mapping(
                UUID=mapping["UUID"], ScalingConfig={"MaximumConcurrency": int(concurrency)}
            )
