"""The sample events in events/: the same files `sam local invoke -e events/NAME` and `make invoke` use."""

import copy
import json
from datetime import UTC, datetime
from typing import Any

from support.environment import EVENTS


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return event


def fresh(event: Any) -> Any:
    """The event as delivered just now (its `time` is now), so the function trusts its token without a lookup."""
    if not isinstance(event, dict) or not isinstance(event.get("time"), str):
        return event
    return copy.deepcopy(event) | {"time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
