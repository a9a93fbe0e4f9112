"""What the custom resource does for Create, Update and Delete, and the physical id that remembers it.

The physical id is the only memory between requests: it names the bucket and whether EventBridge
was already on before this stack adopted the bucket (`s3-eventbridge:<bucket>:was-on|was-off`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bucket_adopter.notifications import eventbridge_enabled, with_eventbridge
from bucket_names import is_bucket_name

_PREFIX = "s3-eventbridge"
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
class Adoption:
    """A bucket this stack turned EventBridge on for, and whether it was on before the stack came."""

    bucket: str
    was_on: bool

    @property
    def physical_id(self) -> str:
        return f"{_PREFIX}:{self.bucket}:{_WAS_ON if self.was_on else _WAS_OFF}"

    @property
    def attributes(self) -> dict[str, str]:
        """Data for Fn::GetAtt (CloudFormation attributes are strings)."""
        return {"BucketName": self.bucket, "EventBridgeWasEnabled": "true" if self.was_on else "false"}


@dataclass(frozen=True)
class Change:
    """The adoption to report, and the configuration to write (None: the bucket is already right)."""

    adoption: Adoption
    write: dict[str, Any] | None


def target_from_properties(properties: Mapping[str, Any]) -> Target:
    bucket = properties.get("BucketName")
    if not isinstance(bucket, str) or not is_bucket_name(bucket):
        raise InvalidProperties(f"BucketName must be an S3 bucket name, got {bucket!r}")
    owner = properties.get("ExpectedBucketOwner") or None
    if owner is not None and (not isinstance(owner, str) or not _ACCOUNT_ID.fullmatch(owner)):
        raise InvalidProperties(f"ExpectedBucketOwner must be a 12-digit account id, got {owner!r}")
    return Target(bucket=bucket, expected_owner=owner)


def parse_physical_id(physical_id: str) -> Adoption | None:
    """The adoption a physical id records, or None when it records none (a failed Create, say)."""
    prefix, _, rest = physical_id.partition(":")
    bucket, _, state = rest.rpartition(":")
    if prefix != _PREFIX or not is_bucket_name(bucket) or state not in (_WAS_ON, _WAS_OFF):
        return None
    return Adoption(bucket=bucket, was_on=state == _WAS_ON)


def not_adopted_id(request_id: str) -> str:
    return f"{_NOT_ADOPTED_PREFIX}:{request_id}"


def plan_adopt(bucket: str, current: Mapping[str, Any], *, was_on: bool | None = None) -> Change:
    """Create (or adopting a new bucket on Update): remember the before-fact, turn EventBridge on."""
    already_on = eventbridge_enabled(current)
    adoption = Adoption(bucket=bucket, was_on=already_on if was_on is None else was_on)
    return Change(adoption=adoption, write=None if already_on else with_eventbridge(current, enabled=True))


def plan_update(previous: Adoption | None, bucket: str, current: Mapping[str, Any]) -> Change:
    """Same bucket: keep the fact recorded at Create, so a stack that turned EventBridge on never
    mistakes that for "it was on before". Another bucket: adopt it afresh (a new physical id, after
    which CloudFormation sends Delete for the old one)."""
    if previous is not None and previous.bucket == bucket:
        return plan_adopt(bucket, current, was_on=previous.was_on)
    return plan_adopt(bucket, current)


def plan_release(adoption: Adoption, current: Mapping[str, Any]) -> dict[str, Any] | None:
    """Delete: the configuration to write back, or None when there is nothing to undo."""
    if adoption.was_on or not eventbridge_enabled(current):
        return None
    return with_eventbridge(current, enabled=False)
