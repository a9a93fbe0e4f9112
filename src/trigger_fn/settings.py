"""The function's settings, read once from the environment and checked before any event is handled."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from bucket_names import is_bucket_name
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
_ACCOUNT_ID = re.compile(r"[0-9]{12}")
# IAM role names: letters, digits and + = , . @ _ -, at most 64 characters.
_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}")
# CodePipeline accepts at most 50 variables per execution.
_MAX_VARIABLES = 50
# The template grants StartPipelineExecution to at most this many routed pipelines.
MAX_ROUTED_PIPELINES = 10
# The template lets the function assume the starter role in at most this many pipeline accounts.
MAX_PIPELINE_ACCOUNTS = 10
# How long CodePipeline is trusted to remember a clientRequestToken (AWS does not document it).
DEFAULT_TOKEN_WINDOW_S = 3600
# Far above any CodePipeline account's start rate; a larger value is a typo.
_MAX_STARTS_PER_SECOND = 1000
# Dead-letter queues keep events 14 days: a longer window would never look at the execution history.
_MAX_TOKEN_WINDOW_S = 14 * 24 * 3600


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the variable so the fix is obvious."""


class Settings(NamedTuple):
    source_bucket: str
    routes: tuple[Route, ...]
    dry_run: bool
    # Events older than this look for an execution of their version before starting.
    token_window_s: int = DEFAULT_TOKEN_WINDOW_S
    # Seconds between this environment's StartPipelineExecution attempts (0: unpaced).
    start_interval_s: float = 0.0
    # The account whose bucket events may start pipelines; None (no SOURCE_ACCOUNT): the account is not checked.
    source_account: str | None = None
    # arn:PARTITION:iam::{account}:role/NAME, the role the function assumes to start a pipeline of another account.
    starter_role_arn: str | None = None

    def starter_role_in(self, account: str | None) -> str | None:
        """The role to assume for a pipeline of that account; None: the function's own account and role."""
        if account is None or self.starter_role_arn is None:
            return None
        return self.starter_role_arn.format(account=account)


def load_settings(environ: Mapping[str, str]) -> Settings:
    bucket = _required(environ, "SOURCE_BUCKET")
    if not is_bucket_name(bucket):
        raise SettingsError(f"SOURCE_BUCKET={bucket!r} is not a valid S3 bucket name")
    routes_json = environ.get("ROUTES", "").strip()
    routes = routes_from_json(routes_json) if routes_json else (_single_route(environ),)
    _check_allowed(routes, environ.get("ALLOWED_PIPELINES", ""))
    _check_key_filter(routes, environ.get("ROUTES_KEY_FILTER", ""))
    source_account = _account(environ, "SOURCE_ACCOUNT")
    _check_route_accounts(routes, source_account)
    return Settings(
        source_bucket=bucket,
        routes=routes,
        dry_run=_flag(environ, "DRY_RUN"),
        token_window_s=_seconds(environ, "TOKEN_WINDOW_SECONDS", DEFAULT_TOKEN_WINDOW_S, _MAX_TOKEN_WINDOW_S),
        start_interval_s=_start_interval(environ),
        source_account=source_account,
        starter_role_arn=_starter_role(routes, environ),
    )


def _start_interval(environ: Mapping[str, str]) -> float:
    rate_text = environ.get("MAX_STARTS_PER_SECOND", "").strip()
    if not rate_text:
        return 0.0
    concurrency_text = environ.get("MAX_CONCURRENCY", "").strip() or "1"
    if not concurrency_text.isdigit() or int(concurrency_text) < 1:
        raise SettingsError(f"MAX_CONCURRENCY={concurrency_text!r} must be a whole number from 1")
    try:
        rate = float(rate_text)
    except ValueError:
        rate = 0.0
    if not 0 < rate <= _MAX_STARTS_PER_SECOND:
        raise SettingsError(
            f"MAX_STARTS_PER_SECOND={rate_text!r} must be a number above 0, at most {_MAX_STARTS_PER_SECOND}"
        )
    return start_interval(rate, int(concurrency_text))


def start_interval(max_starts_per_s: float, max_concurrency: int) -> float:
    """Seconds between one environment's starts, so `max_concurrency` of them stay within `max_starts_per_s`.

    Each takes a whole number of starts a second (the rate divided by the concurrency, rounded down), so no
    second holds more than the rate; below one start a second each, they share the rate on average only.
    """
    per_environment = max_starts_per_s // max_concurrency
    interval = 1 / per_environment if per_environment >= 1 else max_concurrency / max_starts_per_s
    # A millisecond more, so that float sums of intervals never fit one more start into a second.
    return interval + 0.001


def _account(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    if value and not _ACCOUNT_ID.fullmatch(value):
        raise SettingsError(f"{name}={value!r} is not an AWS account id (12 digits)")
    return value or None


def _check_route_accounts(routes: tuple[Route, ...], source_account: str | None) -> None:
    """A route naming another account than the bucket's would never see an event: refused at the cold start."""
    for index, route in enumerate(routes):
        if route.account is not None and route.account != source_account:
            raise SettingsError(
                f"ROUTES[{index}].account {route.account!r} is not the source bucket's account SOURCE_ACCOUNT "
                f"{source_account!r} (the template's SourceBucketAccount): no event of it reaches the function"
            )


def _starter_role(routes: tuple[Route, ...], environ: Mapping[str, str]) -> str | None:
    """The role ARN pattern for pipelines of other accounts; each route's account must be one the role may assume."""
    accounts = [a.strip() for a in environ.get("PIPELINE_ACCOUNTS", "").split(",") if a.strip()]
    for account in accounts:
        if not _ACCOUNT_ID.fullmatch(account):
            raise SettingsError(f"PIPELINE_ACCOUNTS: {account!r} is not an AWS account id (12 digits)")
    if len(accounts) > MAX_PIPELINE_ACCOUNTS:
        raise SettingsError(
            f"PIPELINE_ACCOUNTS lists {len(accounts)} accounts; the template grants at most {MAX_PIPELINE_ACCOUNTS}"
        )
    for index, route in enumerate(routes):
        if route.pipeline_account is not None and route.pipeline_account not in accounts:
            raise SettingsError(
                f"ROUTES[{index}].pipelineAccount {route.pipeline_account!r} is not in PIPELINE_ACCOUNTS {accounts} "
                "(the template's PipelineAccounts): the function may not assume a role there"
            )
    if not accounts:
        return None
    role = environ.get("PIPELINE_STARTER_ROLE_NAME", "").strip()
    if not _ROLE_NAME.fullmatch(role):
        raise SettingsError(
            f"PIPELINE_STARTER_ROLE_NAME={role!r} is not an IAM role name (needed with PIPELINE_ACCOUNTS)"
        )
    partition = environ.get("PARTITION", "").strip() or "aws"
    return f"arn:{partition}:iam::{{account}}:role/{role}"


def _check_allowed(routes: tuple[Route, ...], allowed_text: str) -> None:
    """Routes must name only pipelines the role may start, or every upload to them would end in the DLQ."""
    allowed = [name.strip() for name in allowed_text.split(",") if name.strip()]
    if not allowed:
        return
    if len(allowed) > MAX_ROUTED_PIPELINES:
        raise SettingsError(
            f"ALLOWED_PIPELINES lists {len(allowed)} pipelines; the template grants at most {MAX_ROUTED_PIPELINES}"
        )
    for index, route in enumerate(routes):
        if route.pipeline not in allowed:
            raise SettingsError(
                f"ROUTES[{index}].pipeline {route.pipeline!r} is not in ALLOWED_PIPELINES {allowed} "
                "(the template's RoutedPipelines): the function may not start it"
            )


def _check_key_filter(routes: tuple[Route, ...], key_filter: str) -> None:
    """A route no key of the rule's filter can match would never fire: refused, not left to wait in silence."""
    if not key_filter:
        return
    problems = routes_outside_filter(routes, key_filter)
    if problems:
        raise SettingsError(problems[0])


def routes_outside_filter(routes: tuple[Route, ...], key_filter: str) -> list[str]:
    """One line per route whose key pattern shares no key with ROUTES_KEY_FILTER (the template's RoutesKeyFilter)."""
    return [
        f"ROUTES[{index}].key {route.key!r} can never match: the rule only passes keys matching "
        f"RoutesKeyFilter {key_filter!r}; widen RoutesKeyFilter or fix the route"
        for index, route in enumerate(routes)
        if not can_both_match(route.key, key_filter)
    ]


def _single_route(environ: Mapping[str, str]) -> Route:
    return Route(
        # Not stripped: S3 keys may begin or end with spaces, and the rule matches the parameter as given.
        key=_key_pattern(_required_raw(environ, "OBJECT_KEY"), "OBJECT_KEY"),
        pipeline=_matching(_required(environ, "PIPELINE_NAME"), _PIPELINE_NAME, "PIPELINE_NAME", "a pipeline name"),
        source_action=_matching(
            environ.get("SOURCE_ACTION_NAME", "").strip() or "Source",
            _ACTION_NAME,
            "SOURCE_ACTION_NAME",
            "an action name",
        ),
        override_key=_flag(environ, "OVERRIDE_OBJECT_KEY"),
        latest_only=_flag(environ, "LATEST_ONLY", default="true"),
    )


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
    account = _optional_account(entry.get("account"), f"{where}.account")
    pipeline_account = _optional_account(entry.get("pipelineAccount"), f"{where}.pipelineAccount")
    return Route(
        key=_key_pattern(key, f"{where}.key"),
        pipeline=_matching(pipeline, _PIPELINE_NAME, f"{where}.pipeline", "a pipeline name"),
        source_action=_matching(action, _ACTION_NAME, f"{where}.sourceAction", "an action name"),
        override_key=override,
        latest_only=latest_only,
        variables=_variables(entry.get("variables", {}), f"{where}.variables"),
        account=account,
        pipeline_account=pipeline_account,
    )


def _optional_account(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _ACCOUNT_ID.fullmatch(value):
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


def _required_raw(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "")
    if not value.strip():
        raise SettingsError(f"{name} is not set; the template sets it, or pass it with --env-vars")
    return value


def _required(environ: Mapping[str, str], name: str) -> str:
    return _required_raw(environ, name).strip()


def _matching(value: str, pattern: re.Pattern[str], name: str, what: str) -> str:
    if not pattern.fullmatch(value):
        raise SettingsError(f"{name}={value!r} is not {what} (allowed: letters, digits and . @ - _)")
    return value


def _seconds(environ: Mapping[str, str], name: str, default: int, maximum: int) -> int:
    text = environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) > maximum:
        raise SettingsError(f"{name}={text!r} must be a whole number of seconds from 0 to {maximum}")
    return int(text)


def _flag(environ: Mapping[str, str], name: str, default: str = "false") -> bool:
    value = environ.get(name, default).strip().lower()
    if value not in ("true", "false"):
        raise SettingsError(f"{name}={environ.get(name)!r} must be true or false")
    return value == "true"
