"""What `sam deploy --guided` leaves in samconfig.toml, written by SAM CLI's own code, and read back by it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import click
from samcli.commands.deploy.guided_config import GuidedConfig
from samcli.lib.config.samconfig import SamConfig

from support.environment import ROOT


def project_with_samconfig(folder: Path) -> Path:
    """A folder holding the repository's samconfig.toml and template, as a fresh clone has them."""
    for name in ("samconfig.toml", "template.yaml"):
        shutil.copy2(ROOT / name, folder / name)
    return folder / "samconfig.toml"


def save_as_guided(
    samconfig: Path,
    *,
    stack_name: str,
    region: str,
    parameters: dict[str, str],
    profile: str | None = None,
    config_env: str = "default",
) -> None:
    """SAM CLI's GuidedConfig.save_config with the answers of a guided run (what guided calls after its questions)."""
    with click.Context(click.Command("deploy"), info_name="deploy") as context:
        context.samconfig_dir = str(samconfig.parent)  # type: ignore[attr-defined]
        GuidedConfig(template_file=str(samconfig.parent / "template.yaml"), section="parameters").save_config(
            {name: {"Value": value, "Hidden": False} for name, value in parameters.items()},
            config_env,
            samconfig.name,
            stack_name=stack_name,
            resolve_s3=True,
            s3_prefix=stack_name,
            region=region,
            profile=profile,
            confirm_changeset=True,
            capabilities=["CAPABILITY_IAM"],
            signing_profiles=None,
            disable_rollback=False,
            image_repositories={},
            resolve_image_repos=False,
        )


def what_sam_reads(samconfig: Path, command: str, config_env: str = "default") -> dict[str, Any]:
    """The parameters SAM CLI's `sam COMMAND` takes from samconfig.toml (its global table merged in)."""
    parameters: dict[str, Any] = SamConfig(config_dir=str(samconfig.parent), filename=samconfig.name).get_all(
        [command], "parameters", env=config_env
    )
    return parameters
