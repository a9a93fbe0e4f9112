"""The README as the tests read it: its text, its sample-event table, and the runs it shows."""

from __future__ import annotations

import re

from support.environment import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")

# (event file, what the README says it does) for each row of the sample-event table.
EVENT_ROWS: list[tuple[str, str]] = re.findall(
    r"^\| `([a-z-]+\.json)` \| [^|]+ \| (.+) \|$", README, flags=re.MULTILINE
)


def shown_run(command: str) -> list[str]:
    """The lines a ```text block shows after `$ COMMAND`: what the README says that command prints."""
    for block in re.findall(r"^```text\n(.*?)^```$", README, flags=re.MULTILINE | re.DOTALL):
        lines = block.splitlines()
        if lines and lines[0] == f"$ {command}":
            return lines[1:]
    raise AssertionError(f"the README shows no run of `{command}`")


def trimmed_line_pattern(shown: str) -> re.Pattern[str]:
    """A shown line as a pattern for the real one: each `…` stands for what was trimmed (ids, timings, fields)."""
    return re.compile(".*?".join(re.escape(part) for part in shown.split("…")))
