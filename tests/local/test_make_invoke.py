"""`make invoke`: an event by file or by its name in events/, settings from an env-vars file (ENV=), and for
every mistake one line saying what to fix, exit 2, no traceback, checked before anything is built or started.
Its emulator path runs here with a stand-in SAM CLI (tests/support/fake_sam_cli.py): no answer is never a success."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from local.try_event import EMULATOR_LINE
from support import fake_sam_cli
from support.environment import ENV_VARS_FILE, FUNCTION_ENV, ROOT, one_route

EVENT_NAMES = (
    "copy-object, malformed-missing-key, multipart-upload, object-deleted, other-bucket, other-key, put-object, "
    "put-object-unversioned, sqs-batch"
)
PIN = "Kq3Xh.9vRzT2mWb7LdN4pYcF8sEaJ0uG"


def invoke(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # The caller's shell has the function's variables set (conftest does): none of them may leak in.
    environment = {**os.environ, **FUNCTION_ENV, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "local.invoke", *arguments],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env=environment,
        timeout=120,
    )


def result(finished: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert finished.returncode == 0, finished.stderr
    parsed: dict[str, object] = json.loads(finished.stdout.strip().splitlines()[-1])
    return parsed


@pytest.mark.parametrize("event", ["put-object", "put-object.json", "events/put-object.json"])
def test_an_event_by_name_or_by_path(event: str) -> None:
    output = result(invoke(event))

    assert output["status"] == "dry_run"
    assert output["versionPinned"] is True


def test_env_names_the_settings_file(tmp_path: Path) -> None:
    settings = tmp_path / "live.json"
    settings.write_text(json.dumps({"TriggerFunction": {**_sample_settings(), **one_route(pipeline="other-pipeline")}}))

    output = result(invoke("put-object", "--env-vars", str(settings)))

    assert output["requests"] == [
        {
            "name": "other-pipeline",
            "sourceRevisions": [{"actionName": "Source", "revisionType": "S3_OBJECT_VERSION_ID", "revisionValue": PIN}],
            "clientRequestToken": output["requests"][0]["clientRequestToken"],  # type: ignore[index]
        }
    ]


def test_parameters_apply_to_every_function_as_in_sam_local_invoke(tmp_path: Path) -> None:
    settings = tmp_path / "shared.json"
    settings.write_text(json.dumps({"Parameters": _sample_settings()}))

    assert result(invoke("put-object", "--env-vars", str(settings)))["status"] == "dry_run"


@pytest.mark.parametrize(
    ("arguments", "line"),
    [
        (
            ["put-objct"],
            f"make invoke: no event file 'put-objct' here or in events/: did you mean put-object? the sample events "
            f"are {EVENT_NAMES}",
        ),
        (
            ["nothing-like-it.json"],
            f"make invoke: no event file 'nothing-like-it.json' here or in events/: the sample "
            f"events are {EVENT_NAMES}",
        ),
        (
            ["put-object", "--env-vars", "live.json"],
            "make invoke: no env-vars file 'live.json' here or in local/: give a file like local/env.json",
        ),
    ],
    ids=["typo", "unknown", "missing-env-file"],
)
def test_a_missing_file_is_one_line(arguments: list[str], line: str) -> None:
    finished = invoke(*arguments)

    assert (finished.returncode, finished.stdout, finished.stderr) == (2, "", line + "\n")


def test_a_missing_variable_is_one_line_naming_it_and_the_file(tmp_path: Path) -> None:
    settings = tmp_path / "partial.json"
    settings.write_text(json.dumps({"TriggerFunction": {k: v for k, v in _sample_settings().items() if k != "ROUTES"}}))

    finished = invoke("put-object", "--env-vars", str(settings))

    assert (finished.returncode, finished.stdout) == (2, "")
    assert finished.stderr == (
        "make invoke: ROUTES is not set; the template sets it, or pass it with --env-vars "
        f"(make invoke reads the function's variables from {settings}; add it there or pass ENV=file)\n"
    )


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ("{", "is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        (
            '{"OtherFunction": {}}',
            'has no "TriggerFunction" object: write {"TriggerFunction": {"ROUTES": '
            '"...", ...}}, as for sam local invoke --env-vars',
        ),
    ],
    ids=["not-json", "no-function"],
)
def test_an_unusable_env_file_is_one_line(tmp_path: Path, content: str, line: str) -> None:
    settings = tmp_path / "env.json"
    settings.write_text(content)

    finished = invoke("put-object", "--env-vars", str(settings))

    assert (finished.returncode, finished.stdout, finished.stderr) == (2, "", f"make invoke: {settings} {line}\n")


def test_make_invoke_passes_event_and_env(tmp_path: Path) -> None:
    settings = tmp_path / "live.json"
    settings.write_text(json.dumps({"TriggerFunction": _sample_settings()}))

    finished = subprocess.run(
        # In-process: how make passes EVENT and ENV is the same on both paths, and this one needs no engine.
        ["make", "-s", "invoke", "EVENT=other-key", f"ENV={settings}", "LOCAL=inprocess"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, **FUNCTION_ENV},
    )

    assert result(finished)["reasonCode"] == "no_matching_route"


def test_an_env_variable_named_env_in_the_shell_is_not_taken_for_the_file() -> None:
    # POSIX shells use ENV for their own startup file.
    finished = subprocess.run(
        ["make", "-s", "invoke", "EVENT=put-object", "LOCAL=inprocess"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "ENV": "/etc/profile"},
    )

    assert result(finished)["status"] == "dry_run"


def test_local_inprocess_runs_the_handler_in_process_even_where_sams_emulator_could_run() -> None:
    finished = subprocess.run(
        ["make", "-s", "invoke", "LOCAL=inprocess"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert finished.stderr.splitlines()[0] == "make invoke: in-process, as LOCAL=inprocess asks"
    assert result(finished)["status"] == "dry_run"


def test_an_unknown_local_value_is_refused_before_anything_runs() -> None:
    finished = subprocess.run(
        ["make", "-s", "invoke", "LOCAL=in-process"], cwd=ROOT, capture_output=True, text=True, check=False, timeout=60
    )

    assert finished.returncode == 2
    assert "LOCAL=in-process: only LOCAL=inprocess is known" in finished.stderr
    assert finished.stdout == ""


# The emulator path, with the stand-in SAM CLI and docker: as where a container engine runs arm64.


@pytest.fixture
def fake_sam(tmp_path: Path) -> Path:
    return fake_sam_cli.install(tmp_path / "bin")


def _emulator_said(finished: subprocess.CompletedProcess[str]) -> list[str]:
    """make invoke's own lines on stderr (not the function's log lines)."""
    return [line for line in finished.stderr.splitlines() if line.startswith("make invoke: ")]


def test_no_answer_from_sams_emulator_is_a_failure_in_one_line(fake_sam: Path) -> None:
    # GIVEN SAM answers the invoke with nothing and logs why, as it does when the container did not answer
    # WHEN make invoke runs on the emulator path
    finished = fake_sam_cli.make_invoke(fake_sam, "put-object", answer="")

    # THEN no result is printed, the exit status says so, and one line says why
    assert (finished.returncode, finished.stdout) == (3, "")
    assert _emulator_said(finished) == [
        EMULATOR_LINE,
        "make invoke: no result: SAM's emulator answered the invoke with nothing: No response from invoke container "
        f"for TriggerFunction (log: {fake_sam / 'start-lambda.log'})",
    ]


def test_an_answer_that_is_not_json_is_no_result(fake_sam: Path) -> None:
    finished = fake_sam_cli.make_invoke(fake_sam, "put-object", answer="Internal Server Error")

    assert (finished.returncode, finished.stdout) == (3, "")
    assert _emulator_said(finished)[-1] == (
        "make invoke: no result: SAM's emulator answered 'Internal Server Error', which is not JSON "
        f"(log: {fake_sam / 'start-lambda.log'})"
    )


def test_the_functions_result_is_the_last_line_and_its_log_goes_to_stderr(fake_sam: Path) -> None:
    answer = {"status": "dry_run", "versionPinned": True}

    finished = fake_sam_cli.make_invoke(fake_sam, "put-object", answer=json.dumps(answer))

    assert (finished.returncode, json.loads(finished.stdout)) == (0, answer)
    assert '{"level":"INFO","message":"fake function ran"}' in finished.stderr.splitlines()
    assert _emulator_said(finished) == [EMULATOR_LINE]


def test_the_functions_error_is_the_line_and_exit_status_of_the_in_process_path(fake_sam: Path) -> None:
    # GIVEN the error the function raises on a malformed event, run in-process
    in_process = invoke("malformed-missing-key")
    error = json.loads(in_process.stdout)
    # WHEN SAM answers that error as the Lambda runtime does (with its request id and stack trace)
    answer = {**error, "requestId": "fake-request", "stackTrace": ['  File "/var/task/trigger_fn/handler.py"']}
    in_emulator = fake_sam_cli.make_invoke(fake_sam, "malformed-missing-key", answer=json.dumps(answer))

    # THEN both paths print the same line and fail the same way
    assert error["errorType"] == "MalformedEventError"
    assert (in_emulator.returncode, in_emulator.stdout) == (in_process.returncode, in_process.stdout)
    assert in_process.returncode == 1


def test_a_settings_error_at_cold_start_is_the_line_of_the_in_process_path(fake_sam: Path, tmp_path: Path) -> None:
    settings = tmp_path / "partial.json"
    settings.write_text(json.dumps({"TriggerFunction": {k: v for k, v in _sample_settings().items() if k != "ROUTES"}}))
    in_process = invoke("put-object", "--env-vars", str(settings))
    message = "ROUTES is not set; the template sets it, or pass it with --env-vars"
    answer = {"errorMessage": message, "errorType": "SettingsError", "requestId": "", "stackTrace": []}

    in_emulator = fake_sam_cli.make_invoke(
        fake_sam, "put-object", "--env-vars", str(settings), answer=json.dumps(answer)
    )

    assert in_process.stderr.startswith(f"make invoke: {message}")
    assert (in_emulator.returncode, in_emulator.stdout) == (in_process.returncode, in_process.stdout) == (2, "")
    assert _emulator_said(in_emulator)[-1] + "\n" == in_process.stderr


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ("{", "is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        ("[]", "holds a JSON array, not an event: an event is a JSON object, as in events/put-object.json"),
        ('"put-object"', "holds a JSON string, not an event: an event is a JSON object, as in events/put-object.json"),
    ],
    ids=["not-json", "list", "string"],
)
def test_an_unusable_event_fails_at_once_with_the_same_line_on_both_paths(
    fake_sam: Path, tmp_path: Path, content: str, line: str
) -> None:
    # GIVEN an event file that is not an event
    event = tmp_path / "event.json"
    event.write_text(content)

    # WHEN make invoke runs it in SAM's emulator, and in-process
    in_emulator = fake_sam_cli.make_invoke(fake_sam, str(event), answer="{}")
    in_process = fake_sam_cli.make_invoke(fake_sam, str(event), "--in-process", answer="{}")

    # THEN both print the same one line, exit 2, and nothing was built or started
    assert (in_emulator.returncode, in_emulator.stdout, in_emulator.stderr) == (2, "", f"make invoke: {event} {line}\n")
    assert (in_process.returncode, in_process.stdout, in_process.stderr) == (2, "", in_emulator.stderr)
    assert fake_sam_cli.calls(fake_sam) == []


def test_a_missing_event_or_env_file_fails_before_sam_is_run(fake_sam: Path) -> None:
    missing_event = fake_sam_cli.make_invoke(fake_sam, "put-objct", answer="{}")
    missing_env = fake_sam_cli.make_invoke(fake_sam, "put-object", "--env-vars", "live.json", answer="{}")

    assert missing_event.returncode == missing_env.returncode == 2
    assert missing_event.stderr.startswith("make invoke: no event file 'put-objct' here or in events/")
    assert (
        missing_env.stderr
        == "make invoke: no env-vars file 'live.json' here or in local/: give a file like local/env.json\n"
    )
    assert fake_sam_cli.calls(fake_sam) == []


def test_the_emulator_runs_its_own_build_of_the_function(fake_sam: Path) -> None:
    finished = fake_sam_cli.make_invoke(fake_sam, "put-object", answer="{}")

    build, start = fake_sam_cli.calls(fake_sam)
    own = ROOT / ".aws-sam" / "invoke"
    assert finished.returncode == 0, finished.stderr
    assert build.split() == ["build", "--build-dir", str(own / "build"), "--cache-dir", str(own / "cache")]
    assert start.split()[:8] == [
        "local",
        "start-lambda",
        "TriggerFunction",
        "--template",
        str(own / "build" / "template.yaml"),
        "--env-vars",
        str(ENV_VARS_FILE),
        "--warm-containers",
    ]
    assert "--skip-pull-image" in start.split()
    ignored = subprocess.run(["git", "check-ignore", "-q", str(own / "build")], cwd=ROOT, check=False)
    assert ignored.returncode == 0, ".aws-sam/invoke must not show up in git status"


def test_sam_exiting_before_it_serves_is_a_failure_in_one_line(fake_sam: Path) -> None:
    finished = fake_sam_cli.make_invoke(fake_sam, "put-object", answer="{}", FAKE_SAM_START="exit")

    assert (finished.returncode, finished.stdout) == (3, "")
    assert _emulator_said(finished)[-1] == (
        "make invoke: no result: sam local start-lambda exited (1): Error: Template file not found at "
        f".aws-sam/invoke/build/template.yaml (log: {fake_sam / 'start-lambda.log'})"
    )


def test_waiting_for_sams_emulator_ends_with_a_line_at_its_timeout(fake_sam: Path) -> None:
    finished = fake_sam_cli.make_invoke(
        fake_sam, "put-object", answer="{}", FAKE_SAM_START="hang", FAKE_SAM_START_TIMEOUT_S="3"
    )

    assert (finished.returncode, finished.stdout) == (3, "")
    assert _emulator_said(finished)[-1].startswith(
        "make invoke: no result: the function's container did not answer within 3 s of starting sam local start-lambda"
    )
    assert not _running(int((fake_sam / "start-lambda.pid").read_text()))


def test_ctrl_c_stops_sams_emulator(fake_sam: Path) -> None:
    # GIVEN make invoke waiting for SAM's emulator, which never serves
    running = subprocess.Popen(
        [sys.executable, "-m", "support.fake_sam_cli", "make-invoke", "put-object"],
        cwd=ROOT,
        env=fake_sam_cli.environment(fake_sam, "{}", FAKE_SAM_START="hang"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pid_file = fake_sam / "start-lambda.pid"
    deadline = time.monotonic() + 60
    while not pid_file.exists():
        assert running.poll() is None, running.communicate()
        assert time.monotonic() < deadline, "sam local start-lambda was never started"
        time.sleep(0.1)

    # WHEN Ctrl-C is pressed
    running.send_signal(signal.SIGINT)
    stdout, stderr = running.communicate(timeout=60)

    # THEN make invoke says so, exits 130, and SAM's emulator is stopped
    assert (running.returncode, stdout, stderr.splitlines()[-1]) == (130, "", "make invoke: interrupted")
    assert not _running(int(pid_file.read_text()))


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _sample_settings() -> dict[str, str]:
    sample: dict[str, str] = json.loads(ENV_VARS_FILE.read_text())["TriggerFunction"]
    return sample
