"""A deployed trigger function's settings, read by the function's own reader from its environment."""

from __future__ import annotations

from collections.abc import Mapping

from trigger_fn.route_config import SettingsError
from trigger_fn.settings import Settings, load_settings

# What templates before ROUTES-only gave the function for one route: such a stack has not been redeployed since.
_OLDER_TEMPLATE_VARIABLE = "OBJECT_KEY"


def deployed_settings(environment: Mapping[str, str]) -> Settings:
    """The settings as the function's cold start reads them (SettingsError when it would refuse them)."""
    if not environment.get("ROUTES", "").strip() and _OLDER_TEMPLATE_VARIABLE in environment:
        raise SettingsError(
            "ROUTES is not set: the function was deployed by an older version of the template (it has "
            f"{_OLDER_TEMPLATE_VARIABLE}); redeploy the stack with this version (make deploy)"
        )
    return load_settings(environment)
