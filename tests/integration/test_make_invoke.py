"""`make invoke`: an event by file or by its name in events/, settings from an env-vars file (ENV=), and for
every mistake one line saying what to fix, exit 2, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.environment import FUNCTION_ENV, ROOT

EVENT_NAMES = (
    "copy-object, malformed-missing-key, multipart-upload, object-deleted, other-bucket, other-key, put-object, "
    "put-object-unversioned"
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
    settings.write_text(json.dumps({"TriggerFunction": {**_sample_settings(), "PIPELINE_NAME": "other-pipeline"}}))

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
            "make invoke: no env-vars file 'live.json' here or in events/: give a file like events/env.json",
        ),
    ],
    ids=["typo", "unknown", "missing-env-file"],
)
def test_a_missing_file_is_one_line(arguments: list[str], line: str) -> None:
    finished = invoke(*arguments)

    assert (finished.returncode, finished.stdout, finished.stderr) == (2, "", line + "\n")


def test_a_missing_variable_is_one_line_naming_it_and_the_file(tmp_path: Path) -> None:
    settings = tmp_path / "partial.json"
    settings.write_text(
        json.dumps({"TriggerFunction": {k: v for k, v in _sample_settings().items() if k != "PIPELINE_NAME"}})
    )

    finished = invoke("put-object", "--env-vars", str(settings))

    assert (finished.returncode, finished.stdout) == (2, "")
    assert finished.stderr == (
        "make invoke: PIPELINE_NAME is not set; the template sets it, or pass it with --env-vars "
        f"(make invoke reads the function's variables from {settings}; add it there or pass ENV=file)\n"
    )


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ("{", "is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        (
            '{"OtherFunction": {}}',
            'has no "TriggerFunction" object: write {"TriggerFunction": {"PIPELINE_NAME": '
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
        ["make", "-s", "invoke", "EVENT=other-key", f"ENV={settings}"],
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
        ["make", "-s", "invoke", "EVENT=put-object"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "ENV": "/etc/profile"},
    )

    assert result(finished)["status"] == "dry_run"


def _sample_settings() -> dict[str, str]:
    sample: dict[str, str] = json.loads((ROOT / "events" / "env.json").read_text())["TriggerFunction"]
    return sample
