"""Pure edits of an S3 bucket notification configuration: EventBridge on or off, everything else kept."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

EVENTBRIDGE = "EventBridgeConfiguration"
# Keys boto3 adds to every response; they are not part of the configuration and S3 rejects them on write.
_RESPONSE_ONLY_KEYS = frozenset({"ResponseMetadata"})


def configuration_from_response(response: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration as GetBucketNotificationConfiguration returned it, ready to be written back.

    Every key except the response metadata is kept, unknown ones too: a configuration type this code
    does not know is then refused by the SDK on write (a clear failure) instead of being silently wiped.
    """
    return {name: copy.deepcopy(value) for name, value in response.items() if name not in _RESPONSE_ONLY_KEYS}


def eventbridge_enabled(configuration: Mapping[str, Any]) -> bool:
    return EVENTBRIDGE in configuration


def with_eventbridge(configuration: Mapping[str, Any], *, enabled: bool) -> dict[str, Any]:
    """A copy of `configuration` with EventBridge on or off; queue, topic and Lambda settings untouched."""
    merged = configuration_from_response(configuration)
    if enabled:
        merged[EVENTBRIDGE] = {}
    else:
        merged.pop(EVENTBRIDGE, None)
    return merged
