"""The user's guide as the tests read it: README.md and the docs/ pages, their tables, and the runs they show."""

from __future__ import annotations

import re

from support.environment import ROOT

# Every page of the guide by its path from the repository root: the README first, then docs/ in name order.
PAGES: dict[str, str] = {
    path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8")
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
}
README = PAGES["README.md"]


def page(name: str) -> str:
    """The text of one page, e.g. `docs/local.md`."""
    return PAGES[name]


def sample_event_rows(text: str) -> list[tuple[str, str]]:
    """(event file, what the page says it does) for each row of a sample-event table."""
    return re.findall(r"^\| `([a-z-]+\.json)` \| [^|]+ \| (.+) \|$", text, flags=re.MULTILINE)


EVENT_ROWS = sample_event_rows(page("docs/local.md"))


def shown_run(command: str, name: str | None = None) -> list[str]:
    """The lines a ```text block shows after `$ COMMAND` (on that page, else on any): what the command prints."""
    for text in [page(name)] if name else PAGES.values():
        for block in re.findall(r"^```text\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL):
            lines = block.splitlines()
            if lines and lines[0] == f"$ {command}":
                return lines[1:]
    raise AssertionError(f"{name or 'the guide'} shows no run of `{command}`")


def trimmed_line_pattern(shown: str) -> re.Pattern[str]:
    """A shown line as a pattern for the real one: each `…` stands for what was trimmed (ids, timings, fields)."""
    return re.compile(".*?".join(re.escape(part) for part in shown.split("…")))


def heading_anchors(text: str) -> set[str]:
    """The anchors GitHub gives a page's headings: lowercase, punctuation dropped, spaces as hyphens, repeats -1."""
    anchors: set[str] = set()
    outside_code = re.sub(r"^```.*?^```$", "", text, flags=re.MULTILINE | re.DOTALL)
    for heading in re.findall(r"^#{1,6} (.+?)\s*$", outside_code, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchor, repeat = slug, 0
        while anchor in anchors:
            repeat += 1
            anchor = f"{slug}-{repeat}"
        anchors.add(anchor)
    return anchors


def relative_links(text: str) -> list[str]:
    """The targets of the page's Markdown links that stay in the repository (no scheme), outside code blocks."""
    outside_code = re.sub(r"^```.*?^```$", "", text, flags=re.MULTILINE | re.DOTALL)
    targets = re.findall(r"\]\(([^)\s]+)\)", outside_code)
    return [target for target in targets if not re.match(r"[a-z]+:", target)]
