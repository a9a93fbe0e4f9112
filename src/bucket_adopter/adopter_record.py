"""Pure edits of a bucket's tag set: the record of which trigger stacks adopted the bucket.

One tag per adopter (`s3-pipeline-trigger:adopter:<id>`), and one written only by the adopter that found no
record (`s3-pipeline-trigger:eventbridge-before` = on|off): whether EventBridge was on before the first trigger
stack came. PutBucketTagging replaces the whole tag set, so every edit keeps every other tag as it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

_PREFIX = "s3-pipeline-trigger:"
BEFORE_KEY = f"{_PREFIX}eventbridge-before"
ADOPTER_KEY_PREFIX = f"{_PREFIX}adopter:"
_ON = "on"
_OFF = "off"
# S3: at most 50 user-defined tags per bucket; a value holds at most 256 characters (S3 user guide, "Tagging").
MAX_USER_TAGS = 50
MAX_VALUE_CHARS = 256
# AWS-generated tags (CloudFormation's aws:cloudformation:*, say) are not user-defined and cannot be removed.
_AWS_PREFIX = "aws:"
# 48 bits: a collision needs millions of stacks on one bucket.
_ID_HEX_CHARS = 12

Tag = Mapping[str, str]


class TagLimitReached(ValueError):
    """The bucket has no room left for the adopter record; the message says how many tags it has."""


@dataclass(frozen=True)
class AdopterRecord:
    """What the bucket's tags say about the trigger stacks that adopted it."""

    adopters: frozenset[str]
    # None: no before-tag (no record, or a record someone damaged).
    eventbridge_was_on: bool | None

    @property
    def exists(self) -> bool:
        return bool(self.adopters) or self.eventbridge_was_on is not None


def adopter_id(stack_id: str, logical_resource_id: str) -> str:
    """A short id, the same in every request of one custom resource (a stack created again gets a new one)."""
    return hashlib.sha256(f"{stack_id}\n{logical_resource_id}".encode()).hexdigest()[:_ID_HEX_CHARS]


def adopter_label(stack_id: str, logical_resource_id: str) -> str:
    """The adopter tag's value, for people: `stack-name/LogicalId`."""
    stack_name = stack_id.split(":stack/", 1)[-1].split("/", 1)[0]
    return f"{stack_name}/{logical_resource_id}"[:MAX_VALUE_CHARS]


def record_from_tags(tags: Sequence[Tag]) -> AdopterRecord:
    adopters = frozenset(tag["Key"].removeprefix(ADOPTER_KEY_PREFIX) for tag in tags if _is_adopter(tag))
    before = next((tag["Value"] for tag in tags if tag["Key"] == BEFORE_KEY), None)
    # An unreadable before-value counts as "on": when in doubt, EventBridge stays on.
    return AdopterRecord(adopters=adopters, eventbridge_was_on=None if before is None else before != _OFF)


def with_adopter(tags: Sequence[Tag], adopter: str, label: str, *, eventbridge_was_on: bool) -> list[dict[str, str]]:
    """The tag set with `adopter` added; the before-tag is written only when the bucket has no record yet."""
    record = record_from_tags(tags)
    added = [{"Key": f"{ADOPTER_KEY_PREFIX}{adopter}", "Value": label}]
    if not record.exists:
        added.append({"Key": BEFORE_KEY, "Value": _ON if eventbridge_was_on else _OFF})
    kept = [dict(tag) for tag in tags if tag["Key"] != added[0]["Key"]]
    user_tags = sum(1 for tag in kept + added if not tag["Key"].startswith(_AWS_PREFIX))
    if user_tags > MAX_USER_TAGS:
        raise TagLimitReached(
            f"the bucket has {user_tags - len(added)} tags; the adopter record needs {len(added)} more "
            f"and S3 allows {MAX_USER_TAGS}"
        )
    return kept + added


def without_adopter(tags: Sequence[Tag], adopter: str) -> list[dict[str, str]]:
    """The tag set without `adopter`; once no adopter is left, without any tag of the record."""
    remaining = [dict(tag) for tag in tags if tag["Key"] != f"{ADOPTER_KEY_PREFIX}{adopter}"]
    if record_from_tags(remaining).adopters:
        return remaining
    return [tag for tag in remaining if not tag["Key"].startswith(_PREFIX)]


def _is_adopter(tag: Tag) -> bool:
    return tag["Key"].startswith(ADOPTER_KEY_PREFIX)
