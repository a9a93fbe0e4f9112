"""The sample events in events/: the same files `sam local invoke -e events/NAME` and `make invoke` use."""

import json
from typing import Any

from support.environment import EVENTS


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return event
