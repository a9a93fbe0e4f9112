"""README's Troubleshooting table quotes what the function and the tools really print: each quote is produced here."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import NoCredentialsError
from botocore.stub import Stubber
from moto import mock_aws

from bucket_adopter.adoption import Target
from bucket_adopter.bucket_client import BucketCallFailed, BucketNotifications
from local.aws_models.s3 import FakeS3
from ops import deploy as make_deploy
from ops import redrive
from ops import start as start_pipeline
from ops.aws_problems import explain
from ops.parameter_checks import template_checks
from ops.stack import StackLocation
from support import fake_sam_cli
from support.dead_letters import DeadLetterStack, event
from support.deployed_stack import BUCKET, FUNCTION_ENV, KEY, REGION, STACK, deploy
from support.environment import ROOT
from support.events import fresh, load_event
from support.guided import project_with_samconfig, save_as_guided
from trigger_fn.clients import AwsClients
from trigger_fn.object_versions import current_version
from trigger_fn.pipeline_client import start_execution
from trigger_fn.plan import plan
from trigger_fn.retries import AwsCallFailed, RetryPolicy
from trigger_fn.route_config import SettingsError
from trigger_fn.s3_event import MalformedEventError
from trigger_fn.settings import load_settings
from trigger_fn.start_requests import StartRequest
from trigger_fn.trigger import handle_event

README = (ROOT / "README.md").read_text(encoding="utf-8")
TROUBLESHOOTING = README.split("\n## Troubleshooting\n", 1)[1].split("\n## ", 1)[0]
# The first cell of each row; only rows that quote something (in backticks) are checked.
QUOTED_ROWS = [
    re.findall(r"`([^`]+)`", cell)
    for cell in re.findall(r"^\| (.+?) \| .+ \| .+ \|$", TROUBLESHOOTING, flags=re.MULTILINE)
    if "`" in cell and cell != "you see"
]


def _settings_error(environment: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as raised:
        load_settings(environment)
    return f"{type(raised.value).__name__}: {raised.value}"


def _missing_routes() -> str:
    return _settings_error({"SOURCE_BUCKET": BUCKET})


def _route_outside_allowed() -> str:
    routes = json.dumps([{"key": "*.zip", "pipeline": "audit"}])
    return _settings_error({"SOURCE_BUCKET": BUCKET, "ROUTES": routes, "ALLOWED_PIPELINES": "site"})


def _function_log(event_name: str, capsys: pytest.CaptureFixture[str], s3: FakeS3 | None = None, **changes: str) -> str:
    from support.function_output import CurrentStdout
    from trigger_fn.observability import logger

    logger.registered_handler.setStream(CurrentStdout())  # type: ignore[union-attr, arg-type]
    settings = load_settings({**FUNCTION_ENV, **changes})
    handle_event(fresh(load_event(event_name)), settings, AwsClients(s3=s3 or FakeS3()))  # type: ignore[arg-type]
    return capsys.readouterr().out


def _superseded(capsys: pytest.CaptureFixture[str]) -> str:
    s3 = FakeS3()
    s3.put(BUCKET, KEY, version_id="a-newer-version")
    return _function_log("put-object.json", capsys, s3)


def _customer_key_object(capsys: pytest.CaptureFixture[str]) -> str:
    s3 = FakeS3()
    s3.put(BUCKET, KEY, version_id=load_event("put-object.json")["detail"]["object"]["version-id"], customer_key=True)
    return _function_log("put-object.json", capsys, s3)


def _route_outside_key_filter() -> str:
    routes = json.dumps([{"key": "site/*.zip", "pipeline": "site"}, {"key": "site/*.tar.gz", "pipeline": "site"}])
    return _settings_error({"SOURCE_BUCKET": BUCKET, "ROUTES": routes, "ROUTES_KEY_FILTER": "*.zip"})


def _over_long_variable(capsys: pytest.CaptureFixture[str]) -> str:
    from support.function_output import CurrentStdout
    from trigger_fn.observability import logger

    logger.registered_handler.setStream(CurrentStdout())  # type: ignore[union-attr, arg-type]
    routes = json.dumps([{"key": "*.zip", "pipeline": "site", "variables": {"UPLOAD_KEY": "key"}}])
    event = fresh(load_event("put-object.json"))
    event["detail"]["object"]["key"] = "a" * 1001 + ".zip"
    # A dry run: the plan is what leaves the variable out, before any call.
    handle_event(event, load_settings({"SOURCE_BUCKET": BUCKET, "ROUTES": routes, "DRY_RUN": "true"}), AwsClients())
    return capsys.readouterr().out


def _version_check_denied() -> str:
    client = boto3.client("s3", region_name=REGION)
    with Stubber(client) as stub:
        stub.add_client_error("head_object", service_error_code="403", http_status_code=403)
        with pytest.raises(AwsCallFailed) as raised:
            current_version(client, BUCKET, KEY, RetryPolicy(sleep=lambda _: None))
    return str(raised.value)


def _malformed() -> str:
    with pytest.raises(MalformedEventError) as raised:
        plan(load_event("malformed-missing-key.json"), load_settings(FUNCTION_ENV))
    return str(raised.value)


def _start_failure(code: str, times: int) -> str:
    client = boto3.client("codepipeline", region_name=REGION)
    request = StartRequest("my-website-pipeline", (), "t")
    with Stubber(client) as stub:
        for _ in range(times):
            stub.add_client_error("start_pipeline_execution", code, "as AWS says", 400)
        with pytest.raises(AwsCallFailed) as raised:
            start_execution(client, request.as_api_params(), RetryPolicy(sleep=lambda _: None))
    return str(raised.value)


def _manual_start(prepare: Callable[[boto3.Session], None], key: str = KEY) -> str:
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        prepare(session)
        err = io.StringIO()
        arguments = argparse.Namespace(
            key=key, version=None, dry_run=True, stack_name=STACK, function_name=None, region=REGION
        )
        start_pipeline.run(arguments, session, environ={}, out=io.StringIO(), err=err)
    return err.getvalue()


def _deployed_then(change: Callable[[boto3.Session], None]) -> Callable[[boto3.Session], None]:
    def prepare(session: boto3.Session) -> None:
        deploy(session, FUNCTION_ENV)
        change(session)

    return prepare


def _adopter_access_denied() -> str:
    client = boto3.client("s3", region_name=REGION)
    with Stubber(client) as stub:
        stub.add_client_error("get_bucket_notification_configuration", "AccessDenied", "Access Denied", 403)
        with pytest.raises(BucketCallFailed) as raised:
            BucketNotifications(client).read(Target("someone-elses-bucket"))
    return str(raised.value)


def _no_credentials() -> str:
    location = StackLocation(STACK, "samconfig.toml [default]", REGION, "samconfig.toml [default]", None)
    return f"Cannot start: {explain(NoCredentialsError(), location)}"


def _deploy_refused(folder: Path) -> str:
    samconfig = project_with_samconfig(folder)
    defaults = {name: str(spec.get("Default", "")) for name, spec in template_checks()[0].items()}
    save_as_guided(samconfig, stack_name=STACK, region=REGION, parameters=defaults | {"SourceBucketName": BUCKET})
    err = io.StringIO()
    make_deploy.deploy(guided=False, samconfig=samconfig, run=_never_run, out=io.StringIO(), err=err)
    return err.getvalue()


def _never_run(*_: object, **__: object) -> subprocess.CompletedProcess[str]:
    raise AssertionError("sam must not run when the saved answers break the template's rules")


def _invoke_typo() -> str:
    finished = subprocess.run(
        [sys.executable, "-m", "local.invoke", "put-objct"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return finished.stderr


def _emulator_silent(folder: Path) -> str:
    # SAM's Lambda service answering nothing, as when the container gave no response (stand-in SAM CLI).
    return fake_sam_cli.make_invoke(fake_sam_cli.install(folder / "bin"), "put-object", answer="").stderr


def _redrive(arrange: Callable[[DeadLetterStack], list[str]], *, trigger_queue: bool = True) -> str:
    """`make redrive` against the README's stack on moto, after `arrange` kept messages and chose the arguments."""
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        stack = DeadLetterStack(session, trigger_queue=trigger_queue)
        argv = arrange(stack)
        out, err = io.StringIO(), io.StringIO()
        redrive.main(["--wait", "0", *argv], session_factory=lambda: session, out=out, err=err)
    return out.getvalue() + err.getvalue()


def _unknown_shape(stack: DeadLetterStack) -> list[str]:
    stack.failed_every_receive(event("e-1"))
    stack.sqs.send_message(QueueUrl=stack.failed_start, MessageBody="garbage")
    return ["--apply"]


def _send_refused(stack: DeadLetterStack) -> list[str]:
    stack.undeliverable(event("e-1"))
    return ["--apply", "--trigger-queue-url", stack.trigger + "-gone"]


def _producers(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> dict[str, Callable[[], str]]:
    """README quote (its first fragment) -> what really prints it."""
    return {
        "SettingsError: ROUTES is not set; the template sets it, or pass it with --env-vars": _missing_routes,
        "is not in ALLOWED_PIPELINES": _route_outside_allowed,
        "Ignored event": lambda: _function_log("other-key.json", capsys),
        "reason_code": lambda: _superseded(capsys),
        "customer_key_encrypted": lambda: _customer_key_object(capsys),
        "ROUTES[1].key 'site/*.tar.gz' can never match: the rule only passes keys matching RoutesKeyFilter": (
            _route_outside_key_filter
        ),
        "Pipeline variables left out: their value is longer than CodePipeline's 1000 characters": lambda: (
            _over_long_variable(capsys)
        ),
        "HeadObject(s3://my-artifact-bucket/my-website.zip) failed, so its current version is unknown: AccessDenied": (
            _version_check_denied
        ),
        "Object event has no version-id: starting without a version pin": lambda: _function_log(
            "put-object-unversioned.json", capsys, DRY_RUN="true"
        ),
        "malformed S3 event: detail.object.key must be a non-empty string, got nothing": _malformed,
        "StartPipelineExecution(my-website-pipeline) failed with PipelineNotFoundException (permanent, 1 attempt(s))": (
            lambda: _start_failure("PipelineNotFoundException", 1)
        ),
        "failed with AccessDeniedException (permanent": lambda: _start_failure("AccessDeniedException", 1),
        "failed with ThrottlingException (transient, 4 attempt(s))": lambda: _start_failure("ThrottlingException", 4),
        "Cannot start: stack 's3-pipeline-trigger' does not exist in eu-west-1": lambda: _manual_start(lambda _: None),
        "Cannot start: key 'notes.txt' matches no route of the function": lambda: _manual_start(
            _deployed_then(lambda s: s.client("s3").put_object(Bucket=BUCKET, Key="notes.txt", Body=b"x")),
            key="notes.txt",
        ),
        "is deleted (its newest version is a delete marker); pass VERSION=": lambda: _manual_start(
            _deployed_then(lambda s: s.client("s3").delete_object(Bucket=BUCKET, Key=KEY))
        ),
        "GetBucketNotificationConfiguration on bucket": _adopter_access_denied,
        "Cannot start: no usable AWS credentials (Unable to locate credentials)": _no_credentials,
        "Not deployed: samconfig.toml [default] says rule PipelineNameOrRoutes: Set PipelineName": lambda: (
            _deploy_refused(tmp_path)
        ),
        "Cannot redrive: stack 's3-pipeline-trigger' has no output TriggerQueueUrl": lambda: _redrive(
            lambda _: ["--apply"], trigger_queue=False
        ),
        "failed-start: no move task started: 1 message(s) of unknown shape would be moved with the events": lambda: (
            _redrive(_unknown_shape)
        ),
        "kept: send failed: SendMessage:": lambda: _redrive(_send_refused),
        "make invoke: no event file 'put-objct' here or in events/: did you mean put-object?": _invoke_typo,
        "make invoke: no result: SAM's emulator answered the invoke with nothing": lambda: _emulator_silent(tmp_path),
    }


def test_the_table_quotes_something() -> None:
    assert len(QUOTED_ROWS) >= 10


@pytest.mark.parametrize("quotes", QUOTED_ROWS, ids=[row[0][:40] for row in QUOTED_ROWS])
def test_each_quoted_message_is_printed_by_the_code(
    quotes: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    producers = _producers(capsys, tmp_path)
    assert quotes[0] in producers, f"no producer for the README's quote {quotes[0]!r}"

    printed = producers[quotes[0]]()

    for quote in quotes:
        assert quote in printed, f"{quote!r} not in {printed!r}"
