"""Key matching has the EventBridge `wildcard` meaning, so the function agrees with the rule in front of it."""

from itertools import product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trigger_fn.routing import Route, can_both_match, matching_routes


@pytest.mark.parametrize(
    ("pattern", "key", "expected"),
    [
        ("my-website.zip", "my-website.zip", True),
        ("my-website.zip", "my-website.zip.bak", False),
        ("my-website.zip", "site/my-website.zip", False),
        ("my-website.zip", "MY-WEBSITE.ZIP", False),
        ("*.zip", "my-website.zip", True),
        ("*.zip", "a/b/c/deep.zip", True),
        ("*.zip", ".zip", True),
        ("*.zip", "my-website.zip.txt", False),
        ("site/*.zip", "site/v1.zip", True),
        ("site/*.zip", "site/nested/v1.zip", True),
        ("site/*.zip", "api/site/v1.zip", False),
        ("releases/*/app.zip", "releases/2026-11/app.zip", True),
        ("releases/*/app.zip", "releases/app.zip", False),
        ("*", "anything/at all", True),
        ("my website.zip", "my website.zip", True),
        ("my website.zip", "my+website.zip", False),
        ("c++/build.zip", "c++/build.zip", True),
        ("c++/build.zip", "c  /build.zip", False),
        ("sites/café/*.zip", "sites/café/v2.zip", True),
        ("sites/café/*.zip", "sites/cafe/v2.zip", False),
        ("發布/*.zip", "發布/版本1.zip", True),
        ("a.b", "axb", False),
        ("(x)[y]?.zip", "(x)[y]?.zip", True),
        ("(x)[y]?.zip", "(x)y.zip", False),
        (r"literal\*.zip", "literal*.zip", True),
        (r"literal\*.zip", "literalX.zip", False),
        (r"back\\slash.zip", "back\\slash.zip", True),
        ("line*end", "line\nbreak end", True),
    ],
    ids=lambda value: repr(value) if isinstance(value, str) else str(value),
)
def test_key_matches_like_the_eventbridge_wildcard(pattern: str, key: str, expected: bool) -> None:
    # GIVEN a route for the pattern WHEN a key arrives THEN it matches exactly as the rule would
    assert Route(key=pattern, pipeline="p").matches(key) is expected


def test_matching_routes_keeps_every_match_in_order() -> None:
    site = Route(key="site/*.zip", pipeline="site")
    audit = Route(key="*.zip", pipeline="audit")
    api = Route(key="api/release.zip", pipeline="api")

    assert matching_routes((site, audit, api), "site/v1.zip") == (site, audit)
    assert matching_routes((site, audit, api), "api/release.zip") == (audit, api)
    assert matching_routes((site, audit, api), "notes.txt") == ()


@pytest.mark.parametrize(
    ("pattern", "key", "expected"),
    [
        ("a*a", "a", False),
        ("a*a", "aa", True),
        ("*ab*ab*", "xabyab", True),
        ("*ab*ab*", "xaby", False),
        ("**", "", True),
        ("*", "", True),
        ("x**y", "xy", True),
        ("*.zip*.zip", "a.zip", False),
    ],
)
def test_overlapping_pieces_are_not_double_counted(pattern: str, key: str, expected: bool) -> None:
    assert Route(key=pattern, pipeline="p").matches(key) is expected


def test_many_stars_against_a_long_key_stay_cheap() -> None:
    # A regex would backtrack through ~n^k states here; piece-by-piece search is linear per piece.
    route = Route(key="*a" * 30 + "*b", pipeline="p")

    assert route.matches("a" * 1000) is False
    assert route.matches("a" * 999 + "b") is True


class TestPatternsThatShareAKey:
    """A route outside the rule's key filter never fires; `can_both_match` is how that is seen before deploying."""

    @pytest.mark.parametrize(
        ("route", "key_filter", "shared"),
        [
            ("site/*.tar.gz", "*.zip", False),
            ("site/*", "*.zip", True),
            ("api.zip", "*.zip", True),
            ("api.zi", "*.zip", False),
            ("releases/\\*.zip", "releases/*", True),
            ("releases/\\*.zip", "*x.zip", False),
            ("a*b", "*c", False),
            ("*", "anything", True),
        ],
    )
    def test_known_pairs(self, route: str, key_filter: str, shared: bool) -> None:
        assert can_both_match(route, key_filter) is shared
        assert can_both_match(key_filter, route) is shared

    @settings(max_examples=300, deadline=None)
    @given(first=st.text("ab*", max_size=6), second=st.text("ab*", max_size=6))
    def test_agrees_with_trying_every_short_key(self, first: str, second: str) -> None:
        # A shortest shared key is never longer than the two patterns' characters together.
        keys = ("".join(chars) for size in range(len(first) + len(second) + 1) for chars in product("ab", repeat=size))
        brute_force = any(Route(first, "p").matches(key) and Route(second, "p").matches(key) for key in keys)

        assert can_both_match(first, second) is brute_force
