"""Which routes an object key belongs to, with the same wildcard meaning as the EventBridge rule."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Route:
    """Objects whose key matches `key` start `pipeline` through its S3 source action `source_action`."""

    key: str
    pipeline: str
    source_action: str = "Source"
    override_key: bool = False
    # Pipeline variable name -> upload fact ("key", "version", "etag", "size", "reason", "bucket").
    variables: tuple[tuple[str, str], ...] = ()
    _matcher: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_matcher", compile_wildcard(self.key))

    def matches(self, key: str) -> bool:
        return self._matcher.fullmatch(key) is not None


def compile_wildcard(pattern: str) -> re.Pattern[str]:
    """EventBridge `wildcard`: `*` is any run of characters (slashes too); `\\*` and `\\\\` are literal."""
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern) and pattern[index + 1] in "*\\":
            parts.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        parts.append(".*" if char == "*" else re.escape(char))
        index += 1
    return re.compile("".join(parts), re.DOTALL)


def matching_routes(routes: tuple[Route, ...], key: str) -> tuple[Route, ...]:
    return tuple(route for route in routes if route.matches(key))
