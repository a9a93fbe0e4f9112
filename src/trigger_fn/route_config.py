"""The routes a ROUTES value holds (JSON), and the checks of them against what the template grants."""

from __future__ import annotations

import json
import re
from typing import Any

from trigger_fn.routing import Route, can_both_match

# CodePipeline's own patterns for pipeline and action names, and for pipeline variable names.
_PIPELINE_NAME = re.compile(r"[A-Za-z0-9.@\-_]{1,100}")
_ACTION_NAME = re.compile(r"[A-Za-z0-9.@\-_]{1,100}")
_VARIABLE_NAME = re.compile(r"[A-Za-z0-9@\-_]{1,128}")
_MAX_KEY_PATTERN_BYTES = 1024
# Facts of an upload a route may pass on as pipeline variables.
UPLOAD_FACTS = ("bucket", "key", "version", "etag", "size", "reason", "sequencer")
_ROUTE_FIELDS = {
    "key",
    "pipeline",
    "sourceAction",
    "overrideKey",
    "latestOnly",
    "variables",
    "account",
    "pipelineAccount",
}
ACCOUNT_ID = re.compile(r"[0-9]{12}")
# CodePipeline accepts at most 50 variables per execution.
_MAX_VARIABLES = 50


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the variable so the fix is obvious."""


def routes_from_json(text: str) -> tuple[Route, ...]:
    """The routes a ROUTES value holds; SettingsError naming the first problem."""
    try:
        entries = json.loads(text)
    except json.JSONDecodeError as error:
        raise SettingsError(f"ROUTES is not valid JSON: {error}") from None
    if not isinstance(entries, list) or not entries:
        raise SettingsError("ROUTES must be a non-empty JSON list of route objects")
    routes = tuple(_route_from_entry(entry, index) for index, entry in enumerate(entries))
    seen: set[tuple[str, str, str | None]] = set()
    for index, route in enumerate(routes):
        if (route.key, route.pipeline, route.pipeline_account) in seen:
            raise SettingsError(f"ROUTES[{index}] repeats key {route.key!r} for pipeline {route.pipeline!r}")
        seen.add((route.key, route.pipeline, route.pipeline_account))
    return routes


def routes_outside_filter(routes: tuple[Route, ...], key_filter: str) -> list[str]:
    """One line per route whose key pattern shares no key with ROUTES_KEY_FILTER (the template's RoutesKeyFilter)."""
    return [
        f"ROUTES[{index}].key {route.key!r} can never match: the rule only passes keys matching "
        f"RoutesKeyFilter {key_filter!r}; widen RoutesKeyFilter or fix the route"
        for index, route in enumerate(routes)
        if not can_both_match(route.key, key_filter)
    ]


def _route_from_entry(entry: Any, index: int) -> Route:
    where = f"ROUTES[{index}]"
    if not isinstance(entry, dict):
        raise SettingsError(f"{where} must be an object with key and pipeline, got {type(entry).__name__}")
    unknown = sorted(set(entry) - _ROUTE_FIELDS)
    if unknown:
        raise SettingsError(f"{where} has unknown field(s) {', '.join(unknown)}; allowed: {sorted(_ROUTE_FIELDS)}")
    key = entry.get("key")
    pipeline = entry.get("pipeline")
    action = entry.get("sourceAction", "Source")
    override = entry.get("overrideKey", False)
    latest_only = entry.get("latestOnly", True)
    if not isinstance(key, str):
        raise SettingsError(f"{where}.key must be a string")
    if not isinstance(pipeline, str):
        raise SettingsError(f"{where}.pipeline must be a string")
    if not isinstance(action, str):
        raise SettingsError(f"{where}.sourceAction must be a string")
    if not isinstance(override, bool):
        raise SettingsError(f"{where}.overrideKey must be true or false")
    if not isinstance(latest_only, bool):
        raise SettingsError(f"{where}.latestOnly must be true or false")
    return Route(
        key=_key_pattern(key, f"{where}.key"),
        pipeline=_matching(pipeline, _PIPELINE_NAME, f"{where}.pipeline", "a pipeline name"),
        source_action=_matching(action, _ACTION_NAME, f"{where}.sourceAction", "an action name"),
        override_key=override,
        latest_only=latest_only,
        variables=_variables(entry.get("variables", {}), f"{where}.variables"),
        account=_optional_account(entry.get("account"), f"{where}.account"),
        pipeline_account=_optional_account(entry.get("pipelineAccount"), f"{where}.pipelineAccount"),
    )


def _optional_account(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not ACCOUNT_ID.fullmatch(value):
        raise SettingsError(f"{where} must be an AWS account id (12 digits as a string)")
    return value


def _variables(value: Any, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise SettingsError(f"{where} must be an object of pipeline variable name -> upload fact")
    if len(value) > _MAX_VARIABLES:
        raise SettingsError(f"{where} has {len(value)} entries; CodePipeline accepts at most {_MAX_VARIABLES}")
    pairs = []
    for name, fact in value.items():
        if not _VARIABLE_NAME.fullmatch(name):
            raise SettingsError(f"{where}: {name!r} is not a valid pipeline variable name")
        if fact not in UPLOAD_FACTS:
            raise SettingsError(f"{where}.{name}: {fact!r} is not one of {', '.join(UPLOAD_FACTS)}")
        pairs.append((name, fact))
    return tuple(pairs)


def _key_pattern(value: str, name: str) -> str:
    if not value:
        raise SettingsError(f"{name} must not be empty")
    if len(value.encode("utf-8")) > _MAX_KEY_PATTERN_BYTES:
        raise SettingsError(f"{name} is longer than {_MAX_KEY_PATTERN_BYTES} bytes")
    return value


def _matching(value: str, pattern: re.Pattern[str], name: str, what: str) -> str:
    if not pattern.fullmatch(value):
        raise SettingsError(f"{name}={value!r} is not {what} (allowed: letters, digits and . @ - _)")
    return value
