"""The built artifact in SAM's own Lambda emulator (python3.13, arm64): each sample event does what the README says."""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.container_engine import unavailable_reason
from local.emf import emf_metrics
from local.stand_in_image import IMAGE, rapid_image_of
from support.environment import EVENTS, ROOT
from support.events import load_event
from support.readme import EVENT_ROWS, README, shown_run, trimmed_line_pattern
from support.sam_emulator import (
    BUILT_TEMPLATE,
    FUNCTION,
    Invocation,
    WarmEmulator,
    container_ids,
    run_in_emulator,
    sam_local_invoke,
)

pytestmark = pytest.mark.sam_local

# The start of the warning, as the README's Troubleshooting table quotes it.
UNPINNED_WARNING = "Object event has no version-id: starting without a version pin"
# What each outcome of the README's event table logs (level, start of the message) and counts, besides ColdStart.
EXPECTED_LOGS = {
    "dry_run": [("INFO", "Dry run: not starting")],
    "dry_run_unpinned": [("WARNING", UNPINNED_WARNING), ("INFO", "Dry run: not starting")],
    "ignored": [("INFO", "Ignored event")],
    "malformed": [("ERROR", "Rejected malformed event")],
}
EXPECTED_METRICS = {
    "dry_run": {"DryRuns"},
    "dry_run_unpinned": {"UnpinnedStarts", "DryRuns"},
    "ignored": {"EventsIgnored"},
    "malformed": {"EventsMalformed"},
}


@pytest.fixture(scope="module")
def sam_local_ready() -> None:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    if not BUILT_TEMPLATE.exists():
        pytest.fail(f"{BUILT_TEMPLATE.relative_to(ROOT)} is missing: run `make build` first")


@pytest.fixture(scope="module")
def warm_emulator(sam_local_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WarmEmulator]:
    emulator = WarmEmulator(tmp_path_factory.mktemp("sam-local") / "start-lambda.log")
    try:
        emulator.wait_until_serving()
        yield emulator
    finally:
        emulator.stop()


def outcome_described(described: str, result: dict[str, Any]) -> str:
    """Checks the function's answer against the README's words for it; returns which outcome that is."""
    if "raises" in described:
        assert f"`{result['errorType']}`" in described
        return "malformed"
    if "ignored" in described:
        assert result["status"] == "ignored"
        assert f"`{result['reasonCode']}`" in described
        return "ignored"
    # events/env.json runs them as a dry run: the request that would start the pipeline.
    assert result["status"] == "dry_run"
    pinned = "without a pin" not in described
    assert result["versionPinned"] is pinned
    return "dry_run" if pinned else "dry_run_unpinned"


@pytest.mark.parametrize(("event_file", "described"), EVENT_ROWS, ids=[row[0] for row in EVENT_ROWS])
def test_each_sample_event_does_in_the_emulator_what_the_readme_table_says(
    warm_emulator: WarmEmulator, event_file: str, described: str
) -> None:
    # GIVEN the built function in SAM's emulator with events/env.json; WHEN the sample event is invoked
    invocation: Invocation = warm_emulator.invoke(event_file)

    # THEN its answer is the README's, and its log lines and metrics are the ones that outcome writes
    outcome = outcome_described(described, invocation.result)
    logs = [record for record in invocation.records if "level" in record]
    expected_logs = EXPECTED_LOGS[outcome]
    assert len(logs) == len(expected_logs)
    shown = [(log["level"], log["message"][: len(start)]) for log, (_, start) in zip(logs, expected_logs, strict=True)]
    assert shown == expected_logs
    event = load_event(event_file)
    assert {log["correlation_id"] for log in logs} == {event["id"]}
    assert {log["function_request_id"] for log in logs} == {invocation.request_id}
    if outcome == "dry_run_unpinned":
        assert f"`{UNPINNED_WARNING}`" in README
    if outcome == "ignored":
        assert logs[0]["reason_code"] == invocation.result["reasonCode"]
    elif outcome == "malformed":
        assert logs[0]["field"] == "detail.object.key"
        assert f"[ERROR] MalformedEventError: {invocation.result['errorMessage']}" in invocation.log.splitlines()
    else:
        assert logs[-1]["requests"] == invocation.result["requests"]

    metrics = emf_metrics(invocation.records)
    assert {name for name, _, _ in metrics} - {"ColdStart"} == EXPECTED_METRICS[outcome]
    assert all(value == 1.0 for _, _, value in metrics)
    # The namespace comes from the template's Globals, not from env.json: the template's environment reached it.
    namespaces = {d["Namespace"] for r in invocation.records for d in r.get("_aws", {}).get("CloudWatchMetrics", [])}
    assert namespaces == {"S3PipelineTrigger"}
    assert any(name == "ColdStart" for name, _, _ in metrics) is logs[0]["cold_start"]


def test_the_emulator_runs_the_function_in_the_arm64_image(warm_emulator: WarmEmulator) -> None:
    warm_emulator.invoke("put-object.json")

    images = {
        subprocess.run(
            ["docker", "container", "inspect", "--format", "{{.Config.Image}}", cid],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for cid in container_ids(warm_emulator.output())
    }
    architecture = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Architecture}}", rapid_image_of(IMAGE)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert images == {rapid_image_of(IMAGE)}
    assert architecture == "arm64"


def test_a_bad_setting_fails_the_cold_start_with_the_line_that_names_it(sam_local_ready: None, tmp_path: Path) -> None:
    # GIVEN the sample settings with PIPELINE_NAME empty
    settings = json.loads((EVENTS / "env.json").read_text(encoding="utf-8"))
    settings[FUNCTION]["PIPELINE_NAME"] = ""
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps(settings), encoding="utf-8")

    # WHEN the function is invoked in the emulator
    result = sam_local_invoke(FUNCTION, "-e", "events/put-object.json", "--env-vars", str(env_file))

    # THEN the runtime's init fails with the one line the README shows, and no event is handled
    named = "SettingsError: PIPELINE_NAME is not set; the template sets it, or pass it with --env-vars"
    assert f"`{named}`" in README
    assert [line for line in result.stderr.splitlines() if line.startswith("[ERROR] ")] == [f"[ERROR] {named}"]
    assert "Init failed" in result.stderr
    assert json.loads(result.stdout)["errorType"] == "SettingsError"
    assert not [line for line in result.stderr.splitlines() if line.startswith('{"level"')]


README_COMMAND = ".venv/bin/sam local invoke TriggerFunction -e events/put-object.json --env-vars events/env.json"


def test_the_readme_shows_what_sam_local_invoke_prints(sam_local_ready: None) -> None:
    # WHEN the command is run exactly as the README shows it (samconfig.toml supplies skip_pull_image)
    shown = shown_run(README_COMMAND)
    result = sam_local_invoke(*shlex.split(README_COMMAND)[3:])

    # THEN the result is the one shown, and every shown line was printed, in that order (`…` trims a line)
    assert result.stdout == shown[-1]
    printed = iter(line.rstrip() for line in result.stderr.splitlines())
    for line in shown[:-1]:
        pattern = trimmed_line_pattern(line.rstrip())
        assert any(pattern.fullmatch(real) for real in printed), f"not printed, or not in this order: {line}"


def test_make_invoke_says_it_uses_sams_emulator_and_prints_the_readme_result(sam_local_ready: None) -> None:
    result = run_in_emulator(["make", "--no-print-directory", "invoke", "EVENT=events/put-object.json"])

    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0] == "make invoke: sam local invoke, SAM's Lambda emulator (python3.13 arm64)"
    assert f"```json\n{result.stdout.strip().splitlines()[-1]}\n```" in README
