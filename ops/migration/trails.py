"""Which CloudTrail trail selectors log the object writes of an S3 key (pure).

Both kinds of selector are read: basic `EventSelectors` (DataResources of type AWS::S3::Object, each value an
ARN prefix, `arn:<partition>:s3` meaning every bucket) with a ReadWriteType that includes writes, and
`AdvancedEventSelectors` (every field condition must hold). A condition on a field this module cannot know
for a future write (who makes it, from where) is taken as holding: the selector may log the key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ops.migration.event_rules import OBJECT_WRITES

S3_OBJECT = "AWS::S3::Object"
_LOGS_WRITES = ("WriteOnly", "All")


@dataclass(frozen=True)
class Trail:
    name: str
    logging: bool
    event_selectors: tuple[Mapping[str, Any], ...] = ()
    advanced_event_selectors: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class CoveringSelector:
    """One selector of one trail that logs writes to a key, named so a person can find it in the console."""

    trail: str
    selector: str
    trail_logging: bool


def object_arn(bucket: str, key: str, partition: str = "aws") -> str:
    return f"arn:{partition}:s3:::{bucket}/{key}"


def selectors_logging(trail: Trail, bucket: str, key: str, partition: str = "aws") -> tuple[CoveringSelector, ...]:
    arn = object_arn(bucket, key, partition)
    found = [
        CoveringSelector(trail.name, value, trail.logging)
        for selector in trail.event_selectors
        if selector.get("ReadWriteType", "All") in _LOGS_WRITES
        for resource in selector.get("DataResources", [])
        if resource.get("Type") == S3_OBJECT
        for value in resource.get("Values", [])
        if _basic_value_covers(value, arn, partition)
    ]
    found.extend(
        CoveringSelector(trail.name, f"advanced selector {selector.get('Name') or f'#{index + 1}'!r}", trail.logging)
        for index, selector in enumerate(trail.advanced_event_selectors)
        if _advanced_logs_a_write(selector.get("FieldSelectors", []), arn)
    )
    return tuple(found)


def _basic_value_covers(value: str, arn: str, partition: str) -> bool:
    every_bucket = f"arn:{partition}:s3"
    if value in (every_bucket, f"{every_bucket}:::"):
        return True
    return arn.startswith(value)


def _advanced_logs_a_write(field_selectors: Sequence[Mapping[str, Any]], arn: str) -> bool:
    return any(
        all(_condition_holds(condition, _write_event_fields(arn, event_name)) for condition in field_selectors)
        for event_name in OBJECT_WRITES
    )


def _write_event_fields(arn: str, event_name: str) -> dict[str, str]:
    return {
        "eventCategory": "Data",
        "resources.type": S3_OBJECT,
        "resources.ARN": arn,
        "readOnly": "false",
        "eventName": event_name,
        "eventSource": "s3.amazonaws.com",
    }


def _condition_holds(condition: Mapping[str, Any], event: Mapping[str, str]) -> bool:
    field = condition.get("Field", "")
    if field not in event:
        return True
    value = event[field]
    return all(
        _operator_holds(operator, value, condition[operator]) for operator in _OPERATORS if operator in condition
    )


_OPERATORS = ("Equals", "StartsWith", "EndsWith", "NotEquals", "NotStartsWith", "NotEndsWith")


def _operator_holds(operator: str, value: str, given: Sequence[str]) -> bool:
    positive = operator.removeprefix("Not")
    if positive == "Equals":
        found = value in given
    elif positive == "StartsWith":
        found = any(value.startswith(item) for item in given)
    else:
        found = any(value.endswith(item) for item in given)
    return not found if operator.startswith("Not") else found
