"""Which deployed stack the operator tools work on, in which region, with which profile, and its outputs.

The stack name, region and profile are the ones `sam deploy` used (ops.deploy_config reads samconfig.toml as SAM
CLI does), unless given on the command line. A region nobody set comes from the user's AWS configuration:
AWS_REGION, AWS_DEFAULT_REGION, then the profile's region.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError

from ops.deploy_config import DEFAULT_ENV, SAMCONFIG, read_target


@dataclass(frozen=True)
class StackLocation:
    """A stack name and where to look for it, each with where it came from (for messages that say so)."""

    stack_name: str | None
    stack_from: str
    region: str | None
    region_from: str
    profile: str | None

    def session(self) -> boto3.Session:
        return boto3.Session(profile_name=self.profile, region_name=self.region)


def locate(
    stack_name: str | None = None,
    region: str | None = None,
    config_env: str = DEFAULT_ENV,
    *,
    environ: Mapping[str, str] = os.environ,
    samconfig: Path = SAMCONFIG,
) -> StackLocation:
    """The command line first, then samconfig.toml as `sam deploy` reads it, then the user's AWS configuration."""
    target = read_target(samconfig, config_env)
    profile = environ.get("AWS_PROFILE") or target.profile
    found_region, region_from = _region(region, target.region, target.where, environ, profile)
    return StackLocation(
        stack_name=stack_name or target.stack_name,
        stack_from="--stack-name" if stack_name else target.where,
        region=found_region,
        region_from=region_from,
        profile=profile,
    )


def default_stack_name(samconfig: Path = SAMCONFIG, config_env: str = DEFAULT_ENV) -> str | None:
    return read_target(samconfig, config_env).stack_name


def default_region(samconfig: Path = SAMCONFIG, config_env: str = DEFAULT_ENV) -> str | None:
    return read_target(samconfig, config_env).region


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}


def _region(
    given: str | None, saved: str | None, where: str, environ: Mapping[str, str], profile: str | None
) -> tuple[str | None, str]:
    if given:
        return given, "--region"
    if saved:
        return saved, where
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if environ.get(name):
            return environ[name], name
    # The profile's own region; a missing profile is reported when the session is made.
    try:
        profile_region = boto3.Session(profile_name=profile).region_name
    except BotoCoreError:
        # A missing profile: the session the tool makes next reports it, with the fix.
        profile_region = None
    return profile_region, f"profile {profile or 'default'}" if profile_region else "nowhere"
