"""`make migrate` against moto: scan, plan, apply and undo on an account the console and older tools left.

moto models every call the command makes (CodePipeline, EventBridge, CloudTrail, S3, CloudFormation, Lambda),
except that GetBucketNotificationConfiguration leaves out EventBridgeConfiguration: `read_back_eventbridge`
adds it from moto's own record of the bucket. Exact requests and AWS errors moto does not raise (AccessDenied)
go through botocore's Stubber.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from samcli.cli.types import CfnParameterOverridesType

from local.moto_path import function_environment
from local.sam_transform import transformed
from ops import migrate
from ops.migration.account import AwsAccount
from ops.migration.pipelines import comparable, differences, s3_sources
from ops.parameter_checks import parameter_problems
from ops.template_model import deployed
from support.console_account import (
    CODEPIPELINE_TRUST,
    CONSOLE,
    CONSOLE_RULE,
    MIGRATED,
    POLLING,
    REGION,
    TWO_SOURCES,
    Source,
    add_console_rule,
    build_console_account,
    create_pipeline,
    deploy_trigger_stack,
    read_back_eventbridge,
)
from trigger_fn.routing import matching_routes
from trigger_fn.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "aws_session_token": "testing"}


@dataclass
class Account:
    session: boto3.Session
    aws: AwsAccount
    undo_dir: Path

    def run(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        args = migrate.parser().parse_args([*argv, "--undo-dir", str(self.undo_dir)])
        code = migrate.run(args, self.aws, out, err)
        return code, out.getvalue(), err.getvalue()

    def plan(self, pipeline: str) -> dict[str, Any]:
        code, out, err = self.run("--pipeline", pipeline, "--json")
        assert code == 0, err
        document: dict[str, Any] = json.loads(out)
        return document

    def pipeline(self, name: str) -> dict[str, Any]:
        structure: dict[str, Any] = self.session.client("codepipeline").get_pipeline(name=name)["pipeline"]
        return structure

    def rule_state(self, name: str) -> str:
        state: str = self.session.client("events").describe_rule(Name=name)["State"]
        return state

    def deploy_plan(self, pipeline: str, *, eventbridge: bool = True) -> None:
        """What `sam deploy --config-env ENV` of the plan's environment leaves in the account."""
        for planned in self.plan(pipeline)["deployments"]:
            parameters = samconfig_parameters(planned["samconfig"], planned["stackName"])
            deploy_trigger_stack(self.session, planned["stackName"], f"{planned['stackName']}-trigger", parameters)
            if eventbridge:
                # What the stack's bucket adopter does on create.
                self.session.client("s3").put_bucket_notification_configuration(
                    Bucket=planned["bucket"], NotificationConfiguration={"EventBridgeConfiguration": {}}
                )

    def undo_records(self) -> list[Path]:
        return sorted(self.undo_dir.glob("*.json")) if self.undo_dir.exists() else []


def samconfig_parameters(samconfig_text: str, environment: str) -> dict[str, str]:
    """The parameter overrides of an environment exactly as `sam deploy --config-env` reads them."""
    deploy = tomllib.loads(samconfig_text)[environment]["deploy"]["parameters"]
    parameters: dict[str, str] = CfnParameterOverridesType().convert(deploy["parameter_overrides"], None, None)
    return parameters


@pytest.fixture
def account(tmp_path: Path) -> Iterator[Account]:
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        build_console_account(session)
        aws = AwsAccount.from_session(session)
        read_back_eventbridge(aws.s3)
        yield Account(session, aws, tmp_path / "undo")


# ---------------------------------------------------------------- scan


def test_scan_classifies_each_pipeline(account: Account) -> None:
    code, out, err = account.run("--json")

    assert code == 0, err
    found = {p["name"]: p for p in json.loads(out)["pipelines"]}
    assert {name: p["state"] for name, p in found.items()} == {
        CONSOLE: "to migrate",
        MIGRATED: "migrated",
        POLLING: "to migrate",
        TWO_SOURCES: "to migrate",
    }
    assert {name: [s["startedBy"] for s in p["sources"]] for name, p in found.items()} == {
        CONSOLE: [[f"CloudTrail rule {CONSOLE_RULE}"]],
        MIGRATED: [["trigger stack s3-pipeline-trigger"]],
        POLLING: [["polling"]],
        TWO_SOURCES: [["polling"], ["polling"]],
    }
    [console_source] = found[CONSOLE]["sources"]
    assert console_source["trails"] == [
        {"trail": "console-source-trail", "selector": "arn:aws:s3:::console-artifacts/release.zip", "logging": True}
    ]
    assert console_source["bucketFacts"] == {"eventBridge": False, "versioning": "Enabled", "problem": None}
    assert found[MIGRATED]["sources"][0]["bucketFacts"]["eventBridge"] is True


def test_scan_skips_pipelines_without_an_s3_source_and_notes_other_rules(account: Account) -> None:
    create_github_pipeline(account.session, "github-pipeline")
    arn = account.session.client("codepipeline").get_pipeline(name=POLLING)["metadata"]["pipelineArn"]
    events = account.session.client("events")
    events.put_rule(Name="nightly", ScheduleExpression="cron(0 3 * * ? *)")
    events.put_targets(Rule="nightly", Targets=[{"Id": "p", "Arn": arn}])

    code, out, _ = account.run()

    assert code == 0
    assert "github-pipeline" not in out
    assert "note: polling-pipeline is also the target of rule nightly (not CloudTrail S3; left alone)" in out


def test_a_pipeline_deleted_during_the_scan_is_left_out(account: Account) -> None:
    account.aws.codepipeline = DeletedAfterListing(account.session, POLLING)

    code, out, err = account.run("--json")

    assert code == 0, err
    assert [p["name"] for p in json.loads(out)["pipelines"]] == [CONSOLE, MIGRATED, TWO_SOURCES]


# ---------------------------------------------------------------- plan


@pytest.mark.parametrize("pipeline", [CONSOLE, POLLING, MIGRATED, TWO_SOURCES])
def test_the_planned_environment_passes_the_templates_checks_and_covers_every_source(
    account: Account, pipeline: str
) -> None:
    sources = s3_sources(account.pipeline(pipeline))
    [planned] = account.plan(pipeline)["deployments"]

    parameters = samconfig_parameters(planned["samconfig"], planned["stackName"])

    assert parameter_problems(parameters, complete=True) == []
    assert parameters["CreateSourceBucket"] == "false"
    settings = load_settings(function_environment(parameters))
    for source in sources:
        assert settings.source_bucket == source.bucket
        [route] = [r for r in matching_routes(settings.routes, source.key) if r.pipeline == pipeline]
        assert route.source_action == source.action
    # Adopting: no bucket created, EventBridge turned on through the custom resource.
    resources = deployed(transformed(), parameters)["Resources"]
    assert "SourceBucket" not in resources
    assert resources["SourceBucketEventBridge"]["Properties"]["BucketName"] == sources[0].bucket


def test_two_sources_on_one_bucket_are_two_routes_of_one_stack(account: Account) -> None:
    [planned] = account.plan(TWO_SOURCES)["deployments"]

    parameters = samconfig_parameters(planned["samconfig"], planned["stackName"])

    assert json.loads(parameters["Routes"]) == [
        {"key": "app.zip", "pipeline": TWO_SOURCES, "sourceAction": "App"},
        {"key": "config/settings.zip", "pipeline": TWO_SOURCES, "sourceAction": "Config"},
    ]
    assert parameters["RoutedPipelines"] == TWO_SOURCES
    assert parameters["RoutesKeyFilter"] == "*.zip"


def test_a_second_pipeline_on_a_served_bucket_joins_its_stack(account: Account) -> None:
    create_pipeline(account.session, "docs-pipeline", [Source("my-artifact-bucket", "docs.zip")])

    [planned] = account.plan("docs-pipeline")["deployments"]

    parameters = samconfig_parameters(planned["samconfig"], planned["stackName"])
    assert planned["stackName"] == planned["existingStack"] == "s3-pipeline-trigger"
    assert json.loads(parameters["Routes"]) == [
        {"key": "my-website.zip", "pipeline": MIGRATED},
        {"key": "docs.zip", "pipeline": "docs-pipeline"},
    ]
    assert parameter_problems(parameters, complete=True) == []


def test_plan_reads_nothing_it_should_not_and_changes_nothing(account: Account) -> None:
    before = {name: comparable(account.pipeline(name)) for name in (CONSOLE, POLLING, TWO_SOURCES)}

    for name in before:
        account.plan(name)

    assert {name: comparable(account.pipeline(name)) for name in before} == before
    assert account.rule_state(CONSOLE_RULE) == "ENABLED"


# ---------------------------------------------------------------- apply and undo


def test_apply_refuses_without_the_stack_and_changes_nothing(account: Account) -> None:
    before = account.pipeline(POLLING)

    code, out, err = account.run("--pipeline", POLLING, "--apply")

    assert code == 2
    assert out == ""
    assert err == (
        "make migrate: apply refused for polling-pipeline: no deployed trigger stack covers Source "
        "(s3://legacy-artifacts/app.zip): deploy the plan's stack first (make migrate PIPELINE=polling-pipeline)\n"
    )
    assert account.pipeline(POLLING) == before
    assert account.undo_records() == []


def test_apply_refuses_while_the_buckets_eventbridge_is_off(account: Account) -> None:
    account.deploy_plan(CONSOLE, eventbridge=False)

    code, _, err = account.run("--pipeline", CONSOLE, "--apply")

    assert code == 2
    assert "s3://console-artifacts has EventBridge notifications off" in err
    assert account.rule_state(CONSOLE_RULE) == "ENABLED"


def test_console_pipeline_apply_disables_its_rule_and_undo_enables_it(account: Account) -> None:
    before = comparable(account.pipeline(CONSOLE))
    digest = account.plan(CONSOLE)["digest"][:16]
    account.deploy_plan(CONSOLE)

    code, out, err = account.run("--pipeline", CONSOLE, "--apply", "--expect-digest", digest)

    assert code == 0, err
    [record] = account.undo_records()
    assert out.splitlines() == [
        f"Undo record: {record}",
        f"rule {CONSOLE_RULE}: disabled (not deleted)",
        "trail console-source-trail unchanged: selector arn:aws:s3:::console-artifacts/release.zip logs "
        "s3://console-artifacts/release.zip; no enabled CloudTrail rule here uses it any more: delete it yourself "
        "if nothing else needs it",
        f'Undo: make migrate ARGS="--undo {record}"',
    ]
    assert account.rule_state(CONSOLE_RULE) == "DISABLED"
    assert comparable(account.pipeline(CONSOLE)) == before
    assert json.loads(account.run("--json")[1])["pipelines"][0]["state"] == "migrated"

    code, out, err = account.run("--undo", str(record))

    assert code == 0, err
    assert out.splitlines() == [f"rule {CONSOLE_RULE}: enabled again"]
    assert account.rule_state(CONSOLE_RULE) == "ENABLED"
    assert comparable(account.pipeline(CONSOLE)) == before


def test_polling_pipeline_apply_is_idempotent_and_undo_restores_the_structure_exactly(account: Account) -> None:
    before = account.pipeline(POLLING)
    account.deploy_plan(POLLING)

    code, out, err = account.run("--pipeline", POLLING, "--apply")

    assert code == 0, err
    after = account.pipeline(POLLING)
    assert differences(comparable(before), comparable(after)) == [
        "stages[0].actions[0].configuration.PollForSourceChanges"
    ]
    assert after["stages"][0]["actions"][0]["configuration"]["PollForSourceChanges"] == "false"
    assert f"{POLLING}: PollForSourceChanges false on Source" in out.splitlines()

    code, out, err = account.run("--pipeline", POLLING, "--apply")

    assert (code, err) == (0, "")
    assert out == (
        f"Nothing to change: {POLLING} is started only by the trigger (no polling, no enabled CloudTrail rule).\n"
    )
    [record] = account.undo_records()
    assert comparable(account.pipeline(POLLING)) == comparable(after)

    code, out, err = account.run("--undo", str(record))

    assert code == 0, err
    assert comparable(account.pipeline(POLLING)) == comparable(before)
    assert account.run("--undo", str(record))[1] == (
        f"Nothing to undo: {POLLING} and its rules are as they were before apply.\n"
    )


def test_two_source_pipeline_apply_switches_both_sources(account: Account) -> None:
    account.deploy_plan(TWO_SOURCES)

    code, _, err = account.run("--pipeline", TWO_SOURCES, "--apply")

    assert code == 0, err
    assert [source.polling for source in s3_sources(account.pipeline(TWO_SOURCES))] == [False, False]


def test_apply_refuses_a_pipeline_changed_since_the_plan(account: Account) -> None:
    digest = account.plan(CONSOLE)["digest"][:16]
    account.deploy_plan(CONSOLE)
    edit_deploy_bucket(account.session, CONSOLE, "console-pipeline-site-v2")

    code, _, err = account.run("--pipeline", CONSOLE, "--apply", "--expect-digest", digest)

    assert code == 2
    assert err.startswith(f"make migrate: apply refused: pipeline {CONSOLE} changed since the plan (digest ")
    assert account.rule_state(CONSOLE_RULE) == "ENABLED"
    assert account.undo_records() == []


def test_apply_refuses_a_pipeline_changed_between_its_read_and_its_write(account: Account) -> None:
    account.deploy_plan(POLLING)
    account.aws.codepipeline = EditedAfterFirstRead(account.session, POLLING)

    code, _, err = account.run("--pipeline", POLLING, "--apply")

    assert code == 2
    assert err == (
        f"make migrate: apply refused: pipeline {POLLING} changed while apply was reading it; nothing was changed\n"
    )
    assert s3_sources(account.pipeline(POLLING))[0].polling
    assert account.undo_records() == []


def test_undo_refuses_to_overwrite_a_later_change(account: Account) -> None:
    account.deploy_plan(POLLING)
    account.run("--pipeline", POLLING, "--apply")
    [record] = account.undo_records()
    edit_deploy_bucket(account.session, POLLING, "someone-elses-change")

    code, _, err = account.run("--undo", str(record))

    assert code == 2
    assert err == (
        f"make migrate: undo refused: pipeline {POLLING} changed since apply "
        "(stages[1].actions[0].configuration.BucketName); undo would overwrite that\n"
    )
    assert account.pipeline(POLLING)["stages"][1]["actions"][0]["configuration"]["BucketName"] == "someone-elses-change"


def test_a_rule_that_also_targets_something_else_blocks_apply(account: Account) -> None:
    account.deploy_plan(CONSOLE)
    queue = account.session.client("sqs").create_queue(QueueName="audit")["QueueUrl"]
    queue_arn = account.session.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    account.session.client("events").put_targets(
        Rule=CONSOLE_RULE, Targets=[{"Id": "audit", "Arn": queue_arn["Attributes"]["QueueArn"]}]
    )

    code, _, err = account.run("--pipeline", CONSOLE, "--apply")

    assert code == 2
    assert f"rule {CONSOLE_RULE} also targets arn:aws:sqs:eu-west-1:123456789012:audit" in err
    assert account.rule_state(CONSOLE_RULE) == "ENABLED"


def test_the_trail_note_names_another_rule_that_still_relies_on_the_selector(account: Account) -> None:
    other = create_pipeline(account.session, "hotfix-pipeline", [Source("console-artifacts", "release.zip")])
    add_console_rule(account.session, "hotfix-rule", other, "console-artifacts", "release.zip")
    account.deploy_plan(CONSOLE)

    code, out, err = account.run("--pipeline", CONSOLE, "--apply")

    assert code == 0, err
    assert "release.zip; still used by rule(s) hotfix-rule" in out


# ---------------------------------------------------------------- errors a person can act on


def test_a_missing_pipeline(account: Account) -> None:
    assert account.run("--pipeline", "no-such-pipeline") == (
        2,
        "",
        "make migrate: pipeline 'no-such-pipeline' not found in eu-west-1\n",
    )


def test_a_pipeline_without_an_s3_source(account: Account) -> None:
    create_github_pipeline(account.session, "github-pipeline")

    assert account.run("--pipeline", "github-pipeline")[2] == (
        "make migrate: pipeline 'github-pipeline' has no S3 source action "
        "(its source actions: CodeStarSourceConnection)\n"
    )


def test_access_denied_names_the_action_and_the_resource(account: Account) -> None:
    account.aws.codepipeline = boto3.client("codepipeline", region_name=REGION)
    with Stubber(account.aws.codepipeline) as stub:
        stub.add_client_error(
            "get_pipeline", "AccessDeniedException", "not authorized", 400, expected_params={"name": CONSOLE}
        )

        code, _, err = account.run("--pipeline", CONSOLE)

    assert code == 2
    assert err == (
        "make migrate: AccessDenied: codepipeline:GetPipeline on console-pipeline was refused; "
        "allow it for the identity that runs make migrate\n"
    )


def test_a_bucket_of_another_account_is_planned_as_a_central_bucket(account: Account) -> None:
    # S3 refuses a read with ExpectedBucketOwner=this account: the bucket is another account's (or denies us).
    account.aws.s3 = boto3.client("s3", region_name=REGION)
    with Stubber(account.aws.s3) as stub:
        stub.add_client_error(
            "get_bucket_versioning",
            "AccessDenied",
            "Access Denied",
            403,
            expected_params={"Bucket": "legacy-artifacts", "ExpectedBucketOwner": "123456789012"},
        )

        code, out, err = account.run("--pipeline", POLLING)

    assert code == 0, err
    lines = out.splitlines()
    assert (
        "    bucket: AccessDenied: s3:GetBucketVersioning on legacy-artifacts was refused; allow it for the "
        "identity that runs make migrate (or the bucket belongs to another account)"
    ) in lines
    # Not a blocker any more: the trigger stack gets its own bus, the bucket's account the source-account stack.
    assert "Cannot move (apply refuses until this is fixed)" not in lines
    assert '  "SourceBucketAccount=<bucket-owner-account-id>",' in lines
    assert "   a new stack for s3://legacy-artifacts of another account: its own event bus" in lines
    assert (
        "3. In the account that owns s3://legacy-artifacts, the source-account stack (it sends its events here):"
    ) in lines
    assert any(
        line.startswith("   sam build -t source-account.yaml && sam deploy -t source-account.yaml ")
        and "SourceBucketName=legacy-artifacts 'KeyFilter=app.zip'" in line
        for line in lines
    )
    assert any("make cross-account-policies" in line for line in lines)


def test_access_denied_on_trails_stops_the_scan_with_the_action(account: Account) -> None:
    account.aws.cloudtrail = boto3.client("cloudtrail", region_name=REGION)
    with Stubber(account.aws.cloudtrail) as stub:
        stub.add_client_error(
            "describe_trails", "AccessDeniedException", "", 400, expected_params={"includeShadowTrails": True}
        )

        code, _, err = account.run()

    assert code == 2
    assert err.startswith("make migrate: AccessDenied: cloudtrail:DescribeTrails was refused")


# ---------------------------------------------------------------- the command line


def test_the_command_line_scans_and_fails_in_one_line(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    build_console_account(boto3.Session(region_name=REGION, **CREDENTIALS))
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    environment.update(
        {name.upper(): value for name, value in CREDENTIALS.items()},
        AWS_ENDPOINT_URL=moto_server,
        AWS_DEFAULT_REGION=REGION,
        PYTHONPATH="src",
    )

    def command(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ops.migrate", *argv],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    scanned = command()
    missing = command("--pipeline", "no-such-pipeline")

    assert scanned.returncode == 0, scanned.stderr
    assert scanned.stdout.startswith("S3-source pipelines in eu-west-1: 4\n")
    assert (missing.returncode, missing.stdout) == (2, "")
    assert missing.stderr == "make migrate: pipeline 'no-such-pipeline' not found in eu-west-1\n"


def test_make_migrate_passes_pipeline_and_args() -> None:
    finished = subprocess.run(
        ["make", "-n", "migrate", "PIPELINE=console-pipeline", "ARGS=--apply --expect-digest 093a4370ba68b990"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr
    assert '-m ops.migrate --pipeline "console-pipeline" --apply --expect-digest 093a4370ba68b990' in finished.stdout


# ---------------------------------------------------------------- helpers


def create_github_pipeline(session: boto3.Session, name: str) -> None:
    trust = json.dumps(CODEPIPELINE_TRUST)
    role = session.client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    session.client("s3").create_bucket(Bucket=f"{name}-store", CreateBucketConfiguration={"LocationConstraint": REGION})
    code_source = {
        "name": "Code",
        "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeStarSourceConnection", "version": "1"},
        "configuration": {"ConnectionArn": "arn:aws:codeconnections:eu-west-1:123456789012:connection/x"},
        "outputArtifacts": [{"name": "Code"}],
    }
    build = {
        "name": "Build",
        "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
        "configuration": {"ProjectName": "build"},
        "inputArtifacts": [{"name": "Code"}],
    }
    session.client("codepipeline").create_pipeline(
        pipeline={
            "name": name,
            "roleArn": role,
            "artifactStore": {"type": "S3", "location": f"{name}-store"},
            "stages": [{"name": "Source", "actions": [code_source]}, {"name": "Build", "actions": [build]}],
        }
    )


def edit_deploy_bucket(session: boto3.Session, pipeline: str, bucket: str) -> None:
    codepipeline = session.client("codepipeline")
    structure = codepipeline.get_pipeline(name=pipeline)["pipeline"]
    structure["stages"][1]["actions"][0]["configuration"]["BucketName"] = bucket
    codepipeline.update_pipeline(pipeline=structure)


class EditedAfterFirstRead:
    """The real (moto) client; someone edits the pipeline right after apply's first read of it."""

    def __init__(self, session: boto3.Session, pipeline: str) -> None:
        self._client = session.client("codepipeline")
        self._session = session
        self._pipeline = pipeline
        self._reads = 0

    def get_pipeline(self, **params: Any) -> Any:
        response = self._client.get_pipeline(**params)
        self._reads += 1
        if self._reads == 1:
            edit_deploy_bucket(self._session, self._pipeline, "edited-meanwhile")
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class DeletedAfterListing:
    """The real (moto) client; someone deletes a pipeline between the scan's listing and its read."""

    def __init__(self, session: boto3.Session, pipeline: str) -> None:
        self._client = session.client("codepipeline")
        self._pipeline = pipeline

    def get_paginator(self, operation: str) -> Any:
        paginator = self._client.get_paginator(operation)
        if operation == "list_pipelines":
            pages = list(paginator.paginate())
            self._client.delete_pipeline(name=self._pipeline)
            return _Pages(pages)
        return paginator

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class _Pages:
    def __init__(self, pages: list[Any]) -> None:
        self._pages = pages

    def paginate(self, **_: Any) -> list[Any]:
        return self._pages
