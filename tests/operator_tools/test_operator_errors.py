"""`make start`, `make redrive` and `make check-alarms` fail with one line saying what is wrong and what to do,
exit 2, no traceback: a stack that is not there, a region where it is not, no credentials, an unreachable endpoint,
no stack name, a broken samconfig.toml. The stack is found through samconfig.toml even when the shell's region says
otherwise."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from local.emulators import free_port
from ops import check_alarms, redrive, start
from support.deployed_stack import BUCKET, FUNCTION_ENV, KEY, deploy, deploy_alarms
from support.guided import project_with_samconfig, save_as_guided

STACK = "s3-pipeline-trigger"
STACK_REGION = "eu-west-1"
SHELL_REGION = "us-east-2"
NO_SUCH_STACK = (
    "stack '{stack}' does not exist in {region} (stack name from {stack_from}, region from {region_from}): "
    "deploy it with `make deploy`, or pass STACK=name REGION=region"
)
SIGN_IN = "sign in (`aws configure`, `aws sso login --profile NAME`) or set AWS_PROFILE"


@dataclass
class Outcome:
    code: int
    out: str
    err: str


Tool = Callable[..., int]
TOOLS = {
    "start": (lambda argv, **kw: start.main(["--key", KEY, "--dry-run", *argv], **kw), "Cannot start: "),
    "redrive": (lambda argv, **kw: redrive.main(["--wait", "0", *argv], **kw), "Cannot redrive: "),
    "check-alarms": (lambda argv, **kw: check_alarms.main(["--dry-run", *argv], **kw), "Cannot check alarms: "),
}


@pytest.fixture
def samconfig(tmp_path: Path) -> Path:
    """What `make deploy` leaves: the stack's name and region saved by guided, in the global table."""
    samconfig = project_with_samconfig(tmp_path)
    save_as_guided(samconfig, stack_name=STACK, region=STACK_REGION, parameters={"SourceBucketName": BUCKET})
    return samconfig


@pytest.fixture
def aws() -> Iterator[None]:
    """The stack in STACK_REGION on moto, with the outputs the tools read."""
    with mock_aws():
        session = boto3.Session(region_name=STACK_REGION)
        deploy(session, FUNCTION_ENV)
        cloudformation = session.client("cloudformation")
        cloudformation.delete_stack(StackName=STACK)
        sqs = session.client("sqs")
        queues = {name: sqs.create_queue(QueueName=f"{STACK}-{name}")["QueueUrl"] for name in ("rule", "failed")}
        outputs = {
            "TriggerFunctionName": "s3-pipeline-trigger-TriggerFunction-Q1w2E3r4",
            "RuleDeadLetterQueueUrl": queues["rule"],
            "FailedStartQueueUrl": queues["failed"],
            **deploy_alarms(session),
        }
        template = {
            "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
            "Outputs": {name: {"Value": value} for name, value in outputs.items()},
        }
        cloudformation.create_stack(StackName=STACK, TemplateBody=json.dumps(template))
        yield


def run(tool: str, argv: list[str], samconfig: Path, environ: dict[str, str] | None = None) -> Outcome:
    main, _ = TOOLS[tool]
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, samconfig=samconfig, environ=environ or {"AWS_DEFAULT_REGION": SHELL_REGION}, out=out, err=err)
    return Outcome(code, out.getvalue(), err.getvalue())


def one_line(outcome: Outcome, tool: str) -> str:
    assert outcome.code == 2
    assert outcome.out == ""
    assert outcome.err.endswith("\n")
    assert outcome.err.count("\n") == 1, outcome.err
    prefix = TOOLS[tool][1]
    assert outcome.err.startswith(prefix)
    return outcome.err[len(prefix) : -1]


@pytest.mark.parametrize("tool", TOOLS)
def test_the_stack_is_found_through_samconfig_whatever_the_shell_says(tool: str, samconfig: Path, aws: None) -> None:
    outcome = run(tool, [], samconfig)

    assert outcome.code == 0, outcome.err
    assert outcome.err == ""


@pytest.mark.parametrize("tool", TOOLS)
def test_a_stack_that_is_not_there(tool: str, samconfig: Path, aws: None) -> None:
    line = one_line(run(tool, ["--stack-name", "my-release-trigger"], samconfig), tool)

    assert line == NO_SUCH_STACK.format(
        stack="my-release-trigger",
        region=STACK_REGION,
        stack_from="--stack-name",
        region_from="samconfig.toml [default]",
    )


@pytest.mark.parametrize("tool", TOOLS)
def test_a_region_where_the_stack_is_not(tool: str, samconfig: Path, aws: None) -> None:
    line = one_line(run(tool, ["--region", SHELL_REGION], samconfig), tool)

    assert line == NO_SUCH_STACK.format(
        stack=STACK, region=SHELL_REGION, stack_from="samconfig.toml [default]", region_from="--region"
    )


@pytest.mark.parametrize("tool", TOOLS)
def test_no_credentials(tool: str, samconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.write_text("")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    # No instance metadata lookup: it is not there, and looking takes seconds.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    line = one_line(run(tool, [], samconfig), tool)

    assert line == f"no usable AWS credentials (Unable to locate credentials): {SIGN_IN}"


@pytest.mark.parametrize("tool", TOOLS)
def test_an_unreachable_endpoint(tool: str, samconfig: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")

    line = one_line(run(tool, [], samconfig), tool)

    assert line == (
        f'Could not connect to the endpoint URL: "{url}/" (region {STACK_REGION}, from samconfig.toml [default]): '
        "check the region and your network"
    )


@pytest.mark.parametrize("tool", TOOLS)
def test_no_stack_name_anywhere(tool: str, tmp_path: Path) -> None:
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text("version = 0.1\n")

    line = one_line(run(tool, [], samconfig), tool)

    assert line == (
        "no stack name in 'default' of samconfig.toml: deploy with `make deploy` (it saves the name there), "
        "or pass STACK=name"
    )


@pytest.mark.parametrize("tool", TOOLS)
def test_a_broken_samconfig(tool: str, tmp_path: Path) -> None:
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text('[default.global.parameters]\nstack_name = "unterminated\n')

    line = one_line(run(tool, [], samconfig), tool)

    assert line.startswith("samconfig.toml is not valid TOML (")
    assert line.endswith("): fix it or restore it from git")


@pytest.mark.parametrize("tool", TOOLS)
def test_a_stack_of_another_project(tool: str, samconfig: Path, aws: None) -> None:
    other = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}
    boto3.client("cloudformation", region_name=STACK_REGION).create_stack(
        StackName="other", TemplateBody=json.dumps(other)
    )

    line = one_line(run(tool, ["--stack-name", "other"], samconfig), tool)

    assert "'other' has no output" in line
    assert line.endswith("it is not this project's stack; pass STACK=name of the trigger stack")
