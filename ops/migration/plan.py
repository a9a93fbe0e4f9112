"""What to deploy for a pipeline and what apply will then change, from its scanned status (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ops.migration.pipelines import S3Source
from ops.migration.samconfig import expressible, json_for_sam
from ops.migration.start_modes import PipelineStatus, SourceStatus
from ops.migration.trigger_stacks import TriggerStack, stack_for_bucket
from trigger_fn.route_grants import MAX_ROUTED_PIPELINES
from trigger_fn.routing import Route, Wildcard

# The template parameters that say which keys start which pipelines; everything else of a stack is kept.
ROUTE_PARAMETERS = (
    "ObjectKey",
    "PipelineName",
    "SourceActionName",
    "OverrideObjectKey",
    "LatestOnly",
    "Routes",
    "RoutedPipelines",
    "RoutesKeyFilter",
)
NEW_STACK_PREFIX = "s3-pipeline-trigger-"
# S3 does not say which account owns a bucket it refuses to describe: the person fills it in.
BUCKET_OWNER_PLACEHOLDER = "<bucket-owner-account-id>"
# What template.yaml's ObjectKey AllowedPattern refuses: the template puts the key into JSON unescaped.
_NOT_IN_OBJECT_KEY = re.compile(r'["\\\x00-\x1f]')
# CloudFormation stack names: a letter, then letters, digits and hyphens, at most 128 characters.
_MAX_STACK_NAME = 128
DEPLOY_SETTINGS: dict[str, str | bool] = {
    "capabilities": "CAPABILITY_IAM",
    "confirm_changeset": True,
    "resolve_s3": True,
}


@dataclass(frozen=True)
class Deployment:
    """One stack to deploy (or update) for one bucket: its samconfig environment and what it covers."""

    bucket: str
    stack_name: str
    existing_stack: str | None
    parameters: tuple[tuple[str, str], ...]
    routes: tuple[Route, ...]
    # The stack already covers every source this plan adds: deploying changes nothing.
    up_to_date: bool = False

    @property
    def environment(self) -> str:
        return self.stack_name


@dataclass(frozen=True)
class Plan:
    pipeline: str
    region: str
    digest: str
    deployments: tuple[Deployment, ...]
    # Source actions apply switches from polling to the trigger, and the rules it disables.
    polling_to_stop: tuple[S3Source, ...]
    rules_to_disable: tuple[str, ...]
    # What blocks the move of a source (apply will refuse), and what the trigger does differently.
    blockers: tuple[str, ...] = field(default=())
    warnings: tuple[str, ...] = field(default=())

    @property
    def nothing_to_do(self) -> bool:
        return all(d.up_to_date for d in self.deployments) and not self.polling_to_stop and not self.rules_to_disable


def key_pattern(key: str) -> str:
    """The trigger reads `*` as a wildcard and `\\` as an escape: both are escaped so only this key matches."""
    return key.replace("\\", "\\\\").replace("*", "\\*")


def source_route(pipeline: str, source: S3Source) -> Route:
    return Route(
        key=key_pattern(source.key),
        pipeline=pipeline,
        source_action=source.action,
        override_key=source.allow_key_override,
    )


def routes_key_filter(patterns: Iterable[str]) -> str:
    """One EventBridge wildcard every pattern's keys match: the common literal prefix, `*`, the common suffix."""
    pieces = [Wildcard.parse(pattern).pieces for pattern in patterns]
    if len({tuple(p) for p in pieces}) == 1 and len(pieces[0]) == 1:
        return key_pattern(pieces[0][0])
    prefix = _common_prefix([p[0] for p in pieces])
    suffix = _common_prefix([p[-1][::-1] for p in pieces])[::-1]
    # An exact key must still be long enough for the prefix and the suffix not to overlap in it.
    room = min((len(p[0]) for p in pieces if len(p) == 1), default=None)
    if room is not None:
        suffix = suffix[len(suffix) - max(0, min(len(suffix), room - len(prefix))) :]
    return f"{key_pattern(prefix)}*{key_pattern(suffix)}"


def _common_prefix(texts: Sequence[str]) -> str:
    shortest = min(texts, key=len)
    for index, char in enumerate(shortest):
        if any(text[index] != char for text in texts):
            return shortest[:index]
    return shortest


def new_stack_name(bucket: str) -> str:
    name = NEW_STACK_PREFIX + re.sub(r"[^A-Za-z0-9-]", "-", bucket)
    return name[:_MAX_STACK_NAME].rstrip("-")


def route_parameters(routes: Sequence[Route]) -> tuple[tuple[str, str], ...]:
    """One route the one-route parameters can say, with a key SAM and ObjectKey can carry: those. Else Routes JSON."""
    if len(routes) == 1 and _one_route_parameters_say(routes[0]):
        (route,) = routes
        return (
            ("ObjectKey", route.key),
            ("PipelineName", route.pipeline),
            ("SourceActionName", route.source_action),
            ("OverrideObjectKey", "true" if route.override_key else "false"),
            ("LatestOnly", "true" if route.latest_only else "false"),
        )
    key_filter = routes_key_filter(route.key for route in routes)
    return (
        ("Routes", json_for_sam([_route_json(route) for route in routes])),
        ("RoutedPipelines", ",".join(dict.fromkeys(route.pipeline for route in routes))),
        # A filter SAM could not carry falls back to every key; the function still routes exactly.
        ("RoutesKeyFilter", key_filter if expressible(key_filter) else "*"),
    )


def _one_route_parameters_say(route: Route) -> bool:
    plain = not route.variables and route.account is None and route.pipeline_account is None
    return plain and expressible(route.key) and not _NOT_IN_OBJECT_KEY.search(route.key)


def deployment(
    bucket: str,
    pipeline: str,
    sources: Sequence[S3Source],
    stacks: Iterable[TriggerStack],
    *,
    other_account: bool = False,
) -> Deployment:
    """The stack for this bucket: the one already serving it, updated with these routes, or a new one adopting it
    (a bucket of another account: a new one fed by that account's source-account.yaml)."""
    existing = stack_for_bucket(stacks, bucket)
    added = [source_route(pipeline, source) for source in sources]
    if existing is None or existing.settings is None:
        routes = tuple(added)
        kept: dict[str, str] = {"SourceBucketName": bucket, "CreateSourceBucket": "false"}
        if other_account:
            kept["SourceBucketAccount"] = BUCKET_OWNER_PLACEHOLDER
        return Deployment(bucket, new_stack_name(bucket), None, (*kept.items(), *route_parameters(routes)), routes)
    replaced = {(route.pipeline, route.source_action) for route in added}
    routes = (*(r for r in existing.settings.routes if (r.pipeline, r.source_action) not in replaced), *added)
    up_to_date = all(existing.covers(pipeline, source) for source in sources)
    if up_to_date:
        routes = existing.settings.routes
    # Empty values are the template's defaults; SAM passes UsePreviousValue for parameters left out.
    kept = {name: value for name, value in existing.parameters.items() if name not in ROUTE_PARAMETERS and value}
    first = [(name, kept.pop(name)) for name in ("SourceBucketName", "CreateSourceBucket") if name in kept]
    rest = sorted(kept.items())
    return Deployment(
        bucket, existing.name, existing.name, (*first, *route_parameters(routes), *rest), tuple(routes), up_to_date
    )


def central_buckets(status: PipelineStatus) -> tuple[str, ...]:
    """The sources' buckets of another account: each needs source-account.yaml deployed in its account."""
    return tuple(dict.fromkeys(s.source.bucket for s in status.sources if s.bucket.other_account))


def plan(status: PipelineStatus, region: str, digest: str, stacks: Sequence[TriggerStack]) -> Plan:
    coverable = [s for s in status.sources if not _source_blockers(s, region)]
    buckets = dict.fromkeys(s.source.bucket for s in coverable)
    others = central_buckets(status)
    deployments = tuple(
        deployment(
            bucket,
            status.name,
            [s.source for s in coverable if s.source.bucket == bucket],
            stacks,
            other_account=bucket in others,
        )
        for bucket in buckets
    )
    blockers = [problem for s in status.sources for problem in _source_blockers(s, region)]
    blockers.extend(
        f"{d.stack_name} would route {len({r.pipeline for r in d.routes})} pipelines; "
        f"a stack may start at most {MAX_ROUTED_PIPELINES}: move some to a stack of their own"
        for d in deployments
        if len({r.pipeline for r in d.routes}) > MAX_ROUTED_PIPELINES
    )
    return Plan(
        pipeline=status.name,
        region=region,
        digest=digest,
        deployments=deployments,
        polling_to_stop=tuple(s.source for s in status.sources if s.source.polling),
        rules_to_disable=tuple(rule.name for rule in status.cloudtrail_rules),
        blockers=tuple(blockers),
        warnings=tuple(_warnings(status, deployments, stacks)),
    )


def _source_blockers(status: SourceStatus, region: str) -> list[str]:
    source, bucket = status.source, status.bucket
    found = []
    if source.region and source.region != region:
        found.append(
            f"{source.action} reads s3://{source.bucket} in {source.region}: S3 sends its events to EventBridge "
            f"there, and a stack there cannot start a pipeline in {region}"
        )
    if bucket.problem and not bucket.other_account:
        found.append(
            f"{source.action}: {bucket.problem}. A bucket in another account sends its events to that account, "
            "and the trigger starts pipelines only in its own account"
        )
    return found


def _warnings(status: PipelineStatus, deployments: Sequence[Deployment], stacks: Sequence[TriggerStack]) -> list[str]:
    found = []
    for s in status.sources:
        if s.bucket.problem is None and not s.bucket.versioned:
            found.append(
                f"s3://{s.source.bucket} is not versioned ({s.bucket.versioning}): the trigger starts the pipeline "
                "without a version pin, so it reads the newest object, as it does now; turn versioning on to pin"
            )
        if "*" in s.source.key or "\\" in s.source.key:
            escaped = key_pattern(s.source.key)
            found.append(f"{s.source.action}'s key {s.source.key!r} is written {escaped!r}, so only it matches")
        if s.bucket.other_account:
            found.append(
                f"s3://{s.source.bucket} could not be read as this account's: it is taken for a central bucket of "
                f"another account; replace {BUCKET_OWNER_PLACEHOLDER} with its account id"
            )
        if s.source.role_arn:
            found.append(
                f"{s.source.action} runs with its own role {s.source.role_arn}: if its bucket is in another account, "
                "that account needs source-account.yaml and the bucket policy of make cross-account-policies"
            )
    if len(status.sources) > 1:
        names = ", ".join(s.source.action for s in status.sources)
        found.append(
            f"{len(status.sources)} S3 sources ({names}): an upload starts the pipeline pinned on the action whose key "
            "it is; the other sources read their newest version, as CodePipeline does for any start"
        )
    for rule in status.other_rules:
        found.append(
            f"rule {rule.name} also targets the pipeline with another pattern: left alone, it keeps starting it"
        )
    for rule in status.unmatched_cloudtrail_rules:
        found.append(
            f"CloudTrail rule {rule.name} matches writes to none of the sources, but starts the pipeline: "
            "apply disables it too"
        )
    for d in deployments:
        existing = next((stack for stack in stacks if stack.name == d.existing_stack), None)
        if (
            existing
            and existing.parameters.get("CreateExamplePipeline") == "true"
            and any(n == "Routes" for n, _ in d.parameters)
        ):
            found.append(f"{d.stack_name} has CreateExamplePipeline=true: with Routes the example pipeline is deleted")
    for stack in stacks:
        if stack.settings_problem:
            found.append(f"stack {stack.name}: its function's settings do not load ({stack.settings_problem})")
    return found


def _route_json(route: Route) -> dict[str, object]:
    entry: dict[str, object] = {"key": route.key, "pipeline": route.pipeline}
    if route.source_action != "Source":
        entry["sourceAction"] = route.source_action
    if route.override_key:
        entry["overrideKey"] = True
    if not route.latest_only:
        entry["latestOnly"] = False
    if route.variables:
        entry["variables"] = dict(route.variables)
    if route.account is not None:
        entry["account"] = route.account
    if route.pipeline_account is not None:
        entry["pipelineAccount"] = route.pipeline_account
    return entry
