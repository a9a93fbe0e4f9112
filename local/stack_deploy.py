"""template.yaml deployed on the emulators as a user would: `sam build` and `sam deploy --config-env local`, then
the two settings only an emulator needs (the function's CodePipeline endpoint on moto, the queue concurrency as a
number), and the example pipeline the function starts.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from local.emulators import DUMMY_CREDENTIALS, ROOT, Emulators, LocalStackError, PrerequisiteError, base_env
from local.example_pipeline import create_s3_source_pipeline

# Set on the deployed function only: the template has no emulator setting, AWS deployments never see one.
CODEPIPELINE_ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL_CODEPIPELINE"
_FUNCTION_UPDATE_TIMEOUT_S = 30.0
_CLIENT_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 2}, connect_timeout=3, read_timeout=30)


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


def aws_env(endpoint_url: str, region: str) -> dict[str, str]:
    """Environment for the SAM CLI: every AWS call goes to the emulator, with dummy credentials."""
    bin_dir = str(Path(sys.executable).parent)
    env = base_env()
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
class DeployedStack:
    """The stack deployed on its emulators: its outputs, its clients, and the pipeline its function starts."""

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
