"""The function's settings, read once from the environment and checked before any event is handled."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from bucket_names import is_bucket_name
from trigger_fn.route_config import ACCOUNT_ID, SettingsError, routes_from_json
from trigger_fn.route_grants import check_allowed, check_key_filter, check_route_accounts, starter_role
from trigger_fn.routing import Route

# How long CodePipeline is trusted to remember a clientRequestToken (AWS does not document it).
DEFAULT_TOKEN_WINDOW_S = 3600
# Far above any CodePipeline account's start rate; a larger value is a typo.
_MAX_STARTS_PER_SECOND = 1000
# Dead-letter queues keep events 14 days: a longer window would never look at the execution history.
_MAX_TOKEN_WINDOW_S = 14 * 24 * 3600


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
    routes = routes_from_json(_required(environ, "ROUTES"))
    check_allowed(routes, environ.get("ALLOWED_PIPELINES", ""))
    check_key_filter(routes, environ.get("ROUTES_KEY_FILTER", ""))
    source_account = _account(environ, "SOURCE_ACCOUNT")
    check_route_accounts(routes, source_account)
    return Settings(
        source_bucket=bucket,
        routes=routes,
        dry_run=_flag(environ, "DRY_RUN"),
        token_window_s=_seconds(environ, "TOKEN_WINDOW_SECONDS", DEFAULT_TOKEN_WINDOW_S, _MAX_TOKEN_WINDOW_S),
        start_interval_s=_start_interval(environ),
        source_account=source_account,
        starter_role_arn=starter_role(routes, environ),
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
    if value and not ACCOUNT_ID.fullmatch(value):
        raise SettingsError(f"{name}={value!r} is not an AWS account id (12 digits)")
    return value or None


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name} is not set; the template sets it, or pass it with --env-vars")
    return value


def _seconds(environ: Mapping[str, str], name: str, default: int, maximum: int) -> int:
    text = environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) > maximum:
        raise SettingsError(f"{name}={text!r} must be a whole number of seconds from 0 to {maximum}")
    return int(text)


def _flag(environ: Mapping[str, str], name: str) -> bool:
    value = environ.get(name, "false").strip().lower()
    if value not in ("true", "false"):
        raise SettingsError(f"{name}={environ.get(name)!r} must be true or false")
    return value == "true"
