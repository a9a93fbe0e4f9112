"""What the operator scripts need to find a deployed stack: samconfig's defaults and the stack's outputs."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

SAMCONFIG = Path(__file__).resolve().parent.parent / "samconfig.toml"


def default_stack_name(samconfig: Path = SAMCONFIG) -> str | None:
    name = _global_parameters(samconfig).get("stack_name")
    return name if isinstance(name, str) else None


def default_region(samconfig: Path = SAMCONFIG) -> str | None:
    region = _global_parameters(samconfig).get("region")
    return region if isinstance(region, str) else None


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}


def _global_parameters(samconfig: Path) -> dict[str, Any]:
    if not samconfig.is_file():
        return {}
    config = tomllib.loads(samconfig.read_text(encoding="utf-8"))
    parameters: dict[str, Any] = config.get("default", {}).get("global", {}).get("parameters", {})
    return parameters
