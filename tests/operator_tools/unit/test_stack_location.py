"""Which stack and region the operator tools use: the command line, then what `sam deploy` used (samconfig.toml),
then the user's own AWS configuration, each answer saying where it came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.stack import locate
from support.guided import project_with_samconfig, save_as_guided


@pytest.fixture
def deployed_config(tmp_path: Path) -> Path:
    samconfig = project_with_samconfig(tmp_path)
    save_as_guided(samconfig, stack_name="my-release-trigger", region="us-east-2", parameters={"ObjectKey": "k"})
    return samconfig


@pytest.fixture
def profile_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A machine whose only region setting is the default profile's, in its own config file."""
    config = tmp_path / "aws-config"
    config.write_text("[default]\nregion = ap-northeast-1\n\n[profile releases]\nregion = sa-east-1\n")
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    return {}


def test_samconfig_wins_over_the_shells_region(deployed_config: Path) -> None:
    location = locate(environ={"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1"}, samconfig=deployed_config)

    assert (location.stack_name, location.stack_from) == ("my-release-trigger", "samconfig.toml [default]")
    assert (location.region, location.region_from) == ("us-east-2", "samconfig.toml [default]")


def test_the_command_line_wins_over_samconfig(deployed_config: Path) -> None:
    location = locate("other-stack", "eu-north-1", environ={}, samconfig=deployed_config)

    assert (location.stack_name, location.stack_from) == ("other-stack", "--stack-name")
    assert (location.region, location.region_from) == ("eu-north-1", "--region")


@pytest.mark.parametrize(
    ("environ", "region", "source"),
    [
        ({"AWS_REGION": "eu-west-3", "AWS_DEFAULT_REGION": "eu-west-2"}, "eu-west-3", "AWS_REGION"),
        ({"AWS_DEFAULT_REGION": "eu-west-2"}, "eu-west-2", "AWS_DEFAULT_REGION"),
        ({}, "ap-northeast-1", "profile default"),
        ({"AWS_PROFILE": "releases"}, "sa-east-1", "profile releases"),
    ],
    ids=["AWS_REGION", "AWS_DEFAULT_REGION", "default-profile", "named-profile"],
)
def test_without_a_saved_region_the_users_configuration_decides(
    tmp_path: Path, profile_only: dict[str, str], environ: dict[str, str], region: str, source: str
) -> None:
    samconfig = project_with_samconfig(tmp_path)

    location = locate(environ=environ, samconfig=samconfig)

    assert (location.stack_name, location.region, location.region_from) == ("s3-pipeline-trigger", region, source)


def test_no_region_anywhere_is_said_so(
    tmp_path: Path, profile_only: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-such-file"))

    location = locate(environ={}, samconfig=project_with_samconfig(tmp_path))

    assert (location.region, location.region_from) == (None, "nowhere")


def test_a_saved_profile_is_used_unless_aws_profile_says_otherwise(tmp_path: Path) -> None:
    samconfig = project_with_samconfig(tmp_path)
    save_as_guided(samconfig, stack_name="s", region="us-east-1", parameters={}, profile="releases")

    assert locate(environ={}, samconfig=samconfig).profile == "releases"
    assert locate(environ={"AWS_PROFILE": "ops"}, samconfig=samconfig).profile == "ops"
