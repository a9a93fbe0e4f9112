"""Which routes an object key belongs to, with the same wildcard meaning as the EventBridge rule."""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

# Value records are NamedTuples, not dataclasses: each dataclass costs ~0.5 ms to create at every cold start.


class Route(NamedTuple):
    """Objects whose key matches `key` start `pipeline` through its S3 source action `source_action`."""

    key: str
    pipeline: str
    source_action: str = "Source"
    override_key: bool = False
    # Pipeline variable name -> upload fact ("key", "version", "etag", "size", "reason", "bucket", "sequencer").
    variables: tuple[tuple[str, str], ...] = ()
    # Start only while the uploaded version is still the key's current one (False: every version, e.g. audit).
    latest_only: bool = True

    def matches(self, key: str) -> bool:
        return _wildcard(self.key).matches(key)


class Wildcard(NamedTuple):
    """EventBridge `wildcard`: `*` is any run of characters (slashes too); `\\*` and `\\\\` are literal.

    Matched by finding the literal pieces in order, not by a regular expression, so a pattern with
    many stars costs at most len(key) x len(pattern) and never backtracks exponentially.
    """

    pieces: tuple[str, ...]

    @staticmethod
    def parse(pattern: str) -> Wildcard:
        pieces = [""]
        index = 0
        while index < len(pattern):
            char = pattern[index]
            if char == "\\" and index + 1 < len(pattern) and pattern[index + 1] in "*\\":
                pieces[-1] += pattern[index + 1]
                index += 2
                continue
            if char == "*":
                pieces.append("")
            else:
                pieces[-1] += char
            index += 1
        return Wildcard(tuple(pieces))

    def matches(self, key: str) -> bool:
        if len(self.pieces) == 1:
            return key == self.pieces[0]
        first, *middle, last = self.pieces
        if len(key) < len(first) + len(last) or not key.startswith(first) or not key.endswith(last):
            return False
        position, end = len(first), len(key) - len(last)
        for piece in middle:
            found = key.find(piece, position, end)
            if found < 0:
                return False
            position = found + len(piece)
        return True


@cache
def _wildcard(pattern: str) -> Wildcard:
    # Parsed once per pattern: routes are few and fixed for the life of the execution environment.
    return Wildcard.parse(pattern)


def matching_routes(routes: tuple[Route, ...], key: str) -> tuple[Route, ...]:
    return tuple(route for route in routes if route.matches(key))
