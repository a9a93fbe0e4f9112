"""Where `sam deploy` deploys: the stack name, region and profile of a samconfig.toml environment, read the way
SAM CLI reads them, and kept in the one table every SAM command and operator tool reads.

SAM CLI merges `[ENV.global.parameters]` into each command's own table, the command's values winning.
`sam deploy --guided` saves its answers under `[ENV.deploy.parameters]` (stack_name, region, s3_prefix,
parameter_overrides, ...) and the region under `[ENV.global.parameters]` as well; a value equal to the global
one is kept only there. `sam logs` and `sam delete` read `[ENV.global.parameters]` and their own tables, never
the deploy table: a stack name typed into guided would be invisible to them. `promote_to_global` moves the
stack name, region and profile to the global table, so there is one place for them.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
from samcli.cli.types import CfnParameterOverridesType

SAMCONFIG = Path(__file__).resolve().parent.parent / "samconfig.toml"
DEFAULT_ENV = "default"
# What every SAM command and tool must agree on; guided saves them in the deploy table only.
SHARED_KEYS = ("stack_name", "region", "profile")


class ConfigError(Exception):
    """samconfig.toml cannot be read; the message says which file and why."""


@dataclass(frozen=True)
class DeployTarget:
    """What `sam deploy --config-env ENV` uses, as far as the stack's location and parameters go."""

    config_env: str
    stack_name: str | None
    region: str | None
    profile: str | None
    # The template parameters as saved (parameter_overrides); empty until guided has saved answers.
    parameters: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"samconfig.toml [{self.config_env}]"


def read_target(samconfig: Path = SAMCONFIG, config_env: str = DEFAULT_ENV) -> DeployTarget:
    environment = _environment(_load(samconfig), config_env)
    merged = {**_table(environment, "global"), **_table(environment, "deploy")}
    overrides = merged.get("parameter_overrides")
    return DeployTarget(
        config_env=config_env,
        stack_name=_text(merged.get("stack_name")),
        region=_text(merged.get("region")),
        profile=_text(merged.get("profile")),
        parameters=_parameters(overrides),
    )


def promote_to_global(samconfig: Path = SAMCONFIG, config_env: str = DEFAULT_ENV) -> list[str]:
    """Move stack_name, region and profile from the deploy table to the global one; returns what moved.

    The deploy table wins over the global one in `sam deploy`, so its values are the ones that were deployed.
    Comments and the rest of the file are kept as they are.
    """
    if not samconfig.is_file():
        return []
    document = tomlkit.parse(samconfig.read_text(encoding="utf-8"))
    environment = document.get(config_env)
    deploy = _tomlkit_table(environment, "deploy")
    if deploy is None or not any(key in deploy for key in SHARED_KEYS):
        return []
    global_parameters = _tomlkit_table(environment, "global", create=True)
    moved = []
    for key in SHARED_KEYS:
        if key in deploy:
            global_parameters[key] = deploy.pop(key)
            moved.append(key)
    samconfig.write_text(tomlkit.dumps(document), encoding="utf-8")
    return moved


def remember_region(samconfig: Path, config_env: str, region: str) -> bool:
    """Record the region a deployment went to, unless the environment names one; True if it was recorded."""
    if read_target(samconfig, config_env).region:
        return False
    document = tomlkit.parse(samconfig.read_text(encoding="utf-8")) if samconfig.is_file() else tomlkit.document()
    if config_env not in document:
        document[config_env] = tomlkit.table(is_super_table=True)
    _tomlkit_table(document[config_env], "global", create=True)["region"] = region
    samconfig.write_text(tomlkit.dumps(document), encoding="utf-8")
    return True


def _load(samconfig: Path) -> dict[str, Any]:
    if not samconfig.is_file():
        return {}
    try:
        return tomllib.loads(samconfig.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{samconfig.name} is not valid TOML ({error}): fix it or restore it from git") from error


def _environment(config: dict[str, Any], config_env: str) -> dict[str, Any]:
    environment = config.get(config_env, {})
    return environment if isinstance(environment, dict) else {}


def _table(environment: dict[str, Any], command: str) -> dict[str, Any]:
    parameters = environment.get(command, {}).get("parameters", {})
    return parameters if isinstance(parameters, dict) else {}


def _tomlkit_table(environment: Any, command: str, *, create: bool = False) -> Any:
    if environment is None:
        return None
    if command not in environment:
        if not create:
            return None
        environment[command] = tomlkit.table(is_super_table=True)
    section = environment[command]
    if "parameters" not in section:
        if not create:
            return None
        section["parameters"] = tomlkit.table()
    return section["parameters"]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _parameters(overrides: Any) -> dict[str, str]:
    # SAM CLI's own reader, so quoting and lists mean here what they mean to `sam deploy`.
    parsed = CfnParameterOverridesType().convert(overrides, None, None)
    return {str(name): str(value) for name, value in parsed.items()}
