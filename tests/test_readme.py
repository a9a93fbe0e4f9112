"""The README is true: what it shows a command printing is what the command prints, and what it names exists."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from ops import check_alarms, cross_account_policies, migrate, redrive
from ops.deploy_config import read_target
from ops.migration.account import AwsAccount
from ops.parameter_checks import parameter_problems
from support.console_account import CONSOLE, REGION, build_console_account, read_back_eventbridge
from support.dead_letters import DeadLetterStack, MoveTasks, event
from support.deployed_stack import create_stack, deploy_alarms
from support.environment import ROOT
from support.readme import EVENT_ROWS, README, shown_run, trimmed_line_pattern
from trigger_fn.settings import load_settings

MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")


def _invoke(event_file: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SOURCE_BUCKET", "ROUTES", "ALLOWED_PIPELINES", "ROUTES_KEY_FILTER", "DRY_RUN"}
    }
    env["PYTHONPATH"] = f"{ROOT / 'src'}{os.pathsep}{ROOT}"
    return subprocess.run(
        [sys.executable, "-m", "local.invoke", event_file],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env=env,
    )


def test_make_invoke_prints_the_result_the_readme_shows() -> None:
    result = _invoke("events/put-object.json")

    assert result.returncode == 0, result.stderr
    last_line = result.stdout.strip().splitlines()[-1]
    assert f"```json\n{last_line}\n```" in README


def test_make_invoke_without_a_container_engine_runs_in_process_and_says_why() -> None:
    # GIVEN no Docker engine answers (its socket points nowhere)
    env = os.environ | {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}

    result = subprocess.run(
        ["make", "--no-print-directory", "invoke", "EVENT=events/put-object.json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env=env,
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0] == (
        "make invoke: in-process, as SAM's emulator cannot run here "
        "(no container engine: `docker info` does not answer (make engine starts one on Debian as root))"
    )
    assert f"```json\n{result.stdout.strip().splitlines()[-1]}\n```" in README


@pytest.mark.parametrize(("event_file", "described"), EVENT_ROWS, ids=[row[0] for row in EVENT_ROWS])
def test_each_sample_event_does_what_the_readme_table_says(event_file: str, described: str) -> None:
    result = _invoke(f"events/{event_file}")
    output = json.loads(result.stdout.strip().splitlines()[-1])

    if "raises" in described:
        assert result.returncode == 1
        assert output["errorType"] in described
    elif "batchItemFailures" in described:
        # The queue's batch: every record settled, none returned to the queue.
        assert output == {"batchItemFailures": []}
        assert "`batchItemFailures` empty" in described
        lines = (result.stdout + result.stderr).splitlines()
        settled = [json.loads(line) for line in lines if '"Batch record settled"' in line]
        outcomes = [(line["outcome"], line.get("reason")) for line in settled]
        assert outcomes == [("ignored", "superseded"), ("dry_run", None)]
    elif "ignored" in described:
        assert output["status"] == "ignored"
        assert f"`{output['reasonCode']}`" in described
    else:
        # local/env.json runs them as a dry run: the request that would start the pipeline.
        assert output["status"] == "dry_run"
        assert output["versionPinned"] is ("without a pin" not in described)


def test_the_event_table_covers_every_sample_event() -> None:
    shipped = {path.name for path in (ROOT / "events").glob("*.json")}

    assert {row[0] for row in EVENT_ROWS} == shipped


def test_every_make_target_the_readme_uses_exists() -> None:
    used = set(re.findall(r"\bmake ([a-z][a-z-]+)", README))
    defined = set(re.findall(r"^([a-z][a-z-]+):", MAKEFILE, flags=re.MULTILINE))

    assert used <= defined, used - defined


def test_every_file_the_readme_names_exists() -> None:
    named = set(re.findall(r"`((?:events|local|ops|docs|bench|src|tests)/[\w./-]*)`", README))

    assert named
    missing = [path for path in named if not (ROOT / path.rstrip("/")).exists()]
    assert not missing


@pytest.mark.parametrize(
    ("shown", "argv"),
    [("make migrate", []), (f"make migrate PIPELINE={CONSOLE}", ["--pipeline", CONSOLE])],
    ids=["scan", "plan"],
)
def test_make_migrate_prints_what_the_readme_shows(shown: str, argv: list[str]) -> None:
    # The account the README describes, built afresh; nothing in either output is random, so nothing is masked.
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        build_console_account(session)
        account = AwsAccount.from_session(session)
        read_back_eventbridge(account.s3)
        out, err = io.StringIO(), io.StringIO()
        code = migrate.run(migrate.parser().parse_args(argv), account, out, err)

    assert code == 0, err.getvalue()
    assert f"```text\n$ {shown}\n{out.getvalue()}```\n" in README


def test_make_check_alarms_prints_what_the_readme_shows() -> None:
    # The stack the README deploys, with AlarmEmail set and its subscription confirmed; samconfig.toml names it.
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        create_stack(session, deploy_alarms(session))
        out, err = io.StringIO(), io.StringIO()
        code = check_alarms.main([], environ={"AWS_DEFAULT_REGION": REGION}, out=out, err=err)

    assert code == 0, err.getvalue()
    assert f"```text\n$ make check-alarms\n{out.getvalue()}```\n" in README


@pytest.mark.parametrize("shown", ["make redrive", "make redrive ARGS=--apply"], ids=["dry-run", "apply"])
def test_make_redrive_prints_what_the_readme_shows(shown: str) -> None:
    # The README's stack two hours after three events were kept: v2 is current, v1 was superseded, one old record.
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        stack = DeadLetterStack(session)
        MoveTasks(session)
        v1, v2 = stack.versions
        stack.undeliverable(event("e-1", v2))
        stack.failed_every_receive(event("e-2", v1))
        stack.old_invocation_record(event("e-3", v2, key="notes.txt"))
        out, err = io.StringIO(), io.StringIO()
        argv = ["--wait", "0", *(["--apply"] if "--apply" in shown else [])]
        code = redrive.main(
            argv,
            session_factory=lambda: session,
            environ={"AWS_DEFAULT_REGION": REGION},
            out=out,
            err=err,
            clock=lambda: time.time() + 7501,
        )

    assert code == 0, err.getvalue()
    printed = out.getvalue().splitlines()
    lines = shown_run(shown)
    assert len(printed) == len(lines)
    # Message and version ids are moto's random ones: the README trims them.
    for line, real in zip(lines, printed, strict=True):
        assert trimmed_line_pattern(line).fullmatch(real), (line, real)


def test_no_placeholder_is_left() -> None:
    assert not re.search(r"\b[A-Z_]+_SECTION\b|PERF_TABLE|TODO", README)


def test_sections_come_in_the_order_a_user_needs_them() -> None:
    headings = re.findall(r"^## (.+)$", README, flags=re.MULTILINE)
    wanted = [
        "How it works",
        "Quick start (no AWS account needed)",
        "Deploy to AWS",
        "Try it locally with your events",
        "Upload a release",
        "Logs and metrics",
        "Operations",
        "Remove the stack",
        "Troubleshooting",
        "Limits and costs",
    ]

    assert [heading for heading in headings if heading in wanted] == wanted


def test_removal_says_what_sam_delete_keeps() -> None:
    removal = README.split("\n## Remove the stack\n", 1)[1].split("\n## ", 1)[0]

    assert "sam delete" in removal
    assert "DeletionPolicy: Retain" in removal
    assert "DeletionPolicy: Retain" in (ROOT / "template.yaml").read_text(encoding="utf-8")


def test_the_routes_example_in_samconfig_reads_as_sam_reads_it(tmp_path: Path) -> None:
    example = README.split("\n```toml\n[prod.deploy.parameters]\n", 1)[1].split("```", 1)[0]
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text("[prod.deploy.parameters]\n" + example, encoding="utf-8")

    target = read_target(samconfig, "prod")

    assert [(route["key"], route["pipeline"]) for route in json.loads(target.parameters["Routes"])] == [
        ("site/*.zip", "site-deploy"),
        ("api/release.zip", "api-deploy"),
        ("*.zip", "audit"),
    ]
    assert parameter_problems(target.parameters) == []
    # The function's own settings reader accepts what the template would give it.
    settings = load_settings(
        {
            "SOURCE_BUCKET": "acme-releases",
            "ROUTES": target.parameters["Routes"],
            "ALLOWED_PIPELINES": target.parameters["RoutedPipelines"],
        }
    )
    assert len(settings.routes) == 3


def test_make_cross_account_policies_prints_what_the_readme_shows() -> None:
    # The command exactly as shown, through make (-n: the line make would run), then that line's program run here.
    (command,) = [line[2:] for line in README.splitlines() if line.startswith("$ make cross-account-policies ")]
    planned = subprocess.run(
        ["make", "-n", "--no-print-directory", *shlex.split(command)[1:]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.replace("\\\n", " ")
    argv = shlex.split(planned.split("-m ops.cross_account_policies", 1)[1])
    out = io.StringIO()

    with contextlib.redirect_stdout(out):
        code = cross_account_policies.main(argv)

    assert code == 0
    assert f"```text\n$ {command}\n{out.getvalue()}```\n" in README


def test_the_central_bucket_routes_the_readme_shows_load() -> None:
    # The trigger account's answers in the README's central bucket section, as the function reads them.
    section = README.split("\n### Central artifact bucket\n", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    routes = re.search(r"# Routes=(\[.*\])$", section, flags=re.MULTILINE)
    assert routes is not None
    environ = {
        "SOURCE_BUCKET": "central-artifacts",
        "ROUTES": routes.group(1),
        "SOURCE_ACCOUNT": "444455556666",
        "PIPELINE_ACCOUNTS": "777788889999",
        "PIPELINE_STARTER_ROLE_NAME": "s3-pipeline-trigger-starter",
    }

    (route,) = load_settings(environ).routes

    assert route.pipeline_account == "777788889999"
