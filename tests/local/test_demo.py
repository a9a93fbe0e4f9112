"""`make demo`, the README's first command, prints what the README shows (its trimmed run), step for step."""

from __future__ import annotations

import re
import subprocess

import pytest

from local.emulators import MINISTACK_VENV
from support.environment import ROOT
from support.readme import README

pytestmark = pytest.mark.e2e

# What differs from run to run: timings, generated ids and versions, tokens, CloudFormation's name suffixes.
VARYING = (
    (re.compile(r"\d+\.\d+ s\b"), "N s"),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "UUID"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "TOKEN"),
    (re.compile(r"-[A-Za-z0-9]{10,}\b"), "-SUFFIX"),
)


def normalized(line: str) -> str:
    for pattern, stand_in in VARYING:
        line = pattern.sub(stand_in, line)
    return re.sub(r"\s+", " ", line).strip()


def readme_demo_run() -> list[str]:
    blocks = re.findall(r"^```text\n(\[1/9\] .*?)^```$", README, flags=re.MULTILINE | re.DOTALL)
    assert len(blocks) == 1, "the README shows one run of make demo"
    return [line for line in blocks[0].splitlines() if line.strip()]


def test_make_demo_prints_the_readme_run() -> None:
    if not (MINISTACK_VENV / "bin" / "ministack").exists():
        pytest.fail(f"{MINISTACK_VENV} is missing: run `make ministack-venv` (or `make test`, which builds it).")

    finished = subprocess.run(
        ["make", "--no-print-directory", "demo"], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )

    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    printed = [normalized(line) for line in finished.stdout.splitlines()]
    # The README's lines are a trimmed copy: each must come, in the README's order, among the printed ones.
    position = 0
    for shown in readme_demo_run():
        wanted = normalized(shown)
        found = next((index for index in range(position, len(printed)) if printed[index] == wanted), None)
        assert found is not None, f"make demo did not print, after line {position}: {shown!r}\n" + "\n".join(printed)
        position = found + 1
