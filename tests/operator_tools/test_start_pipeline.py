"""`make start`: the deployed function's settings read from moto, the exact request recorded and compared
with what the function's own decision code makes of the matching S3 event."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.aws_models.codepipeline import FakeCodePipeline, client_error
from local.example_pipeline import create_s3_source_pipeline
from ops import stack as deployed_stack
from ops import start as start_pipeline
from support.deployed_stack import BUCKET, FUNCTION, FUNCTION_ENV, KEY, PIPELINE, REGION, STACK, deploy
from support.environment import one_route, several_routes
from support.events import load_event
from trigger_fn.clients import AwsClients
from trigger_fn.plan import Start, plan
from trigger_fn.retries import RetryPolicy
from trigger_fn.s3_event import S3ObjectCreated
from trigger_fn.settings import load_settings
from trigger_fn.tokens import request_token, rollback_token
from trigger_fn.trigger import handle_event

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Deployed:
    session: boto3.Session
    s3: Any
    codepipeline: FakeCodePipeline
    versions: list[str]


@pytest.fixture
def deployed(request: pytest.FixtureRequest) -> Iterator[Deployed]:
    environment = {**FUNCTION_ENV, **getattr(request, "param", {})}
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        versions = deploy(session, environment)
        yield Deployed(session, session.client("s3"), FakeCodePipeline.over(session.client("codepipeline")), versions)


def args(key: str = KEY, version: str | None = None, *, dry_run: bool = False, **more: Any) -> argparse.Namespace:
    defaults = {"stack_name": STACK, "function_name": None, "region": REGION}
    return argparse.Namespace(key=key, version=version, dry_run=dry_run, **{**defaults, **more})


def start(
    deployed: Deployed, arguments: argparse.Namespace, *, codepipeline: Any = None, **run_options: Any
) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = start_pipeline.run(
        arguments,
        deployed.session,
        codepipeline=codepipeline or deployed.codepipeline,
        environ={},
        out=out,
        err=err,
        **run_options,
    )
    return code, out.getvalue(), err.getvalue()


def functions_own_requests(environment: dict[str, str], key: str, version_id: str) -> list[dict[str, Any]]:
    """What the deployed function's decision code sends for the S3 event of this object version."""
    event = load_event("put-object.json")
    event["detail"]["object"].update({"key": key, "version-id": version_id})
    decision = plan(event, load_settings(environment))
    assert isinstance(decision, Start)
    return [request.as_api_params() for request in decision.requests]


def test_starts_the_newest_version_with_the_functions_exact_request(deployed: Deployed) -> None:
    newest = deployed.versions[-1]

    code, out, err = start(deployed, args())

    assert code == start_pipeline.EXIT_OK, err
    [sent] = deployed.codepipeline.requests
    assert [sent] == functions_own_requests(FUNCTION_ENV, KEY, newest)
    assert sent["sourceRevisions"] == [
        {"actionName": "Source", "revisionType": "S3_OBJECT_VERSION_ID", "revisionValue": newest}
    ]
    upload = S3ObjectCreated("any-event", BUCKET, KEY, newest, None, None, None, None)
    assert sent["clientRequestToken"] == request_token(PIPELINE, upload)
    # The execution id printed is one moto started.
    execution_id = out.split("pipelineExecutionId: ")[1].strip()
    execution = deployed.session.client("codepipeline").get_pipeline_execution(
        pipelineName=PIPELINE, pipelineExecutionId=execution_id
    )
    assert execution["pipelineExecution"]["pipelineExecutionId"] == execution_id
    assert json.dumps(sent, indent=2) in out


def test_an_older_version_is_started_as_asked_with_a_plain_rollback_warning(deployed: Deployed) -> None:
    oldest, newest = deployed.versions

    code, _, err = start(deployed, args(version=oldest))

    assert code == start_pipeline.EXIT_OK, err
    [sent] = deployed.codepipeline.requests
    [functions] = functions_own_requests(FUNCTION_ENV, KEY, oldest)
    # The function's request to the letter, but for the token: a rollback has one of its own.
    assert {**sent, "clientRequestToken": None} == {**functions, "clientRequestToken": None}
    assert sent["clientRequestToken"] != functions["clientRequestToken"]
    assert f"Rollback: version {oldest} is not the current version of s3://{BUCKET}/{KEY} ({newest} is)" in err


def test_the_current_version_given_explicitly_gets_no_warning(deployed: Deployed) -> None:
    code, _, err = start(deployed, args(version=deployed.versions[-1]))

    assert code == start_pipeline.EXIT_OK, err
    assert "Rollback" not in err


def test_a_version_of_a_deleted_key_warns_before_sending(deployed: Deployed) -> None:
    oldest = deployed.versions[0]
    deployed.s3.delete_object(Bucket=BUCKET, Key=KEY)

    code, _, err = start(deployed, args(version=oldest))

    assert code == start_pipeline.EXIT_OK, err
    assert f"Rollback: s3://{BUCKET}/{KEY} has no current version (deleted)" in err
    assert len(deployed.codepipeline.requests) == 1


def test_dry_run_prints_the_request_and_sends_nothing(deployed: Deployed) -> None:
    code, out, err = start(deployed, args(dry_run=True))

    assert code == start_pipeline.EXIT_OK, err
    assert deployed.codepipeline.requests == []
    [expected] = functions_own_requests(FUNCTION_ENV, KEY, deployed.versions[-1])
    assert json.dumps(expected, indent=2) in out
    assert "Dry run: not sent." in out


@pytest.mark.parametrize("deployed", [{"DRY_RUN": "true"}], indirect=True, ids=["function-dry-run"])
def test_a_function_in_dry_run_mode_makes_the_manual_start_a_dry_run_too(deployed: Deployed) -> None:
    code, _, err = start(deployed, args())

    assert code == start_pipeline.EXIT_OK
    assert deployed.codepipeline.requests == []
    assert "DRY_RUN=true" in err


ROUTES = [
    {"key": "*.zip", "pipeline": PIPELINE, "overrideKey": True, "variables": {"ARTIFACT_VERSION": "version"}},
    {"key": "my-*", "pipeline": "audit", "sourceAction": "Fetch"},
    {"key": "docs/*", "pipeline": "docs"},
]


@pytest.mark.parametrize("deployed", [several_routes(ROUTES)], indirect=True, ids=["routes"])
def test_every_matching_route_gets_the_functions_request(deployed: Deployed) -> None:
    create_s3_source_pipeline(
        codepipeline=deployed.session.client("codepipeline"),
        iam=deployed.session.client("iam"),
        s3=deployed.s3,
        name="audit",
        source_bucket=BUCKET,
        object_key=KEY,
        source_action="Fetch",
    )

    code, _, err = start(deployed, args())

    assert code == start_pipeline.EXIT_OK, err
    expected = functions_own_requests({**FUNCTION_ENV, **several_routes(ROUTES)}, KEY, deployed.versions[-1])
    assert deployed.codepipeline.requests == expected
    assert [request["name"] for request in expected] == [PIPELINE, "audit"]


# Two routes name the same pipeline (the first wins), one overrides the key, variables from every fact both know.
AGREEMENT_ROUTES = [
    {
        "key": "*.zip",
        "pipeline": PIPELINE,
        "overrideKey": True,
        "variables": {"V": "version", "K": "key", "E": "etag", "S": "size", "B": "bucket"},
    },
    {"key": "my-*", "pipeline": PIPELINE},
    {"key": "my-*", "pipeline": "audit", "sourceAction": "Fetch"},
]


def _aws_event_for(s3: Any, key: str) -> dict[str, Any]:
    """The Object Created event AWS sends for the key's newest object: its version (if any), ETag and size."""
    head = s3.head_object(Bucket=BUCKET, Key=key)
    event = load_event("put-object.json")
    detail_object = event["detail"]["object"]
    detail_object.update({"key": key, "etag": head["ETag"].strip('"'), "size": head["ContentLength"]})
    if head.get("VersionId") in (None, "null"):
        del detail_object["version-id"]
    else:
        detail_object["version-id"] = head["VersionId"]
    return event


@pytest.mark.parametrize("versioned", [True, False], ids=["versioned", "unversioned"])
@pytest.mark.parametrize(
    "environment",
    [
        FUNCTION_ENV,
        {**FUNCTION_ENV, **one_route(KEY, PIPELINE, sourceAction="Source", overrideKey=True)},
        {**FUNCTION_ENV, **several_routes(AGREEMENT_ROUTES)},
    ],
    ids=["one-route", "key-override", "duplicate-pipeline-routes-with-variables"],
)
def test_make_start_and_the_function_send_identical_requests(environment: dict[str, str], versioned: bool) -> None:
    with mock_aws():
        # GIVEN a deployed stack and an object in its bucket
        session = boto3.Session(region_name=REGION)
        deploy(session, environment, versioned=versioned)
        create_s3_source_pipeline(
            codepipeline=session.client("codepipeline"),
            iam=session.client("iam"),
            s3=session.client("s3"),
            name="audit",
            source_bucket=BUCKET,
            object_key=KEY,
            source_action="Fetch",
        )
        by_hand = Deployed(session, session.client("s3"), FakeCodePipeline.over(session.client("codepipeline")), [])
        by_function = FakeCodePipeline.over(session.client("codepipeline"))

        # WHEN a person starts it by hand, and the function handles the object's own S3 event
        code, _, err = start(by_hand, args())
        result = handle_event(
            _aws_event_for(by_hand.s3, KEY),
            load_settings(environment),
            AwsClients(by_function, retry=RetryPolicy(sleep=lambda _: None)),  # type: ignore[arg-type]
        )

    # THEN both sent the same requests, to the letter, tokens included
    assert code == start_pipeline.EXIT_OK, err
    assert result["status"] == "started"
    assert by_hand.codepipeline.requests == by_function.requests
    assert len({request["name"] for request in by_function.requests}) == len(by_function.requests)


def test_a_key_no_route_matches_starts_nothing(deployed: Deployed) -> None:
    deployed.s3.put_object(Bucket=BUCKET, Key="notes.txt", Body=b"x")

    code, _, err = start(deployed, args(key="notes.txt"))

    assert code == start_pipeline.EXIT_CANNOT_START
    assert "key 'notes.txt' matches no route of the function (routes: my-website.zip)" in err
    assert deployed.codepipeline.requests == []


def test_a_missing_object_or_version_starts_nothing(deployed: Deployed) -> None:
    code, _, err = start(deployed, args(version="no-such-version"))
    assert code == start_pipeline.EXIT_CANNOT_START
    assert f"s3://{BUCKET}/{KEY} version no-such-version does not exist" in err

    deployed.s3.delete_object(Bucket=BUCKET, Key=KEY)
    code, _, err = start(deployed, args())
    assert code == start_pipeline.EXIT_CANNOT_START
    assert "is deleted (its newest version is a delete marker); pass VERSION=" in err

    assert deployed.codepipeline.requests == []


def test_a_stack_without_the_function_output_is_refused(deployed: Deployed) -> None:
    deployed.session.client("cloudformation").create_stack(
        StackName="someone-elses-stack", TemplateBody=json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})
    )

    code, _, err = start(deployed, args(stack_name="someone-elses-stack"))

    assert code == start_pipeline.EXIT_CANNOT_START
    assert "has no output TriggerFunctionName" in err


def test_a_function_name_skips_the_stack(deployed: Deployed) -> None:
    code, _, err = start(deployed, args(stack_name="no-such-stack", function_name=FUNCTION))

    assert code == start_pipeline.EXIT_OK, err
    assert len(deployed.codepipeline.requests) == 1


def test_an_unversioned_object_starts_unpinned_with_a_repeatable_token() -> None:
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        deploy(session, FUNCTION_ENV, versioned=False)
        deployed = Deployed(session, session.client("s3"), FakeCodePipeline.over(session.client("codepipeline")), [])

        first = start(deployed, args())
        second = start(deployed, args())

    assert first[0] == second[0] == start_pipeline.EXIT_OK
    assert "has no version id" in first[2]
    once, again = deployed.codepipeline.requests
    assert once["sourceRevisions"] == []
    assert once["clientRequestToken"] == again["clientRequestToken"]


def test_the_functions_codepipeline_endpoint_is_used_unless_yours_is_set() -> None:
    function = start_pipeline.DeployedFunction("f", {"AWS_ENDPOINT_URL_CODEPIPELINE": "http://127.0.0.1:5001"})

    assert start_pipeline.codepipeline_endpoint({}, function) == "http://127.0.0.1:5001"
    assert (
        start_pipeline.codepipeline_endpoint({"AWS_ENDPOINT_URL_CODEPIPELINE": "http://127.0.0.1:6000"}, function)
        == "http://127.0.0.1:6000"
    )
    assert start_pipeline.codepipeline_endpoint({}, start_pipeline.DeployedFunction("f", {})) is None


def test_samconfig_ships_a_stack_name_and_leaves_the_region_to_the_user() -> None:
    assert deployed_stack.default_stack_name() == "s3-pipeline-trigger"
    assert deployed_stack.default_region() is None


# ---------- rollbacks, against CodePipeline's memory of clientRequestTokens (moto has none) ----------


@pytest.fixture
def remembering(deployed: Deployed) -> FakeCodePipeline:
    """The stack's CodePipeline, answering a remembered token with the earlier execution as AWS does."""
    return FakeCodePipeline.over(deployed.session.client("codepipeline"))


def started_by_the_function(codepipeline: FakeCodePipeline, version_id: str) -> str:
    """The function's own start of this version, as it sent it when the version was uploaded."""
    [request] = functions_own_requests(FUNCTION_ENV, KEY, version_id)
    return str(codepipeline.start_pipeline_execution(**request)["pipelineExecutionId"])


def printed_execution_ids(out: str) -> list[str]:
    return re.findall(r"^pipelineExecutionId: (\S+)$", out, flags=re.MULTILINE)


def shown_tokens(out: str) -> list[str]:
    return re.findall(r'"clientRequestToken": "([^"]+)"', out)


def test_a_rollback_to_a_version_the_function_built_starts_a_new_execution(
    deployed: Deployed, remembering: FakeCodePipeline
) -> None:
    # GIVEN the function started v1, then v2 was uploaded and started, both within CodePipeline's token memory
    v1, v2 = deployed.versions
    v1_execution = started_by_the_function(remembering, v1)
    v2_execution = started_by_the_function(remembering, v2)

    # WHEN a person rolls back to v1
    code, out, err = start(deployed, args(version=v1), codepipeline=remembering)

    # THEN a new execution pinned to v1 starts, and its id is the one printed
    assert code == start_pipeline.EXIT_OK, err
    assert f"Rollback: version {v1} is not the current version of s3://{BUCKET}/{KEY} ({v2} is)" in err
    assert remembering.replays == 0
    assert remembering.started_versions() == [(PIPELINE, v1), (PIPELINE, v2), (PIPELINE, v1)]
    rollback = remembering.executions[-1]
    assert printed_execution_ids(out) == [rollback.execution_id]
    assert rollback.execution_id not in (v1_execution, v2_execution)
    assert rollback.params["clientRequestToken"].startswith("rollback-")


def test_running_the_same_rollback_twice_starts_two_executions(
    deployed: Deployed, remembering: FakeCodePipeline
) -> None:
    v1, v2 = deployed.versions
    started_by_the_function(remembering, v1)
    started_by_the_function(remembering, v2)

    first = start(deployed, args(version=v1), codepipeline=remembering)
    second = start(deployed, args(version=v1), codepipeline=remembering)

    # Each run is a deliberate start: a second run is a second rollback, not a repeat of the first.
    assert first[0] == second[0] == start_pipeline.EXIT_OK, first[2] + second[2]
    assert remembering.started_versions() == [(PIPELINE, v1), (PIPELINE, v2), (PIPELINE, v1), (PIPELINE, v1)]
    assert printed_execution_ids(first[1] + second[1]) == [e.execution_id for e in remembering.executions[2:]]


def test_the_rollback_token_is_made_from_the_request_time_even_within_one_second(
    deployed: Deployed, remembering: FakeCodePipeline
) -> None:
    v1 = deployed.versions[0]
    upload = S3ObjectCreated("", BUCKET, KEY, v1, None, None, None, None)

    start(deployed, args(version=v1), codepipeline=remembering, clock=lambda: 1_764_000_000.2)
    start(deployed, args(version=v1), codepipeline=remembering, clock=lambda: 1_764_000_000.7)

    assert [request["clientRequestToken"] for request in remembering.requests] == [
        rollback_token(PIPELINE, upload, 1_764_000_000.2),
        rollback_token(PIPELINE, upload, 1_764_000_000.7),
    ]
    assert remembering.started_versions() == [(PIPELINE, v1), (PIPELINE, v1)]


def test_a_rollback_retried_within_one_run_keeps_its_token_and_starts_once(
    deployed: Deployed, remembering: FakeCodePipeline
) -> None:
    v1, v2 = deployed.versions
    started_by_the_function(remembering, v1)
    started_by_the_function(remembering, v2)
    # GIVEN CodePipeline starts the rollback but its answer is lost, so make start sends it again
    remembering.fail_next("started-answer-lost")

    code, out, err = start(deployed, args(version=v1), codepipeline=remembering)

    assert code == start_pipeline.EXIT_OK, err
    attempt, retry = remembering.requests[2:]
    assert attempt == retry
    assert remembering.started_versions() == [(PIPELINE, v1), (PIPELINE, v2), (PIPELINE, v1)]
    assert printed_execution_ids(out) == [remembering.executions[-1].execution_id]


def test_a_version_of_a_deleted_key_is_a_rollback_that_starts_a_new_execution(
    deployed: Deployed, remembering: FakeCodePipeline
) -> None:
    # GIVEN the function built v2, then the key was deleted
    v2 = deployed.versions[-1]
    v2_execution = started_by_the_function(remembering, v2)
    deployed.s3.delete_object(Bucket=BUCKET, Key=KEY)

    code, out, err = start(deployed, args(version=v2), codepipeline=remembering)

    assert code == start_pipeline.EXIT_OK, err
    assert f"Rollback: s3://{BUCKET}/{KEY} has no current version (deleted)" in err
    assert remembering.started_versions() == [(PIPELINE, v2), (PIPELINE, v2)]
    assert printed_execution_ids(out) == [remembering.executions[-1].execution_id]
    assert printed_execution_ids(out) != [v2_execution]


def test_a_dry_run_rollback_shows_its_own_token_and_sends_nothing(
    deployed: Deployed, remembering: FakeCodePipeline
) -> None:
    v1 = deployed.versions[0]
    [functions] = functions_own_requests(FUNCTION_ENV, KEY, v1)

    code, out, err = start(deployed, args(version=v1, dry_run=True), codepipeline=remembering)

    assert code == start_pipeline.EXIT_OK, err
    assert remembering.requests == []
    [shown] = shown_tokens(out)
    assert re.fullmatch(r"rollback-[0-9a-f]{64}", shown)
    assert shown != functions["clientRequestToken"]
    assert "Dry run: not sent." in out


@pytest.mark.parametrize("given", ["no-version", "current-version"])
def test_the_current_version_keeps_the_functions_token_and_starts_nothing_new(
    deployed: Deployed, remembering: FakeCodePipeline, given: str
) -> None:
    # GIVEN the function started v1 and then v2, the key's current version
    v1, v2 = deployed.versions
    started_by_the_function(remembering, v1)
    v2_execution = started_by_the_function(remembering, v2)

    code, out, err = start(deployed, args(version=v2 if given == "current-version" else None), codepipeline=remembering)

    # THEN CodePipeline sees the function's own request again: the same execution, nothing new started
    assert code == start_pipeline.EXIT_OK, err
    assert remembering.requests[-1] == functions_own_requests(FUNCTION_ENV, KEY, v2)[0]
    assert remembering.replays == 1
    assert remembering.started_versions() == [(PIPELINE, v1), (PIPELINE, v2)]
    assert printed_execution_ids(out) == [v2_execution]
    assert "Rollback" not in err


# ---------- the command line, against moto's server through AWS_ENDPOINT_URL ----------


def test_the_command_line_honours_aws_endpoint_url(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "aws_session_token": "testing"}
    # boto3 reads AWS_ENDPOINT_URL when a client is made: the "deployment" below lands in moto's server.
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    session = boto3.Session(region_name=REGION, **credentials)
    versions = deploy(session, FUNCTION_ENV)
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    environment.update(
        {name.upper(): value for name, value in credentials.items()},
        AWS_ENDPOINT_URL=moto_server,
        AWS_DEFAULT_REGION=REGION,
        PYTHONPATH="src",
    )

    finished = subprocess.run(
        [sys.executable, "-m", "ops.start", "--key", KEY, "--stack-name", STACK],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr
    execution_id = finished.stdout.split("pipelineExecutionId: ")[1].strip()
    execution = session.client("codepipeline").get_pipeline_execution(
        pipelineName=PIPELINE, pipelineExecutionId=execution_id
    )
    assert execution["pipelineExecution"]["pipelineExecutionId"] == execution_id
    assert f'"revisionValue": "{versions[-1]}"' in finished.stdout


def test_make_start_passes_key_version_stack_region_and_args() -> None:
    finished = subprocess.run(
        [
            "make",
            "-n",
            "start",
            "KEY=releases/my site.zip",
            "VERSION=3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
            "STACK=prod",
            "REGION=us-east-2",
            "CONFIG_ENV=prod",
            "ARGS=--dry-run",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr
    # Under another make (make test), make -n also prints "Entering directory" lines.
    (line,) = [line for line in finished.stdout.splitlines() if " -m ops.start " in line]
    command = shlex.split(line)
    assert command[command.index("-m") + 1 :] == [
        "ops.start",
        "--key",
        "releases/my site.zip",
        "--version",
        "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
        "--stack-name",
        "prod",
        "--region",
        "us-east-2",
        "--config-env",
        "prod",
        "--dry-run",
    ]


def test_make_start_without_key_says_how_to_use_it() -> None:
    # -n: make stops on the usage error while expanding the recipe, before anything would run.
    finished = subprocess.run(
        ["make", "-n", "start"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )

    assert finished.returncode != 0
    assert "usage: make start KEY=" in finished.stdout + finished.stderr


# A route whose pipeline lives in another account: the function assumes that account's starter role; so does make start.
PIPELINES_ACCOUNT = "777788889999"
STARTER = f"arn:aws:iam::{PIPELINES_ACCOUNT}:role/s3-pipeline-trigger-starter"
CROSS_ACCOUNT = {
    "ROUTES": json.dumps([{"key": "*.zip", "pipeline": PIPELINE, "pipelineAccount": PIPELINES_ACCOUNT}]),
    "PIPELINE_ACCOUNTS": PIPELINES_ACCOUNT,
    "PIPELINE_STARTER_ROLE_NAME": "s3-pipeline-trigger-starter",
    "PARTITION": "aws",
}


@dataclass
class TwoAccounts:
    deployed: Deployed
    # The pipeline of the same name in the pipeline account (the trigger account has one too, which must stay idle).
    pipelines: Any
    assumed: list[dict[str, Any]]


@pytest.fixture
def two_accounts() -> Iterator[TwoAccounts]:
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        versions = deploy(session, FUNCTION_ENV | CROSS_ACCOUNT)
        # moto switches account on the credentials AssumeRole hands out (moto's "Multi-Account support").
        credentials = session.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{PIPELINES_ACCOUNT}:role/test-admin", RoleSessionName="test-setup"
        )["Credentials"]
        pipelines = boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=REGION,
        )
        # Bucket names are global: the pipeline account's artifact store takes the name the trigger account's had.
        session.client("s3").delete_bucket(Bucket=f"{PIPELINE}-artifacts")
        create_s3_source_pipeline(
            codepipeline=pipelines.client("codepipeline"),
            iam=pipelines.client("iam"),
            s3=pipelines.client("s3"),
            name=PIPELINE,
            source_bucket=BUCKET,
            object_key=KEY,
        )
        assumed: list[dict[str, Any]] = []
        session.events.register("provide-client-params.sts.AssumeRole", lambda params, **_: assumed.append(params))
        own = FakeCodePipeline.over(session.client("codepipeline"))
        trigger_account = Deployed(session, session.client("s3"), own, versions)
        yield TwoAccounts(trigger_account, pipelines.client("codepipeline"), assumed)


def executions(codepipeline: Any) -> list[str]:
    summaries = codepipeline.list_pipeline_executions(pipelineName=PIPELINE)["pipelineExecutionSummaries"]
    return [summary["pipelineExecutionId"] for summary in summaries]


def test_a_route_with_a_pipeline_account_starts_there_through_the_starter_role(two_accounts: TwoAccounts) -> None:
    deployed = two_accounts.deployed

    # WHEN make start runs with the caller's own credentials, assuming the role as it would against AWS
    code, out, err = start(deployed, args())

    # THEN it assumed the role the function's environment names, as a person's session
    assert code == start_pipeline.EXIT_OK, err
    assert two_accounts.assumed == [{"RoleArn": STARTER, "RoleSessionName": "s3-pipeline-trigger-make-start"}]
    # AND the execution is in the pipeline account, none in the trigger account
    execution_id = out.split("pipelineExecutionId: ")[1].strip()
    assert executions(two_accounts.pipelines) == [execution_id]
    assert deployed.codepipeline.requests == []
    assert executions(deployed.session.client("codepipeline")) == []
    assert f"StartPipelineExecution for pipeline {PIPELINE} in account {PIPELINES_ACCOUNT}, as {STARTER}:" in out


def test_the_pipeline_accounts_start_is_the_functions_request_pinned_to_the_version(
    two_accounts: TwoAccounts,
) -> None:
    deployed, newest = two_accounts.deployed, two_accounts.deployed.versions[-1]
    # The exact request as the pipeline account receives it (moto keeps no sourceRevisions).
    recorders: dict[str, FakeCodePipeline] = {}

    def assume(role_arn: str) -> FakeCodePipeline:
        real = start_pipeline.assumed_codepipeline(deployed.session, role_arn, None)
        recorders[role_arn] = FakeCodePipeline.over(real)
        return recorders[role_arn]

    code, _, err = start(deployed, args(), assume=assume)

    assert code == start_pipeline.EXIT_OK, err
    (sent,) = recorders[STARTER].requests
    assert [sent] == functions_own_requests(FUNCTION_ENV | CROSS_ACCOUNT, KEY, newest)
    assert sent["sourceRevisions"] == [
        {"actionName": "Source", "revisionType": "S3_OBJECT_VERSION_ID", "revisionValue": newest}
    ]
    upload = S3ObjectCreated("any-event", BUCKET, KEY, newest, None, None, None, None)
    assert sent["clientRequestToken"] == request_token(PIPELINE, upload)
    # The function would assume the same role for the same object.
    event = load_event("put-object.json")
    event["detail"]["object"].update({"key": KEY, "version-id": newest})
    decision = plan(event, load_settings(FUNCTION_ENV | CROSS_ACCOUNT))
    assert isinstance(decision, Start)
    assert [request.role_arn for request in decision.requests] == [STARTER]
    assert executions(two_accounts.pipelines) == [recorders[STARTER].started()[0].execution_id]


def test_a_dry_run_names_the_account_and_role_and_assumes_nothing(two_accounts: TwoAccounts) -> None:
    code, out, err = start(two_accounts.deployed, args(dry_run=True))

    assert code == start_pipeline.EXIT_OK, err
    assert f"StartPipelineExecution for pipeline {PIPELINE} in account {PIPELINES_ACCOUNT}, as {STARTER}:" in out
    assert "Dry run: not sent." in out
    assert two_accounts.assumed == []
    assert executions(two_accounts.pipelines) == []


def test_a_refused_assume_role_starts_nothing_anywhere_and_says_what_is_needed(two_accounts: TwoAccounts) -> None:
    deployed = two_accounts.deployed

    def refused(role_arn: str) -> Any:
        raise client_error("AccessDenied", 403, "AssumeRole", f"not authorized to perform sts:AssumeRole on {role_arn}")

    code, _, err = start(deployed, args(), assume=refused)

    assert code == start_pipeline.EXIT_START_FAILED
    assert err.splitlines() == [
        f"Not started: {PIPELINE}: AssumeRole {STARTER} failed (AccessDenied: not authorized to perform "
        f"sts:AssumeRole on {STARTER}): your AWS identity needs sts:AssumeRole on that role, and the role's trust "
        "policy must name your identity too (pipeline-account.yaml's names the function's role, and yours once its "
        "OperatorRoleArns lists it)"
    ]
    assert deployed.codepipeline.requests == []
    assert executions(two_accounts.pipelines) == []
    assert executions(deployed.session.client("codepipeline")) == []
