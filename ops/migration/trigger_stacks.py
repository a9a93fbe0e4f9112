"""Deployed stacks of this project and the S3 sources they cover, decided by the function's own code (pure).

A stack of this project is one with the output TriggerFunctionName. What it covers is what its function
would start: its settings read by `trigger_fn.settings.load_settings` (through ops.function_settings) from the
function's environment, and a source key matched against its routes by `trigger_fn.routing`, the same code that
runs in Lambda.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ops.function_settings import deployed_settings
from ops.migration.pipelines import S3Source
from trigger_fn.route_config import SettingsError
from trigger_fn.routing import Route, matching_routes
from trigger_fn.settings import Settings

FUNCTION_NAME_OUTPUT = "TriggerFunctionName"


@dataclass(frozen=True)
class TriggerStack:
    name: str
    function_name: str
    settings: Settings | None
    # Why the function's environment could not be read as settings (the function fails its cold start too).
    settings_problem: str | None = None
    # The stack's parameters as deployed, to plan an update that keeps them.
    parameters: Mapping[str, str] = field(default_factory=dict)

    @property
    def bucket(self) -> str | None:
        return self.settings.source_bucket if self.settings else None

    def routes_for(self, pipeline: str, source: S3Source) -> tuple[Route, ...]:
        """The routes that start this pipeline's action on an upload to the action's key."""
        if self.settings is None or self.settings.source_bucket != source.bucket:
            return ()
        return tuple(
            route
            for route in matching_routes(self.settings.routes, source.key)
            if route.pipeline == pipeline and route.source_action == source.action
        )

    def covers(self, pipeline: str, source: S3Source) -> bool:
        return bool(self.routes_for(pipeline, source))


def trigger_stack(
    name: str, function_name: str, environment: Mapping[str, str], parameters: Mapping[str, str]
) -> TriggerStack:
    try:
        settings = deployed_settings(environment)
    except SettingsError as error:
        return TriggerStack(name, function_name, None, str(error), dict(parameters))
    return TriggerStack(name, function_name, settings, None, dict(parameters))


def covering_stacks(stacks: Iterable[TriggerStack], pipeline: str, source: S3Source) -> tuple[TriggerStack, ...]:
    return tuple(stack for stack in stacks if stack.covers(pipeline, source))


def stack_for_bucket(stacks: Iterable[TriggerStack], bucket: str) -> TriggerStack | None:
    """The stack already serving this bucket, which a plan updates rather than adding a second one."""
    return next((stack for stack in stacks if stack.bucket == bucket), None)
