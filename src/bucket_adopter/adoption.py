"""What the custom resource does for Create, Update and Delete, and the physical id that remembers it.

Several trigger stacks may adopt one bucket, so the bucket itself records its adopters (its tags, see
adopter_record.py) and whether EventBridge was on before the first of them came. The physical id names the
bucket (`s3-eventbridge:<bucket>:tag-record`). Ids written before the record existed carry their own
before-fact (`s3-eventbridge:<bucket>:was-on|was-off`); they stay readable, and stay as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bucket_adopter.adopter_record import (
    Tag,
    adopter_id,
    adopter_label,
    record_from_tags,
    with_adopter,
    without_adopter,
)
from bucket_adopter.notifications import eventbridge_enabled, with_eventbridge
from bucket_names import is_bucket_name

_PREFIX = "s3-eventbridge"
_TAG_RECORD = "tag-record"
_WAS_ON = "was-on"
_WAS_OFF = "was-off"
# Names CloudFormation gets back for a Create that adopted nothing; a later Delete leaves the bucket alone.
_NOT_ADOPTED_PREFIX = "s3-eventbridge-not-adopted"
_ACCOUNT_ID = re.compile(r"[0-9]{12}")


class InvalidProperties(ValueError):
    """The custom resource's properties in the template are wrong; the message says which one."""


class UnknownRequestType(ValueError):
    """CloudFormation asked for something other than Create, Update or Delete."""


@dataclass(frozen=True)
class Target:
    """The bucket named by the resource properties."""

    bucket: str
    expected_owner: str | None = None


@dataclass(frozen=True)
class Adopter:
    """This custom resource, as the bucket's record names it."""

    id: str
    label: str

    @classmethod
    def of(cls, stack_id: str, logical_resource_id: str) -> Adopter:
        return cls(adopter_id(stack_id, logical_resource_id), adopter_label(stack_id, logical_resource_id))


@dataclass(frozen=True)
class AdoptedBucket:
    """What a physical id says: the bucket, and where the before-fact lives."""

    bucket: str
    # None: in the bucket's record. True/False: in the id itself, written before the record existed.
    legacy_was_on: bool | None = None

    @property
    def physical_id(self) -> str:
        if self.legacy_was_on is None:
            return f"{_PREFIX}:{self.bucket}:{_TAG_RECORD}"
        return f"{_PREFIX}:{self.bucket}:{_WAS_ON if self.legacy_was_on else _WAS_OFF}"


@dataclass(frozen=True)
class Adoption:
    """A bucket this stack turned EventBridge on for, and whether it was on before the first trigger stack came."""

    adopted: AdoptedBucket
    was_on: bool

    @property
    def physical_id(self) -> str:
        return self.adopted.physical_id

    @property
    def attributes(self) -> dict[str, str]:
        """Data for Fn::GetAtt (CloudFormation attributes are strings)."""
        return {"BucketName": self.adopted.bucket, "EventBridgeWasEnabled": "true" if self.was_on else "false"}


@dataclass(frozen=True)
class AdoptPlan:
    """Create or Update: the record to write first, then the configuration (None: already right)."""

    adoption: Adoption
    tags: list[dict[str, str]] | None
    notifications: dict[str, Any] | None


@dataclass(frozen=True)
class ReleasePlan:
    """Delete: turn EventBridge off first (or not), then write the record (None: leave the tags alone)."""

    turn_off: bool
    tags: list[dict[str, str]] | None
    why: str


def target_from_properties(properties: Mapping[str, Any]) -> Target:
    bucket = properties.get("BucketName")
    if not isinstance(bucket, str) or not is_bucket_name(bucket):
        raise InvalidProperties(f"BucketName must be an S3 bucket name, got {bucket!r}")
    owner = properties.get("ExpectedBucketOwner") or None
    if owner is not None and (not isinstance(owner, str) or not _ACCOUNT_ID.fullmatch(owner)):
        raise InvalidProperties(f"ExpectedBucketOwner must be a 12-digit account id, got {owner!r}")
    return Target(bucket=bucket, expected_owner=owner)


def parse_physical_id(physical_id: str) -> AdoptedBucket | None:
    """The bucket a physical id names, or None when it names none (a failed Create, say)."""
    prefix, _, rest = physical_id.partition(":")
    bucket, _, state = rest.rpartition(":")
    if prefix != _PREFIX or not is_bucket_name(bucket):
        return None
    if state == _TAG_RECORD:
        return AdoptedBucket(bucket)
    if state in (_WAS_ON, _WAS_OFF):
        return AdoptedBucket(bucket, legacy_was_on=state == _WAS_ON)
    return None


def not_adopted_id(request_id: str) -> str:
    return f"{_NOT_ADOPTED_PREFIX}:{request_id}"


def bucket_to_adopt(previous: AdoptedBucket | None, bucket: str) -> AdoptedBucket:
    """Update: the same bucket keeps its physical id, since a new id would make CloudFormation send Delete for
    the old one, and that Delete would release this very stack. Another bucket gets a new id (and the old
    one its Delete). Create: `previous` is None."""
    if previous is not None and previous.bucket == bucket:
        return previous
    return AdoptedBucket(bucket)


def plan_adopt(
    adopted: AdoptedBucket, adopter: Adopter, notifications: Mapping[str, Any], tags: Sequence[Tag]
) -> AdoptPlan:
    """Add this stack to the record, then turn EventBridge on. A retry (a Create whose answer was lost, an
    Update) finds itself recorded and keeps what the record says, never the "on" it caused itself."""
    already_on = eventbridge_enabled(notifications)
    written: list[dict[str, str]] | None = None
    if adopter.id not in record_from_tags(tags).adopters:
        # A stack deployed before the record brings its own before-fact: the bucket reads "on" because of it.
        first_fact = already_on if adopted.legacy_was_on is None else adopted.legacy_was_on
        written = with_adopter(tags, adopter.id, adopter.label, eventbridge_was_on=first_fact)
    recorded = record_from_tags(written if written is not None else tags).eventbridge_was_on
    return AdoptPlan(
        # A record without its before-tag counts as "on": when in doubt, EventBridge stays on.
        adoption=Adoption(adopted, was_on=recorded is not False),
        tags=written,
        notifications=None if already_on else with_eventbridge(notifications, enabled=True),
    )


def plan_release(adopted: AdoptedBucket, adopter: Adopter, tags: Sequence[Tag]) -> ReleasePlan:
    """Leave the record; turn EventBridge off only when no adopter is left and it was off before the first."""
    record = record_from_tags(tags)
    if adopter.id in record.adopters:
        others = record.adopters - {adopter.id}
        last_and_was_off = not others and record.eventbridge_was_on is False
        why = f"{len(others)} other adopter(s) remain" if others else "the last adopter left"
        return ReleasePlan(last_and_was_off, without_adopter(tags, adopter.id), why)
    if record.exists:
        return ReleasePlan(False, None, "the record names other adopters, not this stack")
    if adopted.legacy_was_on is None:
        # Someone replaced the bucket's tags (another stack's Tags, say): who else relies on EventBridge is unknown.
        return ReleasePlan(False, None, "the bucket's adopter record is gone; leaving EventBridge on")
    # An id from before the record, and no record: what that version did, by its own before-fact.
    return ReleasePlan(not adopted.legacy_was_on, None, "no record; the physical id holds the before-fact")


def plan_turn_off(notifications: Mapping[str, Any]) -> dict[str, Any] | None:
    """The configuration with EventBridge off, or None when it is off already."""
    return with_eventbridge(notifications, enabled=False) if eventbridge_enabled(notifications) else None
