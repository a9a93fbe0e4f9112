"""Routes checked against what the template grants the function: the pipelines its role may start, the keys its
rule passes, the accounts whose events reach it and those where it may assume the starter role."""

from __future__ import annotations

import re
from collections.abc import Mapping

from trigger_fn.route_config import ACCOUNT_ID, SettingsError, routes_outside_filter
from trigger_fn.routing import Route

# IAM role names: letters, digits and + = , . @ _ -, at most 64 characters.
_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}")
# The template grants StartPipelineExecution to at most this many routed pipelines.
MAX_ROUTED_PIPELINES = 10
# The template lets the function assume the starter role in at most this many pipeline accounts.
MAX_PIPELINE_ACCOUNTS = 10


def check_route_accounts(routes: tuple[Route, ...], source_account: str | None) -> None:
    """A route naming another account than the bucket's would never see an event: refused at the cold start."""
    for index, route in enumerate(routes):
        if route.account is not None and route.account != source_account:
            raise SettingsError(
                f"ROUTES[{index}].account {route.account!r} is not the source bucket's account SOURCE_ACCOUNT "
                f"{source_account!r} (the template's SourceBucketAccount): no event of it reaches the function"
            )


def starter_role(routes: tuple[Route, ...], environ: Mapping[str, str]) -> str | None:
    """The role ARN pattern for pipelines of other accounts; each route's account must be one the role may assume."""
    accounts = [a.strip() for a in environ.get("PIPELINE_ACCOUNTS", "").split(",") if a.strip()]
    for account in accounts:
        if not ACCOUNT_ID.fullmatch(account):
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


def check_allowed(routes: tuple[Route, ...], allowed_text: str) -> None:
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


def check_key_filter(routes: tuple[Route, ...], key_filter: str) -> None:
    """A route no key of the rule's filter can match would never fire: refused, not left to wait in silence."""
    if not key_filter:
        return
    problems = routes_outside_filter(routes, key_filter)
    if problems:
        raise SettingsError(problems[0])
