"""What the function printed: Powertools JSON log lines and EMF metric records, read back in order."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from local.emf import emf_metrics


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every JSON object printed on its own line (Powertools logs and EMF metrics)."""
    lines = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def emitted_metrics(records: list[dict[str, Any]]) -> list[tuple[str, tuple[str, ...], dict[str, str], float]]:
    """(name, sorted dimension names, dimensions, value) for every metric in every dimension set of the records."""
    return [(name, tuple(sorted(dimensions)), dimensions, value) for name, dimensions, value in emf_metrics(records)]


class FunctionOutput:
    """The records printed since the last call, captured by pytest's capsys."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys

    def records(self) -> list[dict[str, Any]]:
        return json_lines(self._capsys.readouterr().out)


class CurrentStdout:
    """The Logger keeps the stream it was made with; this one writes wherever stdout is captured now."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()
