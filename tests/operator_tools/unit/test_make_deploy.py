"""`make deploy`: guided the first time, from samconfig.toml afterwards, saved answers checked before any upload,
and the stack name and region kept in one place whichever way it went. SAM CLI itself is a recording stand-in
that, for a guided run, saves the answers with SAM CLI's own writer."""

from __future__ import annotations

import io
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ops import deploy as make_deploy
from ops.parameter_checks import template_checks
from support.guided import project_with_samconfig, save_as_guided, what_sam_reads

SAM = str(make_deploy.SAM)
DEFAULTS = {name: str(spec.get("Default", "")) for name, spec in template_checks()[0].items()}
GOOD_ANSWERS = {"SourceBucketName": "acme-releases", "ObjectKey": "site.zip", "PipelineName": "site-deploy"}


@dataclass
class FakeSam:
    samconfig: Path
    answers: dict[str, str] | None = None
    stack_name: str = "my-release-trigger"
    exit_code: int = 0
    commands: list[list[str]] = field(default_factory=list)

    def __call__(self, command: list[str], *, cwd: Path, check: bool) -> subprocess.CompletedProcess[Any]:
        assert cwd == self.samconfig.parent
        self.commands.append(command)
        if "--guided" in command and self.answers is not None:
            region = command[command.index("--region") + 1] if "--region" in command else "us-east-1"
            env = command[command.index("--config-env") + 1] if "--config-env" in command else "default"
            # Guided asks every parameter; Enter keeps the default, and both are saved.
            answers = DEFAULTS | self.answers
            save_as_guided(
                self.samconfig, stack_name=self.stack_name, region=region, parameters=answers, config_env=env
            )
        return subprocess.CompletedProcess(command, self.exit_code)


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def samconfig(tmp_path: Path) -> Path:
    return project_with_samconfig(tmp_path)


def deploy(samconfig: Path, sam: FakeSam, environ: dict[str, str] | None = None, **options: Any) -> Run:
    out, err = io.StringIO(), io.StringIO()
    options.setdefault("guided", False)
    code = make_deploy.deploy(samconfig=samconfig, run=sam, environ=environ or {}, out=out, err=err, **options)
    return Run(code, out.getvalue(), err.getvalue())


def test_the_first_deploy_is_guided_with_the_users_region_offered(samconfig: Path) -> None:
    sam = FakeSam(samconfig, GOOD_ANSWERS)

    run = deploy(samconfig, sam, {"AWS_DEFAULT_REGION": "ap-southeast-2"})

    assert run.code == 0
    assert sam.commands == [[SAM, "deploy", "--guided", "--region", "ap-southeast-2"]]
    assert run.out.splitlines() == [
        "$ sam deploy --guided --region ap-southeast-2",
        "samconfig.toml: stack_name, region of [default] kept in [default.global.parameters], where sam logs, "
        "sam delete, make start and make redrive read them",
        "samconfig.toml [default]: stack my-release-trigger, region ap-southeast-2",
    ]
    assert what_sam_reads(samconfig, "logs")["stack_name"] == "my-release-trigger"


def test_later_deploys_run_from_samconfig_without_questions(samconfig: Path) -> None:
    deploy(samconfig, FakeSam(samconfig, GOOD_ANSWERS), {"AWS_DEFAULT_REGION": "ap-southeast-2"})
    sam = FakeSam(samconfig)

    run = deploy(samconfig, sam, {"AWS_DEFAULT_REGION": "eu-west-1"})

    assert run.code == 0
    assert sam.commands == [[SAM, "deploy"]]
    assert run.out.splitlines() == [
        "$ sam deploy",
        "samconfig.toml [default]: stack my-release-trigger, region ap-southeast-2",
    ]


def test_guided_again_offers_the_saved_answers_and_region(samconfig: Path) -> None:
    deploy(samconfig, FakeSam(samconfig, GOOD_ANSWERS), {"AWS_DEFAULT_REGION": "ap-southeast-2"})
    sam = FakeSam(samconfig, GOOD_ANSWERS)

    deploy(samconfig, sam, {"AWS_DEFAULT_REGION": "eu-west-1"}, guided=True)

    # No --region: guided's default is the saved one.
    assert sam.commands == [[SAM, "deploy", "--guided"]]


def test_another_config_environment_is_deployed_on_its_own(samconfig: Path) -> None:
    sam = FakeSam(samconfig, GOOD_ANSWERS, stack_name="release-prod")

    run = deploy(samconfig, sam, {"AWS_REGION": "eu-central-1"}, config_env="prod")

    assert sam.commands == [[SAM, "deploy", "--guided", "--region", "eu-central-1", "--config-env", "prod"]]
    assert run.out.splitlines()[-1] == "samconfig.toml [prod]: stack release-prod, region eu-central-1"
    assert what_sam_reads(samconfig, "logs", "prod")["stack_name"] == "release-prod"
    assert what_sam_reads(samconfig, "logs")["stack_name"] == "s3-pipeline-trigger"


def test_saved_answers_that_break_the_templates_rules_are_refused_before_sam_runs(samconfig: Path) -> None:
    save_as_guided(samconfig, stack_name="s", region="us-east-1", parameters=GOOD_ANSWERS | {"PipelineName": ""})
    sam = FakeSam(samconfig)

    run = deploy(samconfig, sam)

    assert run.code == 2
    assert sam.commands == []
    assert run.err == (
        "Not deployed: samconfig.toml [default] says rule PipelineNameOrRoutes: Set PipelineName (or give Routes and "
        "RoutedPipelines). Answer again with `make deploy GUIDED=1` (your answers are the defaults), or edit "
        "samconfig.toml.\n"
    )


def test_a_saved_value_outside_its_constraint_is_named_in_the_templates_words(samconfig: Path) -> None:
    save_as_guided(samconfig, stack_name="s", region="us-east-1", parameters=GOOD_ANSWERS | {"AlarmEmail": "ops"})

    run = deploy(samconfig, FakeSam(samconfig))

    assert run.code == 2
    assert "AlarmEmail='ops': must be empty, or one e-mail address such as ops@example.com" in run.err


def test_a_failed_guided_run_with_a_blank_answer_says_which_and_how_to_answer_again(samconfig: Path) -> None:
    sam = FakeSam(samconfig, GOOD_ANSWERS | {"ObjectKey": ""}, exit_code=1)

    run = deploy(samconfig, sam, {"AWS_DEFAULT_REGION": "us-east-1"})

    assert run.code == 1
    assert run.err.startswith(
        "Not deployed: samconfig.toml [default] says rule ObjectKeyOrRoutes: Set ObjectKey, the key (or * wildcard) "
        "whose uploads start PipelineName"
    )
    # The stack name and region are still kept where every command reads them.
    assert what_sam_reads(samconfig, "logs")["stack_name"] == "my-release-trigger"


def test_a_guided_run_saving_nothing_leaves_the_next_run_guided(samconfig: Path) -> None:
    deploy(samconfig, FakeSam(samconfig, answers=None), {"AWS_DEFAULT_REGION": "us-east-1"})
    sam = FakeSam(samconfig)

    deploy(samconfig, sam, {"AWS_DEFAULT_REGION": "us-east-1"})

    assert sam.commands == [[SAM, "deploy", "--guided", "--region", "us-east-1"]]


def test_an_environment_without_a_region_deploys_to_the_users_and_records_it(samconfig: Path) -> None:
    # GIVEN a hand-written environment with answers but no region (as the README's [prod] example)
    with samconfig.open("a", encoding="utf-8") as config:
        config.write(
            '\n[prod.deploy.parameters]\nstack_name = "release-triggers"\n'
            'parameter_overrides = ["SourceBucketName=acme-releases", "ObjectKey=site.zip", "PipelineName=site"]\n'
        )
    sam = FakeSam(samconfig)

    # WHEN it is deployed from a shell whose region is eu-central-1
    run = deploy(samconfig, sam, {"AWS_DEFAULT_REGION": "eu-central-1"}, config_env="prod")

    # THEN sam deploys there, and every command finds the stack there afterwards, whatever the shell says
    assert sam.commands == [[SAM, "deploy", "--region", "eu-central-1", "--config-env", "prod"]]
    assert run.out.splitlines()[-1] == "samconfig.toml [prod]: stack release-triggers, region eu-central-1"
    for command in ("deploy", "logs", "delete"):
        read = what_sam_reads(samconfig, command, "prod")
        assert (read["stack_name"], read["region"]) == ("release-triggers", "eu-central-1"), command
