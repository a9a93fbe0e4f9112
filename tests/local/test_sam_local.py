"""The built artifact in SAM's own Lambda emulator (python3.13, arm64): each sample event does what the README says."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.container_engine import unavailable_reason
from local.emf import emf_metrics
from local.lambda_emulator import WarmEmulator, container_ids, existing_containers
from local.stand_in_image import IMAGE, rapid_image_of
from local.try_event import BUILD_DIR, EMULATOR_LINE, EMULATOR_LOG
from support.environment import ENV_VARS_FILE, ROOT
from support.events import load_event
from support.readme import EVENT_ROWS, README, page, shown_run, trimmed_line_pattern
from support.sam_emulator import (
    BUILT_TEMPLATE,
    FUNCTION,
    Invocation,
    invoke_sample,
    sam_local_invoke,
    warm_emulator_on,
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
    # The older version first, settled without an S3 call; then the newer one, a dry run.
    "batch": [
        ("INFO", "Ignored event"),
        ("INFO", "Batch record settled"),
        ("INFO", "Dry run: not starting"),
        ("INFO", "Batch record settled"),
    ],
}
EXPECTED_METRICS = {
    "dry_run": {"DryRuns"},
    "dry_run_unpinned": {"UnpinnedStarts", "DryRuns"},
    "ignored": {"EventsIgnored"},
    "malformed": {"EventsMalformed"},
    "batch": {"EventsSuperseded", "EventsIgnored", "DryRuns"},
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
    with warm_emulator_on(tmp_path_factory.mktemp("sam-local") / "start-lambda.log") as emulator:
        yield emulator


def outcome_described(described: str, result: dict[str, Any]) -> str:
    """Checks the function's answer against the README's words for it; returns which outcome that is."""
    if "batchItemFailures" in described:
        assert "`batchItemFailures` empty" in described
        assert result == {"batchItemFailures": []}
        return "batch"
    if "raises" in described:
        assert f"`{result['errorType']}`" in described
        return "malformed"
    if "ignored" in described:
        assert result["status"] == "ignored"
        assert f"`{result['reasonCode']}`" in described
        return "ignored"
    # local/env.json runs them as a dry run: the request that would start the pipeline.
    assert result["status"] == "dry_run"
    pinned = "without a pin" not in described
    assert result["versionPinned"] is pinned
    return "dry_run" if pinned else "dry_run_unpinned"


@pytest.mark.parametrize(("event_file", "described"), EVENT_ROWS, ids=[row[0] for row in EVENT_ROWS])
def test_each_sample_event_does_in_the_emulator_what_the_readme_table_says(
    warm_emulator: WarmEmulator, event_file: str, described: str
) -> None:
    # GIVEN the built function in SAM's emulator with local/env.json; WHEN the sample event is invoked
    invocation: Invocation = invoke_sample(warm_emulator, event_file)

    # THEN its answer is the README's, and its log lines and metrics are the ones that outcome writes
    outcome = outcome_described(described, invocation.result)
    logs = [record for record in invocation.records if "level" in record]
    expected_logs = EXPECTED_LOGS[outcome]
    assert len(logs) == len(expected_logs)
    shown = [(log["level"], log["message"][: len(start)]) for log, (_, start) in zip(logs, expected_logs, strict=True)]
    assert shown == expected_logs
    event = load_event(event_file)
    # A queue batch carries one event per record: each record's lines carry its own event's id.
    events = [json.loads(record["body"]) for record in event["Records"]] if outcome == "batch" else [event]
    assert {log["correlation_id"] for log in logs} == {each["id"] for each in events}
    assert {log["function_request_id"] for log in logs} == {invocation.request_id}
    if outcome == "dry_run_unpinned":
        assert f"`{UNPINNED_WARNING}`" in README
    if outcome == "ignored":
        assert logs[0]["reason_code"] == invocation.result["reasonCode"]
    elif outcome == "malformed":
        assert logs[0]["field"] == "detail.object.key"
        assert f"[ERROR] MalformedEventError: {invocation.result['errorMessage']}" in invocation.log.splitlines()
    elif outcome == "batch":
        settled = [log for log in logs if log["message"] == "Batch record settled"]
        assert [log["outcome"] for log in settled] == ["ignored", "dry_run"]
        assert logs[0]["reason_code"] == "superseded"
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
    invoke_sample(warm_emulator, "put-object.json")

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
    # GIVEN the sample settings with ROUTES empty
    settings = json.loads(ENV_VARS_FILE.read_text(encoding="utf-8"))
    settings[FUNCTION]["ROUTES"] = ""
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps(settings), encoding="utf-8")

    # WHEN the function is invoked in the emulator
    result = sam_local_invoke(FUNCTION, "-e", "events/put-object.json", "--env-vars", str(env_file))

    # THEN the runtime's init fails with the one line the README shows, and no event is handled
    named = "SettingsError: ROUTES is not set; the template sets it, or pass it with --env-vars"
    assert f"`{named}`" in README
    assert [line for line in result.stderr.splitlines() if line.startswith("[ERROR] ")] == [f"[ERROR] {named}"]
    assert "Init failed" in result.stderr
    assert json.loads(result.stdout)["errorType"] == "SettingsError"
    assert not [line for line in result.stderr.splitlines() if line.startswith('{"level"')]


README_COMMAND = ".venv/bin/sam local invoke TriggerFunction -e events/put-object.json --env-vars local/env.json"


def test_the_readme_shows_what_sam_local_invoke_prints(sam_local_ready: None) -> None:
    # WHEN the command is run exactly as the README shows it (samconfig.toml supplies skip_pull_image)
    shown = shown_run(README_COMMAND, "docs/local.md")
    result = sam_local_invoke(*shlex.split(README_COMMAND)[3:])

    # THEN the result is the one shown, and every shown line was printed, in that order (`…` trims a line)
    assert result.stdout == shown[-1]
    printed = iter(line.rstrip() for line in result.stderr.splitlines())
    for line in shown[:-1]:
        pattern = trimmed_line_pattern(line.rstrip())
        assert any(pattern.fullmatch(real) for real in printed), f"not printed, or not in this order: {line}"


def _make_invoke(*variables: str) -> list[str]:
    return ["make", "--no-print-directory", "invoke", *variables]


def _said(finished: subprocess.CompletedProcess[str]) -> list[str]:
    """make invoke's own lines on stderr (not the function's log, not make's)."""
    return [line for line in finished.stderr.splitlines() if line.startswith("make invoke: ")]


def _emulators_of_make_invoke() -> list[str]:
    """The sam local start-lambda processes running make invoke's build (pids)."""
    running = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "start-lambda" in words and str(BUILD_DIR / "template.yaml") in words:
            running.append(cmdline.parent.name)
    return running


def _left_by_make_invoke() -> tuple[list[str], list[str]]:
    """(containers, emulator processes) of the last make invoke still there."""
    return existing_containers(container_ids(EMULATOR_LOG.read_text(encoding="utf-8"))), _emulators_of_make_invoke()


def test_make_invoke_answers_from_sams_emulator_at_the_first_try_and_leaves_nothing_running(
    sam_local_ready: None,
) -> None:
    # GIVEN the shell of the tests, which sets the function's variables (make invoke must take them from the file)
    # WHEN make invoke runs once, on the emulator path
    result = subprocess.run(
        _make_invoke("EVENT=events/put-object.json"), cwd=ROOT, capture_output=True, text=True, check=False, timeout=600
    )

    # THEN it says so, prints the function's log lines and the README's result, and stops what it started
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0] == EMULATOR_LINE
    assert f"```json\n{result.stdout.strip().splitlines()[-1]}\n```" in page("docs/local.md")
    logs = [json.loads(line) for line in result.stderr.splitlines() if line.startswith('{"level"')]
    assert [(log["level"], log["message"], log["cold_start"]) for log in logs] == [
        ("INFO", "Dry run: not starting", True)
    ]
    assert container_ids(EMULATOR_LOG.read_text(encoding="utf-8"))
    assert _left_by_make_invoke() == ([], [])


def test_a_bad_setting_in_make_invoke_is_the_line_the_in_process_path_prints(
    sam_local_ready: None, tmp_path: Path
) -> None:
    # GIVEN the sample settings with ROUTES empty
    settings = json.loads(ENV_VARS_FILE.read_text(encoding="utf-8"))
    settings[FUNCTION]["ROUTES"] = ""
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps(settings), encoding="utf-8")

    # WHEN make invoke runs in SAM's emulator, and in-process
    in_emulator = subprocess.run(
        _make_invoke(f"ENV={env_file}"), cwd=ROOT, capture_output=True, text=True, check=False, timeout=600
    )
    in_process = subprocess.run(
        _make_invoke(f"ENV={env_file}", "LOCAL=inprocess"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    # THEN both fail with the same line, naming the variable and the file, and print no result
    assert "[ERROR] SettingsError: ROUTES is not set" in in_emulator.stderr
    assert _said(in_process) == [
        "make invoke: in-process, as LOCAL=inprocess asks",
        "make invoke: ROUTES is not set; the template sets it, or pass it with --env-vars (make invoke reads "
        f"the function's variables from {env_file}; add it there or pass ENV=file)",
    ]
    assert _said(in_emulator) == [EMULATOR_LINE, _said(in_process)[-1]]
    assert (in_emulator.returncode, in_emulator.stdout, in_process.returncode, in_process.stdout) == (2, "", 2, "")
    assert _left_by_make_invoke() == ([], [])


def test_ctrl_c_in_make_invoke_stops_sams_emulator_and_its_container(sam_local_ready: None) -> None:
    # GIVEN make invoke started in a terminal of its own, up to the moment SAM has made the function's container
    EMULATOR_LOG.unlink(missing_ok=True)
    running = subprocess.Popen(
        _make_invoke(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 300
        while not (EMULATOR_LOG.exists() and container_ids(EMULATOR_LOG.read_text(encoding="utf-8"))):
            assert running.poll() is None, running.communicate()
            assert time.monotonic() < deadline, "SAM made no container in 300 s"
            time.sleep(0.2)

        # WHEN Ctrl-C is pressed (the terminal sends SIGINT to its foreground process group)
        os.killpg(running.pid, signal.SIGINT)
        _, stderr = running.communicate(timeout=180)
    finally:
        if running.poll() is None:
            os.killpg(running.pid, signal.SIGKILL)

    # THEN make invoke says it was interrupted, and neither SAM nor the container is left
    assert running.returncode != 0
    assert "make invoke: interrupted" in stderr.splitlines()
    assert _left_by_make_invoke() == ([], [])
