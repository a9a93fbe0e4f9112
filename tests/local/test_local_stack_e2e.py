"""End to end on local emulators: template.yaml deployed by `sam deploy` to ministack, CodePipeline on moto.

A real upload must travel S3 -> EventBridge -> rule -> deployed function -> StartPipelineExecution, and an
upload to another key must start nothing. Each emulator is stopped when the module ends, pass or fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local.emf import emf_metrics
from local.emulators import MINISTACK_VENV, free_port, running_emulators
from local.sample_site import zip_site
from local.stack_deploy import load_local_config
from local.stack_watch import BucketEventWatcher, Execution, LocalStack

pytestmark = pytest.mark.e2e

PROJECT_DIR = Path(__file__).resolve().parents[2]
# A key the trigger rule must not match; its events still reach EventBridge.
OTHER_KEY = "notes/readme.txt"
# After EventBridge has delivered the other key's event, how long a late invocation is waited for.
LATE_INVOCATION_WAIT_S = 3.0


@dataclass
class ReleaseUpload:
    version_id: str | None
    execution: Execution | None
    event: dict[str, Any] | None


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    if not (MINISTACK_VENV / "bin" / "ministack").exists():
        pytest.fail(f"{MINISTACK_VENV} is missing: run `make ministack-venv` (or `make test`, which builds it).")
    workdir = tmp_path_factory.mktemp("local-stack")
    config = load_local_config(PROJECT_DIR)
    # Free ports and a private build folder: runs alongside `make demo` or another test run without clashing.
    with running_emulators(free_port(), free_port(), config.region, workdir) as emulators:
        local = LocalStack(config=config, emulators=emulators, project_dir=PROJECT_DIR, build_dir=workdir / "build")
        local.deploy()
        local.create_pipeline()
        yield local


@pytest.fixture(scope="module")
def watcher(stack: LocalStack) -> BucketEventWatcher:
    return stack.watch_bucket_events()


@pytest.fixture(scope="module")
def release(stack: LocalStack, watcher: BucketEventWatcher) -> ReleaseUpload:
    body, _ = zip_site()
    version_id = stack.upload(stack.config.object_key, body)
    execution = stack.wait_for_new_execution(known=set())
    return ReleaseUpload(version_id, execution, watcher.wait_for_event(stack.config.object_key))


def _started_record(stack: LocalStack) -> dict[str, Any]:
    record = stack.wait_for_record(lambda r: r.get("message") == "Started pipeline execution")
    assert record is not None, f"no 'Started pipeline execution' line in {stack.log_group}"
    return record


def test_upload_starts_one_pipeline_execution(stack: LocalStack, release: ReleaseUpload) -> None:
    # GIVEN the stack deployed and the pipeline created; WHEN my-website.zip is put
    # THEN the deployed function started exactly one execution of the pipeline
    assert release.version_id, "the bucket is not versioned"
    assert release.execution is not None, "no pipeline execution within 30 s of the upload"
    assert release.execution.trigger == "StartPipelineExecution"
    assert [e.execution_id for e in stack.executions()] == [release.execution.execution_id]


def test_function_logs_its_decision(stack: LocalStack, release: ReleaseUpload) -> None:
    assert release.execution is not None
    record = _started_record(stack)
    assert record["pipelineExecutionId"] == release.execution.execution_id
    assert record["request"]["name"] == stack.config.pipeline_name
    assert record["key"] == stack.config.object_key
    assert record["function_name"] == stack.function_name
    assert "cold_start" in record


def test_function_emits_started_metric(stack: LocalStack, release: ReleaseUpload) -> None:
    assert release.execution is not None
    service = _started_record(stack)["service"]
    metrics = emf_metrics(stack.function_records())
    per_pipeline = {"pipeline": stack.config.pipeline_name, "service": service}
    assert ("PipelineExecutionsStarted", per_pipeline, 1.0) in metrics
    assert ("PipelineExecutionsStarted", {"service": service}, 1.0) in metrics


def test_version_pin_follows_the_event(stack: LocalStack, release: ReleaseUpload) -> None:
    # ministack's events have carried no version-id so far; if one arrives, the start must be pinned to it.
    assert release.event is not None, "the watcher rule never received the upload's event"
    record = _started_record(stack)
    version = release.event["detail"]["object"].get("version-id")
    if version is not None:
        pin = {"actionName": "Source", "revisionType": "S3_OBJECT_VERSION_ID", "revisionValue": version}
        assert pin in record["request"]["sourceRevisions"]
        return
    warnings = [r for r in stack.function_records() if r.get("level") == "WARNING" and "no version-id" in r["message"]]
    assert warnings, "an event without version-id must be logged as an unpinned start"
    assert ("UnpinnedStarts", {"service": record["service"]}, 1.0) in emf_metrics(stack.function_records())


def test_upload_to_other_key_starts_nothing(
    stack: LocalStack, watcher: BucketEventWatcher, release: ReleaseUpload
) -> None:
    # GIVEN the release upload handled
    assert release.execution is not None
    _started_record(stack)
    known = {e.execution_id for e in stack.executions()}
    invocations = stack.invocations()
    # WHEN a file lands under a key the rule does not match
    stack.upload(OTHER_KEY, b"not a release\n")
    # THEN EventBridge got its event, yet the function did not run and no execution started
    assert watcher.wait_for_event(OTHER_KEY) is not None, "EventBridge never delivered the other key's event"
    assert stack.wait_for_new_execution(known, timeout_s=LATE_INVOCATION_WAIT_S) is None
    assert stack.invocations() == invocations
