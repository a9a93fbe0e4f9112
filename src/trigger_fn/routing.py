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
    # The bucket's account, when the route names it (it must be the configured source account).
    account: str | None = None
    # The pipeline's account when it is not the function's: started through the starter role there.
    pipeline_account: str | None = None

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
    return tuple([route for route in routes if route.matches(key)])


def can_both_match(first: str, second: str) -> bool:
    """True when some key matches both wildcard patterns (a route and the rule's key filter, say).

    A walk over pairs of positions in the two patterns' pieces, so it costs at most len(first) x len(second).
    """
    left, right = _symbols(first), _symbols(second)
    seen: set[tuple[int, int]] = set()
    todo = [(0, 0)]
    while todo:
        i, j = todo.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == len(left) and j == len(right):
            return True
        star_left = i < len(left) and left[i] is None
        star_right = j < len(right) and right[j] is None
        # A star may match nothing; or consume the other side's next character.
        if star_left:
            todo.append((i + 1, j))
            if j < len(right) and not star_right:
                todo.append((i, j + 1))
        if star_right:
            todo.append((i, j + 1))
            if i < len(left) and not star_left:
                todo.append((i + 1, j))
        if i < len(left) and j < len(right) and not star_left and not star_right and left[i] == right[j]:
            todo.append((i + 1, j + 1))
    return False


def _symbols(pattern: str) -> tuple[str | None, ...]:
    """The pattern as characters, None for each `*`."""
    symbols: list[str | None] = []
    for number, piece in enumerate(_wildcard(pattern).pieces):
        if number:
            symbols.append(None)
        symbols.extend(piece)
    return tuple(symbols)
