"""The guide is true: what README.md and docs/ show a command printing is what it prints, and what they name exists."""

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
from support.readme import (
    EVENT_ROWS,
    PAGES,
    README,
    heading_anchors,
    page,
    relative_links,
    shown_run,
    trimmed_line_pattern,
)
from trigger_fn.settings import load_settings

MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")
# The pages that hold what the README links to: the local runs, the operator tools, migration, routes, central bucket.
LOCAL = page("docs/local.md")
OPERATIONS = page("docs/operations.md")
MIGRATION = page("docs/migration.md")
ROUTES = page("docs/routes.md")
CENTRAL_BUCKET = page("docs/central-bucket.md")
README_MAX_LINES = 300


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


def test_make_invoke_prints_the_result_the_guide_shows() -> None:
    result = _invoke("events/put-object.json")

    assert result.returncode == 0, result.stderr
    last_line = result.stdout.strip().splitlines()[-1]
    assert f"```json\n{last_line}\n```" in LOCAL


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
    assert f"```json\n{result.stdout.strip().splitlines()[-1]}\n```" in LOCAL


@pytest.mark.parametrize(("event_file", "described"), EVENT_ROWS, ids=[row[0] for row in EVENT_ROWS])
def test_each_sample_event_does_what_the_table_says(event_file: str, described: str) -> None:
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


@pytest.mark.parametrize("name", PAGES)
def test_every_make_target_a_page_uses_exists(name: str) -> None:
    # make as code: inline (`make x`), a code line, or a shown run ($ make x); prose may say "make" too.
    used = set(re.findall(r"(?:`|^|\$ )make ([a-z][a-z-]+)", page(name), flags=re.MULTILINE))
    defined = set(re.findall(r"^([a-z][a-z-]+):", MAKEFILE, flags=re.MULTILINE))

    assert used <= defined, used - defined


def test_every_file_a_page_names_exists() -> None:
    pattern = r"`((?:events|local|ops|docs|bench|src|tests)/[\w./-]*)`"
    named = {(name, path) for name, text in PAGES.items() for path in re.findall(pattern, text)}

    assert named
    missing = [(name, path) for name, path in named if not (ROOT / path.rstrip("/")).exists()]
    assert not missing


@pytest.mark.parametrize(
    ("shown", "argv"),
    [("make migrate", []), (f"make migrate PIPELINE={CONSOLE}", ["--pipeline", CONSOLE])],
    ids=["scan", "plan"],
)
def test_make_migrate_prints_what_the_migration_page_shows(shown: str, argv: list[str]) -> None:
    # The account the README describes, built afresh; nothing in either output is random, so nothing is masked.
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        build_console_account(session)
        account = AwsAccount.from_session(session)
        read_back_eventbridge(account.s3)
        out, err = io.StringIO(), io.StringIO()
        code = migrate.run(migrate.parser().parse_args(argv), account, out, err)

    assert code == 0, err.getvalue()
    assert f"```text\n$ {shown}\n{out.getvalue()}```\n" in MIGRATION


def test_make_check_alarms_prints_what_the_operations_page_shows() -> None:
    # The stack the README deploys, with AlarmEmail set and its subscription confirmed; samconfig.toml names it.
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        create_stack(session, deploy_alarms(session))
        out, err = io.StringIO(), io.StringIO()
        code = check_alarms.main([], environ={"AWS_DEFAULT_REGION": REGION}, out=out, err=err)

    assert code == 0, err.getvalue()
    assert f"```text\n$ make check-alarms\n{out.getvalue()}```\n" in OPERATIONS


@pytest.mark.parametrize("shown", ["make redrive", "make redrive ARGS=--apply"], ids=["dry-run", "apply"])
def test_make_redrive_prints_what_the_operations_page_shows(shown: str) -> None:
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
    lines = shown_run(shown, "docs/operations.md")
    assert len(printed) == len(lines)
    # Message and version ids are moto's random ones: the README trims them.
    for line, real in zip(lines, printed, strict=True):
        assert trimmed_line_pattern(line).fullmatch(real), (line, real)


@pytest.mark.parametrize("name", PAGES)
def test_no_placeholder_is_left(name: str) -> None:
    assert not re.search(r"\b[A-Z_]+_SECTION\b|PERF_TABLE|TODO", page(name))


def test_the_readme_is_read_in_ten_minutes() -> None:
    assert len(README.splitlines()) <= README_MAX_LINES


def test_sections_come_in_the_order_a_user_needs_them() -> None:
    headings = re.findall(r"^## (.+)$", README, flags=re.MULTILINE)

    assert headings == [
        "What it is",
        "Quick start (no AWS account needed)",
        "Deploy to AWS",
        "Upload a release and watch it",
        "Logs and metrics",
        "Troubleshooting",
        "Remove the stack",
        "Everything else",
    ]


@pytest.mark.parametrize("name", PAGES)
def test_every_link_points_to_an_existing_file_and_heading(name: str) -> None:
    broken = [link for link in relative_links(page(name)) if not _resolves(name, link)]

    assert not broken


def _resolves(name: str, link: str) -> bool:
    """A link from page NAME reaches a file, and the heading its #anchor names on that file."""
    target, _, anchor = link.partition("#")
    path = (ROOT / name).parent / target if target else ROOT / name
    return path.exists() and (not anchor or anchor in heading_anchors(path.read_text(encoding="utf-8")))


def test_the_readme_links_every_docs_page() -> None:
    linked = {link.partition("#")[0] for link in relative_links(README)}

    assert {name for name in PAGES if name.startswith("docs/")} <= linked


def test_removal_says_what_sam_delete_keeps() -> None:
    removal = README.split("\n## Remove the stack\n", 1)[1].split("\n## ", 1)[0]

    assert "sam delete" in removal
    assert "DeletionPolicy: Retain" in removal
    assert "DeletionPolicy: Retain" in (ROOT / "template.yaml").read_text(encoding="utf-8")


def test_the_routes_example_in_samconfig_reads_as_sam_reads_it(tmp_path: Path) -> None:
    example = ROUTES.split("\n```toml\n[prod.deploy.parameters]\n", 1)[1].split("```", 1)[0]
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


def test_make_cross_account_policies_prints_what_the_central_bucket_page_shows() -> None:
    # The command exactly as shown, through make (-n: the line make would run), then that line's program run here.
    (command,) = [line[2:] for line in CENTRAL_BUCKET.splitlines() if line.startswith("$ make cross-account-policies ")]
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
    assert f"```text\n$ {command}\n{out.getvalue()}```\n" in CENTRAL_BUCKET


def test_the_central_bucket_routes_the_page_shows_load() -> None:
    # The trigger account's answers in the page's deployment steps, as the function reads them.
    section = CENTRAL_BUCKET.split("\n## Deploy it\n", 1)[1].split("\n## ", 1)[0]
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
