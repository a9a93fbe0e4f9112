"""EventBridge rules that start a pipeline: which are the console's CloudTrail-based S3 rules (pure).

The console's S3 source wizard, and CodePipeline's CLI and CloudFormation guides, make a rule of this shape
("Connecting to Amazon S3 source actions that use EventBridge and AWS CloudTrail"), targeting the pipeline:

    {"source": ["aws.s3"], "detail-type": ["AWS API Call via CloudTrail"],
     "detail": {"eventSource": ["s3.amazonaws.com"],
                "eventName": ["CopyObject", "PutObject", "CompleteMultipartUpload"],
                "requestParameters": {"bucketName": [BUCKET], "key": [KEY]}}}

A rule counts as CloudTrail-based when it matches CloudTrail's S3 object-write events; the bucket and key
lists say which source actions it starts the pipeline for. Matching follows EventBridge's rules for the
operators the console and the guides use (exact strings, prefix, suffix, wildcard, equals-ignore-case).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trigger_fn.routing import Wildcard

CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
S3_EVENT_SOURCE = "s3.amazonaws.com"
# The S3 calls that write an object, as CloudTrail names them.
OBJECT_WRITES = ("PutObject", "CompleteMultipartUpload", "CopyObject")
ENABLED = "ENABLED"
DISABLED = "DISABLED"
DEFAULT_BUS = "default"


@dataclass(frozen=True)
class EventRule:
    name: str
    state: str
    pattern: Mapping[str, Any] | None
    targets: tuple[str, ...]
    event_bus: str = DEFAULT_BUS

    @property
    def enabled(self) -> bool:
        return self.state == ENABLED

    @property
    def cloudtrail_s3(self) -> bool:
        return is_cloudtrail_s3_pattern(self.pattern)

    def starts_writes_to(self, bucket: str, key: str) -> bool:
        """Would an object write to s3://bucket/key, logged by CloudTrail, match this rule?"""
        if not self.cloudtrail_s3 or self.pattern is None:
            return False
        request = _field(self.pattern.get("detail"), "requestParameters")
        return _allows(_field(request, "bucketName"), bucket) and _allows(_field(request, "key"), key)

    def literal_objects(self) -> tuple[tuple[str, str], ...] | None:
        """The (bucket, key) pairs the rule names as exact strings; None when it names them by any other means."""
        if self.pattern is None:
            return None
        request = _field(self.pattern.get("detail"), "requestParameters")
        buckets, keys = _field(request, "bucketName"), _field(request, "key")
        if not _all_strings(buckets) or not _all_strings(keys):
            return None
        return tuple((bucket, key) for bucket in buckets for key in keys)


def _all_strings(matchers: Any) -> bool:
    return isinstance(matchers, list) and bool(matchers) and all(isinstance(item, str) for item in matchers)


def parse_pattern(text: str | None) -> Mapping[str, Any] | None:
    """A rule's EventPattern, or None for a scheduled rule or a pattern that is not a JSON object."""
    if not text:
        return None
    try:
        pattern = json.loads(text)
    except json.JSONDecodeError:
        return None
    return pattern if isinstance(pattern, dict) else None


def is_cloudtrail_s3_pattern(pattern: Mapping[str, Any] | None) -> bool:
    if pattern is None:
        return False
    detail = pattern.get("detail")
    return (
        _allows(pattern.get("source"), "aws.s3")
        and _allows(pattern.get("detail-type"), CLOUDTRAIL_DETAIL_TYPE)
        and _allows(_field(detail, "eventSource"), S3_EVENT_SOURCE)
        and any(_allows(_field(detail, "eventName"), write) for write in OBJECT_WRITES)
    )


def _field(node: Any, name: str) -> Any:
    return node.get(name) if isinstance(node, Mapping) else None


def _allows(matchers: Any, value: str) -> bool:
    """Does an EventBridge pattern field accept this string? An absent field accepts anything."""
    if matchers is None:
        return True
    if not isinstance(matchers, Sequence) or isinstance(matchers, str):
        # A nested object where a value list belongs: the field is not a plain string in the event.
        return False
    return any(_matches(matcher, value) for matcher in matchers)


def _matches(matcher: Any, value: str) -> bool:  # noqa: PLR0911 - one branch per operator
    if isinstance(matcher, str):
        return matcher == value
    if not isinstance(matcher, Mapping) or len(matcher) != 1:
        return False
    ((operator, argument),) = matcher.items()
    if operator == "prefix" and isinstance(argument, str):
        return value.startswith(argument)
    if operator == "suffix" and isinstance(argument, str):
        return value.endswith(argument)
    if operator == "wildcard" and isinstance(argument, str):
        return Wildcard.parse(argument).matches(value)
    if operator == "equals-ignore-case" and isinstance(argument, str):
        return value.casefold() == argument.casefold()
    if operator == "anything-but":
        excluded = argument if isinstance(argument, list) else [argument]
        return not any(_matches(item, value) for item in excluded)
    # Numeric, exists, cidr...: none of them matches an S3 name; an unknown operator is not guessed at.
    return False
