"""`make deploy` as a user runs it the first time, on the local emulators: `sam deploy --guided` answered from
stdin with a stack name and region that are not the defaults, then every other tool aimed at that stack through
samconfig.toml alone — `make start ARGS=--dry-run`, `make redrive`, `sam logs`, `sam delete` — while the shell's
own region says something else. Runs in a copy of the project, so the real samconfig.toml is never touched.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.emulators import DUMMY_CREDENTIALS, MINISTACK_VENV, Emulators, free_port, running_emulators
from local.stack_deploy import number_queue_concurrency
from ops.deployer_policy import README_NAMES, Names, policy
from support.environment import ROOT
from support.readme import page

pytestmark = pytest.mark.e2e

STACK = "my-release-trigger"
# The stack's region: the user's configured one, accepted as guided's default answer.
REGION = "ap-southeast-2"
# What the shell says later, as another profile would: the tools must still find the stack in REGION.
OTHER_REGION = "eu-west-1"
BUCKET = "e2e-release-artifacts"
KEY = "my-website.zip"
PIPELINE = "my-website-pipeline"
README = (ROOT / "README.md").read_text(encoding="utf-8")
# What a user types, prompt by prompt (every other prompt: Enter). DryRun keeps uploads from calling CodePipeline.
ANSWERS = {
    "Stack Name": STACK,
    "Parameter SourceBucketName": BUCKET,
    "Parameter ObjectKey": KEY,
    "Parameter PipelineName": PIPELINE,
    "Parameter DryRun": "true",
    "Deploy this changeset?": "y",
}
# Records every AWS call the SAM CLI makes, so the deployer policy can be checked against them.
RECORDER = """
import json
import os
if os.environ.get("RECORD_AWS_CALLS"):
    import botocore.client
    _original = botocore.client.BaseClient._make_api_call
    def _recording(self, operation, params):
        call = {"service": self.meta.service_model.signing_name, "operation": operation}
        call.update({name: params[name] for name in ("StackName", "Bucket", "Key") if name in params})
        with open(os.environ["RECORD_AWS_CALLS"], "a", encoding="utf-8") as calls:
            calls.write(json.dumps(call) + "\\n")
        return _original(self, operation, params)
    botocore.client.BaseClient._make_api_call = _recording
"""
_KEEP = ("PATH", "HOME", "LANG", "PYENV_VERSION", "PYENV_ROOT")
_SKIP = {".git", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", ".local", "__pycache__"}


@dataclass
class Project:
    root: Path
    emulators: Emulators
    calls: Path

    def env(self, region: str = REGION, *, record: bool = False) -> dict[str, str]:
        keep = {name: os.environ[name] for name in _KEEP if name in os.environ}
        recording = {"RECORD_AWS_CALLS": str(self.calls), "PYTHONPATH": "src"} if record else {}
        return {
            **keep,
            **DUMMY_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.emulators.ministack.url,
            "AWS_DEFAULT_REGION": region,
            # No profile of the machine's user is read.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "SAM_CLI_TELEMETRY": "0",
            **recording,
        }

    def run(
        self, *command: str, stdin: str = "", region: str = REGION, record: bool = False
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(command),
            cwd=self.root,
            env=self.env(region, record=record),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    def make(
        self, *arguments: str, stdin: str = "", region: str = REGION, record: bool = False
    ) -> subprocess.CompletedProcess[str]:
        # -o: the venv is the one running these tests (linked in); never remake it from the copy.
        return self.run("make", "-o", ".venv/.installed", *arguments, stdin=stdin, region=region, record=record)

    def sam(self, *arguments: str, region: str = REGION, record: bool = False) -> subprocess.CompletedProcess[str]:
        return self.run(str(self.root / ".venv" / "bin" / "sam"), *arguments, region=region, record=record)

    def client(self, service: str, region: str = REGION) -> Any:
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.emulators.ministack.url,
            region_name=region,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def samconfig(self) -> dict[str, Any]:
        return tomllib.loads((self.root / "samconfig.toml").read_text(encoding="utf-8"))


def copy_project(destination: Path) -> Path:
    def ignore(folder: str, names: list[str]) -> set[str]:
        return {name for name in names if name in _SKIP or name.startswith(".venv")}

    # copy2 keeps modification times, so make sees the build and the venv as they are.
    shutil.copytree(ROOT, destination, ignore=ignore, copy_function=shutil.copy2, symlinks=True)
    (destination / ".venv").symlink_to(Path(sys.executable).parent.parent)
    (destination / "src" / "sitecustomize.py").write_text(RECORDER, encoding="utf-8")
    return destination


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    if not (MINISTACK_VENV / "bin" / "ministack").exists():
        pytest.fail(f"{MINISTACK_VENV} is missing: run `make ministack-venv` (or `make test`, which builds it).")
    workdir = tmp_path_factory.mktemp("deploy-e2e")
    root = copy_project(workdir / "project")
    with running_emulators(free_port(), free_port(), REGION, workdir) as emulators:
        yield Project(root, emulators, workdir / "aws-calls.txt")


@pytest.fixture(scope="module")
def first_deploy(project: Project) -> subprocess.CompletedProcess[str]:
    prompts = guided_prompts_in_readme()
    answers = "".join(ANSWERS.get(prompt, "") + "\n" for prompt, _ in prompts)
    return project.make("deploy", stdin=answers, record=True)


def guided_prompts_in_readme() -> list[tuple[str, str]]:
    """(prompt, default) of each row of the table of guided questions (docs/parameters.md)."""
    section = page("docs/parameters.md").split("\n## What `make deploy` asks the first time\n", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \| ([^|]*) \|", section, flags=re.MULTILINE)
    # A default is shown as SAM prints it, in backticks; an empty one as a dash.
    return [(prompt, "" if cell.strip() == "—" else cell.strip().strip("`")) for prompt, cell in rows]


def prompts_asked(output: str) -> list[tuple[str, str]]:
    return re.findall(r"\t?([A-Z][^\t\n\[#]*?) \[([^\]\n]*)\]: ", output)


def test_guided_asks_exactly_what_the_readme_lists(first_deploy: subprocess.CompletedProcess[str]) -> None:
    asked = prompts_asked(first_deploy.stdout)
    listed = guided_prompts_in_readme()

    assert first_deploy.returncode == 0, first_deploy.stdout[-3000:] + first_deploy.stderr
    assert [prompt for prompt, _ in asked] == [prompt for prompt, _ in listed]
    for (prompt, default), (_, shown) in zip(asked, listed, strict=True):
        # The region's default is the user's own; the README says so instead of showing one.
        assert default == (REGION if prompt == "AWS Region" else shown), prompt


def test_the_stack_is_where_the_answers_said(project: Project, first_deploy: subprocess.CompletedProcess[str]) -> None:
    assert first_deploy.returncode == 0, first_deploy.stdout[-3000:] + first_deploy.stderr
    stacks = project.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"]
    assert stacks[0]["StackStatus"] == "CREATE_COMPLETE"
    elsewhere = project.client("cloudformation", OTHER_REGION).list_stacks()["StackSummaries"]
    assert STACK not in [summary["StackName"] for summary in elsewhere]


def test_samconfig_keeps_stack_name_and_region_in_one_place(
    project: Project, first_deploy: subprocess.CompletedProcess[str]
) -> None:
    assert first_deploy.returncode == 0, first_deploy.stdout[-3000:] + first_deploy.stderr
    default = project.samconfig()["default"]

    assert default["global"]["parameters"] == {"stack_name": STACK, "region": REGION}
    # The README shows this very table.
    shown = README.split("\n```toml\n[default.global.parameters]\n", 1)[1].split("```", 1)[0]
    assert tomllib.loads(shown) == default["global"]["parameters"]
    assert not {"stack_name", "region"} & set(default["deploy"]["parameters"])
    assert f'SourceBucketName=\\"{BUCKET}\\"' in json.dumps(default["deploy"]["parameters"]["parameter_overrides"])


def test_the_second_deploy_runs_from_samconfig_without_questions(
    project: Project, first_deploy: subprocess.CompletedProcess[str]
) -> None:
    assert first_deploy.returncode == 0, first_deploy.stdout[-3000:] + first_deploy.stderr

    # A rebuilt function is a change: SAM shows the change set and asks before deploying it.
    second = project.make("deploy", stdin="y\n", region=OTHER_REGION, record=True)

    assert second.returncode == 0, second.stdout[-3000:] + second.stderr
    assert "$ sam deploy\n" in second.stdout
    assert "Setting default arguments" not in second.stdout
    assert f"samconfig.toml [default]: stack {STACK}, region {REGION}" in second.stdout


@pytest.fixture(scope="module")
def uploaded_version(project: Project, first_deploy: subprocess.CompletedProcess[str]) -> str:
    assert first_deploy.returncode == 0, first_deploy.stdout[-3000:] + first_deploy.stderr
    number_queue_concurrency(project.client("lambda"), f"{STACK}-trigger")
    version: str = project.client("s3").put_object(Bucket=BUCKET, Key=KEY, Body=b"release 1")["VersionId"]
    return version


def test_make_start_finds_the_stack_through_samconfig(project: Project, uploaded_version: str) -> None:
    # GIVEN a shell whose region is another one WHEN the user starts the pipeline on the upload (dry run)
    started = project.make("-s", "start", f"KEY={KEY}", "ARGS=--dry-run", region=OTHER_REGION)

    # THEN the request is the deployed function's, pinned to the uploaded version
    assert started.returncode == 0, started.stderr
    assert started.stdout.startswith(f"StartPipelineExecution for pipeline {PIPELINE}:\n")
    request = json.loads(started.stdout.split(":\n", 1)[1].rsplit("Dry run: not sent.", 1)[0])
    assert request["sourceRevisions"] == [
        {"actionName": "Source", "revisionType": "S3_OBJECT_VERSION_ID", "revisionValue": uploaded_version}
    ]


def test_make_redrive_finds_the_stacks_queues_through_samconfig(project: Project, uploaded_version: str) -> None:
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in project.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"]
    }
    event = {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "id": "e2e-kept",
        # S3's events carry the bucket's account: the stack's own here.
        "account": project.client("sts").get_caller_identity()["Account"],
        "detail": {"bucket": {"name": BUCKET}, "object": {"key": KEY, "version-id": uploaded_version}},
    }
    sqs = project.client("sqs")
    sqs.send_message(QueueUrl=outputs["RuleDeadLetterQueueUrl"], MessageBody=json.dumps(event))

    listed = project.make("-s", "redrive", region=OTHER_REGION)

    # The deployed function's own settings say what the event would do now.
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith(
        f'Dry run: nothing moved or deleted (ARGS=--apply redrives). "now" is what {STACK}-'
    )
    assert "rule-dlq: 1 message(s), oldest " in listed.stdout
    assert "failed-start: empty" in listed.stdout
    # Deployed with DryRun=true (ANSWERS): the function would log the request and start nothing.
    assert listed.stdout.rstrip().endswith(f"logs the request for {PIPELINE} and starts nothing (DRY_RUN=true)")
    # And it is still there.
    kept = sqs.receive_message(QueueUrl=outputs["RuleDeadLetterQueueUrl"], VisibilityTimeout=0).get("Messages", [])
    assert [json.loads(message["Body"])["id"] for message in kept] == ["e2e-kept"]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (
            ("start", f"KEY={KEY}", "STACK=s3-pipeline-trigger", "ARGS=--dry-run"),
            "Cannot start: stack 's3-pipeline-trigger' does not exist in ap-southeast-2 (stack name from "
            "--stack-name, region from samconfig.toml [default]): deploy it with `make deploy`, or pass STACK=name "
            "REGION=region",
        ),
        (
            ("redrive", f"REGION={OTHER_REGION}"),
            f"Cannot redrive: stack '{STACK}' does not exist in eu-west-1 (stack name from samconfig.toml [default], "
            "region from --region): deploy it with `make deploy`, or pass STACK=name REGION=region",
        ),
    ],
    ids=["wrong-stack", "wrong-region"],
)
def test_a_wrong_stack_or_region_is_one_line_and_exit_2(
    project: Project, uploaded_version: str, arguments: tuple[str, ...], expected: str
) -> None:
    failed = project.make("-s", *arguments)

    assert failed.returncode == 2
    assert failed.stdout == ""
    first, *rest = failed.stderr.splitlines()
    assert first == expected
    # The only other line is make's own note that the command failed.
    assert len(rest) == 1
    assert re.fullmatch(rf"make: \*\*\* \[Makefile:\d+: {arguments[0]}\] Error 2", rest[0])


def test_sam_logs_reads_the_same_stack(project: Project, uploaded_version: str) -> None:
    # The upload ran the function (through the trigger queue); its dry-run line is what `sam logs` must find.
    logs = project.sam("logs", region=OTHER_REGION)
    deadline = time.monotonic() + 30
    while "Dry run" not in logs.stdout and time.monotonic() < deadline:
        time.sleep(1)
        logs = project.sam("logs", region=OTHER_REGION)

    assert logs.returncode == 0, logs.stderr
    assert "Dry run" in logs.stdout


# S3 operations whose IAM action has another name; STS GetCallerIdentity needs no permission.
_S3_ACTIONS = {"HeadObject": "s3:GetObject", "HeadBucket": "s3:ListBucket", "ListObjectsV2": "s3:ListBucket"}


def _iam_action(call: str) -> str | None:
    service, operation = call.split(":")
    if call == "sts:GetCallerIdentity":
        return None
    if service == "s3" and operation in _S3_ACTIONS:
        return _S3_ACTIONS[operation]
    return f"{service}:{operation}"


def test_sam_delete_removes_the_same_stack(project: Project, uploaded_version: str) -> None:
    deleted = project.sam("delete", "--no-prompts", region=OTHER_REGION, record=True)

    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    summaries = project.client("cloudformation").list_stacks()["StackSummaries"]
    assert [s["StackStatus"] for s in summaries if s["StackName"] == STACK] in ([], ["DELETE_COMPLETE"])


def test_every_sam_cli_call_is_allowed_by_the_deployer_policy(project: Project, uploaded_version: str) -> None:
    # What `make deploy` (guided, then from samconfig) and `sam delete` made SAM CLI call, on what.
    calls = [json.loads(line) for line in project.calls.read_text(encoding="utf-8").splitlines()]
    statements = policy(Names(STACK, BUCKET, README_NAMES.example_pipeline))["Statement"]

    refused = [call for call in calls if not _allowed(call, statements)]

    assert {call["operation"] for call in calls} >= {"CreateChangeSet", "ExecuteChangeSet", "PutObject", "DeleteStack"}
    assert not refused


# S3 operations whose IAM action has another name.
_S3_ACTIONS = {"HeadObject": "s3:GetObject", "HeadBucket": "s3:ListBucket", "ListObjectsV2": "s3:ListBucket"}
# Calls every identity may make.
_FREE = {"sts:GetCallerIdentity"}


def _allowed(call: dict[str, str], statements: list[dict[str, Any]]) -> bool:
    action = _S3_ACTIONS.get(call["operation"]) if call["service"] == "s3" else None
    action = action or f"{call['service']}:{call['operation']}"
    if action in _FREE:
        return True
    resource = _resource(call)
    return any(
        action in statement["Action"]
        and (resource is None or any(fnmatch.fnmatchcase(resource, pattern) for pattern in statement["Resource"]))
        for statement in statements
    )


def _resource(call: dict[str, str]) -> str | None:
    if "StackName" in call:
        name = call["StackName"]
        return name if name.startswith("arn:") else f"arn:aws:cloudformation:{REGION}:000000000000:stack/{name}/id"
    if "Bucket" in call:
        return f"arn:aws:s3:::{call['Bucket']}" + (f"/{call['Key']}" if "Key" in call else "")
    return None
