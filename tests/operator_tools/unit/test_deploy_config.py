"""One place for the stack name and region: what `sam deploy --guided` writes (SAM CLI's own writer), what each
SAM command then reads (SAM CLI's own reader), and what `make deploy` moves so that they all agree."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from ops.deploy_config import ConfigError, promote_to_global, read_target
from support.guided import project_with_samconfig, save_as_guided, what_sam_reads

ANSWERS = {"SourceBucketName": "acme-releases", "ObjectKey": "site.zip", "PipelineName": "site-deploy"}
COMMANDS = ("deploy", "logs", "delete", "sync")


@pytest.fixture
def samconfig(tmp_path: Path) -> Path:
    return project_with_samconfig(tmp_path)


def test_the_shipped_config_names_the_stack_and_leaves_the_region_to_the_user(samconfig: Path) -> None:
    target = read_target(samconfig)

    assert (target.stack_name, target.region, target.parameters) == ("s3-pipeline-trigger", None, {})


def test_guided_alone_leaves_a_new_stack_name_where_only_sam_deploy_looks(samconfig: Path) -> None:
    # GIVEN a guided run where the user named the stack and chose a region
    save_as_guided(samconfig, stack_name="my-release-trigger", region="us-east-2", parameters=ANSWERS)

    # THEN sam deploy and sam logs disagree about the stack (the issue this module fixes)...
    assert what_sam_reads(samconfig, "deploy")["stack_name"] == "my-release-trigger"
    assert what_sam_reads(samconfig, "logs")["stack_name"] == "s3-pipeline-trigger"
    # ...while the operator tools already read what sam deploy uses
    target = read_target(samconfig)
    assert (target.stack_name, target.region, target.parameters) == ("my-release-trigger", "us-east-2", ANSWERS)


def test_after_the_move_every_sam_command_and_tool_reads_one_stack_and_region(samconfig: Path) -> None:
    save_as_guided(samconfig, stack_name="my-release-trigger", region="us-east-2", parameters=ANSWERS)

    moved = promote_to_global(samconfig)

    assert moved == ["stack_name", "region"]
    for command in COMMANDS:
        read = what_sam_reads(samconfig, command)
        assert (read["stack_name"], read["region"]) == ("my-release-trigger", "us-east-2"), command
    target = read_target(samconfig)
    assert (target.stack_name, target.region, target.parameters) == ("my-release-trigger", "us-east-2", ANSWERS)


def test_the_move_changes_nothing_else(samconfig: Path) -> None:
    save_as_guided(samconfig, stack_name="my-release-trigger", region="us-east-2", parameters=ANSWERS)
    before = samconfig.read_text(encoding="utf-8").splitlines()

    promote_to_global(samconfig)

    after = samconfig.read_text(encoding="utf-8").splitlines()
    changes = [line for line in difflib.ndiff(before, after) if line[:2] in {"- ", "+ "}]
    assert changes == [
        '- stack_name = "s3-pipeline-trigger"',
        '+ stack_name = "my-release-trigger"',
        '- stack_name = "my-release-trigger"',
        '- region = "us-east-2"',
    ]
    # Comments and the local environment stay as they were.
    assert [line for line in before if line.startswith("#")] == [line for line in after if line.startswith("#")]
    assert what_sam_reads(samconfig, "deploy", "local")["stack_name"] == "s3-pipeline-trigger-local"


def test_a_profile_answer_moves_too(samconfig: Path) -> None:
    save_as_guided(samconfig, stack_name="release", region="eu-central-1", parameters=ANSWERS, profile="releases")

    assert promote_to_global(samconfig) == ["stack_name", "region", "profile"]
    assert what_sam_reads(samconfig, "logs")["profile"] == "releases"
    assert read_target(samconfig).profile == "releases"


def test_nothing_moves_when_the_default_name_was_kept(samconfig: Path) -> None:
    # SAM CLI keeps a value equal to the global one only in the global table.
    save_as_guided(samconfig, stack_name="s3-pipeline-trigger", region="us-east-2", parameters=ANSWERS)

    assert promote_to_global(samconfig) == ["region"]
    assert promote_to_global(samconfig) == []
    assert read_target(samconfig).stack_name == "s3-pipeline-trigger"


def test_another_environment_is_read_and_moved_on_its_own(samconfig: Path) -> None:
    save_as_guided(samconfig, stack_name="release-prod", region="eu-west-1", parameters=ANSWERS, config_env="prod")

    assert promote_to_global(samconfig, "prod") == ["stack_name", "region"]
    assert what_sam_reads(samconfig, "logs", "prod")["stack_name"] == "release-prod"
    assert read_target(samconfig, "prod").region == "eu-west-1"
    assert read_target(samconfig).stack_name == "s3-pipeline-trigger"


def test_parameters_are_read_as_sam_reads_them(samconfig: Path) -> None:
    answers = {"SourceBucketName": "acme", "ObjectKey": "release notes/v1.zip", "Routes": '[{"key":"a"}]'}
    save_as_guided(samconfig, stack_name="s", region="us-east-1", parameters=answers)

    assert read_target(samconfig).parameters == answers


def test_a_broken_file_is_one_clear_error(tmp_path: Path) -> None:
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text("[default.global.parameters\nstack_name = 1\n", encoding="utf-8")

    with pytest.raises(ConfigError, match=r"^samconfig.toml is not valid TOML \(.+\): fix it or restore it from git$"):
        read_target(samconfig)


def test_no_file_means_nothing_saved(tmp_path: Path) -> None:
    target = read_target(tmp_path / "samconfig.toml")

    assert (target.stack_name, target.region, target.parameters) == (None, None, {})
    assert promote_to_global(tmp_path / "samconfig.toml") == []
