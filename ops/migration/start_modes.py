"""How each S3 source of a pipeline is started today, and what that means for the pipeline (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ops.migration.event_rules import EventRule
from ops.migration.pipelines import S3Source
from ops.migration.trails import CoveringSelector, Trail, selectors_logging
from ops.migration.trigger_stacks import TriggerStack, covering_stacks

MIGRATED = "migrated"
APPLY_PENDING = "deployed, apply pending"
TO_MIGRATE = "to migrate"
NOT_STARTED = "not started by uploads"


@dataclass(frozen=True)
class BucketFacts:
    name: str
    # None when the bucket could not be read; `problem` says why.
    eventbridge: bool | None
    versioning: str | None  # "Enabled", "Suspended", "Never enabled"
    problem: str | None = None
    # Read with ExpectedBucketOwner and refused: the bucket is (most likely) another account's, a central bucket.
    other_account: bool = False

    @property
    def versioned(self) -> bool:
        return self.versioning == "Enabled"


@dataclass(frozen=True)
class SourceStatus:
    source: S3Source
    bucket: BucketFacts
    # Enabled CloudTrail-based rules that start the pipeline on a write to this source's key.
    cloudtrail_rules: tuple[EventRule, ...]
    trigger_stacks: tuple[TriggerStack, ...]
    trails: tuple[CoveringSelector, ...]

    @property
    def started_by(self) -> tuple[str, ...]:
        ways = [f"trigger stack {stack.name}" for stack in self.trigger_stacks]
        if self.source.polling:
            ways.append("polling")
        ways.extend(f"CloudTrail rule {rule.name}" for rule in self.cloudtrail_rules)
        return tuple(ways)

    @property
    def started_the_old_way(self) -> bool:
        return self.source.polling or bool(self.cloudtrail_rules)


@dataclass(frozen=True)
class PipelineStatus:
    name: str
    arn: str
    structure: dict[str, Any]
    sources: tuple[SourceStatus, ...]
    # Every enabled CloudTrail S3 rule targeting the pipeline, also one whose bucket or key is none of its
    # sources': apply disables them all, since each starts the pipeline.
    cloudtrail_rules: tuple[EventRule, ...]
    # CloudTrail S3 rules targeting the pipeline that are already disabled.
    disabled_cloudtrail_rules: tuple[EventRule, ...]
    # Rules that target the pipeline with another pattern (a schedule, native S3 events...): never touched.
    other_rules: tuple[EventRule, ...]

    @property
    def verdict(self) -> str:
        covered = all(status.trigger_stacks for status in self.sources)
        old_way = bool(self.cloudtrail_rules) or any(status.started_the_old_way for status in self.sources)
        if covered:
            return APPLY_PENDING if old_way else MIGRATED
        return TO_MIGRATE if old_way else NOT_STARTED

    @property
    def unmatched_cloudtrail_rules(self) -> tuple[EventRule, ...]:
        """Enabled CloudTrail S3 rules on the pipeline that match a write to none of its sources."""
        matched = {rule.name for status in self.sources for rule in status.cloudtrail_rules}
        return tuple(rule for rule in self.cloudtrail_rules if rule.name not in matched)


def source_status(
    pipeline: str,
    source: S3Source,
    *,
    bucket: BucketFacts,
    rules: Iterable[EventRule],
    stacks: Iterable[TriggerStack],
    trails: Iterable[Trail],
) -> SourceStatus:
    return SourceStatus(
        source=source,
        bucket=bucket,
        cloudtrail_rules=tuple(
            rule for rule in rules if rule.enabled and rule.starts_writes_to(source.bucket, source.key)
        ),
        trigger_stacks=covering_stacks(stacks, pipeline, source),
        trails=tuple(selector for trail in trails for selector in selectors_logging(trail, source.bucket, source.key)),
    )


def pipeline_status(
    name: str,
    arn: str,
    structure: dict[str, Any],
    sources: tuple[SourceStatus, ...],
    rules: Iterable[EventRule],
) -> PipelineStatus:
    """`rules` are the rules that target the pipeline, in any state."""
    rules = tuple(rules)
    return PipelineStatus(
        name=name,
        arn=arn,
        structure=structure,
        sources=sources,
        cloudtrail_rules=tuple(rule for rule in rules if rule.cloudtrail_s3 and rule.enabled),
        disabled_cloudtrail_rules=tuple(rule for rule in rules if rule.cloudtrail_s3 and not rule.enabled),
        other_rules=tuple(rule for rule in rules if not rule.cloudtrail_s3),
    )
