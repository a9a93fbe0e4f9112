"""Read an account into PipelineStatus records: the adapter's reads handed to the pure classification."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ops.migration.account import AwsAccount, MigrationError, PipelineNotFound
from ops.migration.pipelines import s3_sources, source_providers
from ops.migration.start_modes import BucketFacts, PipelineStatus, pipeline_status, source_status
from ops.migration.trails import Trail
from ops.migration.trigger_stacks import TriggerStack


class NoS3Source(MigrationError):
    pass


@dataclass(frozen=True)
class AccountView:
    """What every pipeline's status is read against, read once per run."""

    account_id: str
    trails: tuple[Trail, ...]
    stacks: tuple[TriggerStack, ...]


def account_view(account: AwsAccount) -> AccountView:
    return AccountView(account.account_id(), account.trails(), account.trigger_stacks())


def pipeline_status_of(
    account: AwsAccount, name: str, view: AccountView, buckets: dict[str, BucketFacts] | None = None
) -> PipelineStatus:
    """Raises NoS3Source for a pipeline without an S3 source action."""
    record = account.pipeline(name)
    sources = s3_sources(record.structure)
    if not sources:
        providers = ", ".join(source_providers(record.structure)) or "none"
        raise NoS3Source(f"pipeline {name!r} has no S3 source action (its source actions: {providers})")
    buckets = {} if buckets is None else buckets
    for source in sources:
        if source.bucket not in buckets:
            buckets[source.bucket] = account.bucket_facts(source.bucket, view.account_id)
    rules = account.rules_targeting(record.arn)
    statuses = tuple(
        source_status(name, source, bucket=buckets[source.bucket], rules=rules, stacks=view.stacks, trails=view.trails)
        for source in sources
    )
    return pipeline_status(name, record.arn, record.structure, statuses, rules)


def scan(account: AwsAccount, view: AccountView) -> Sequence[PipelineStatus]:
    """Every pipeline in the region with at least one S3 source action, by name."""
    buckets: dict[str, BucketFacts] = {}
    found = []
    for name in sorted(account.pipeline_names()):
        try:
            found.append(pipeline_status_of(account, name, view, buckets))
        except (NoS3Source, PipelineNotFound):
            # Not an S3-source pipeline, or deleted since the listing: nothing to move either way.
            continue
    return found
