"""Real uploads through moto's S3 → EventBridge with the template's own rule pattern, then the handler."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import boto3
import pytest

from local.aws_models.codepipeline import FakeCodePipeline
from local.example_pipeline import create_s3_source_pipeline
from local.lambda_context import LocalLambdaContext
from local.moto_path import REGION, MotoStack, function_environment, moto_stack
from local.sample_site import zip_site
from ops.template_model import REQUIRED_PARAMETERS
from support.environment import ROOT
from trigger_fn import handler
from trigger_fn.clients import AwsClients
from trigger_fn.retries import RetryPolicy
from trigger_fn.settings import load_settings


def _run_function(
    event: dict[str, Any],
    codepipeline: Any,
    parameters: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    s3: Any,
) -> dict[str, Any]:
    """The handler as the deployed function runs it: the template's settings, moto's S3 for the version check."""
    monkeypatch.setattr(handler, "SETTINGS", load_settings(function_environment(REQUIRED_PARAMETERS | parameters)))
    clients = AwsClients(codepipeline, s3=s3, retry=RetryPolicy(sleep=lambda _: None))
    return handler.lambda_handler(event, LocalLambdaContext(), clients=clients)


def test_an_upload_starts_the_pipeline_on_the_version_s3_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    with moto_stack() as stack:
        version = stack.upload("my-website.zip", zip_site()[0])
        (event,) = stack.delivered_events()
        recorder = FakeCodePipeline.over(stack.codepipeline)

        result = _run_function(event, recorder, {}, monkeypatch, stack.s3)

        assert event["detail"]["object"]["version-id"] == version
        assert recorder.requests[0]["sourceRevisions"] == [
            {"actionName": "Source", "revisionType": "S3_OBJECT_VERSION_ID", "revisionValue": version}
        ]
        (started,) = result["executions"]
        execution = stack.codepipeline.get_pipeline_execution(
            pipelineName="my-website-pipeline", pipelineExecutionId=started["pipelineExecutionId"]
        )["pipelineExecution"]
        assert execution["pipelineExecutionId"] == started["pipelineExecutionId"]


def test_after_a_newer_upload_only_the_newer_version_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN two real uploads of one key, v1 then v2, and their events (moto's carry version-id)
    with moto_stack() as stack:
        v1 = stack.upload("my-website.zip", b"v1")
        v2 = stack.upload("my-website.zip", b"v2")
        first, second = sorted(stack.delivered_events(), key=lambda e: e["detail"]["object"]["version-id"] != v1)
        recorder = FakeCodePipeline.over(stack.codepipeline)

        # WHEN the function handles v1's event (late, after v2 landed), then v2's
        late = _run_function(first, recorder, {}, monkeypatch, stack.s3)
        current = _run_function(second, recorder, {}, monkeypatch, stack.s3)

        # THEN v1 starts nothing and says why; v2 starts, pinned to v2
        assert late["status"] == "ignored"
        assert late["reasonCode"] == "superseded"
        assert v1 in late["reason"]
        assert v2 in late["reason"]
        assert current["status"] == "started"
        assert [r["sourceRevisions"][0]["revisionValue"] for r in recorder.requests] == [v2]


def test_after_a_delete_nothing_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    with moto_stack() as stack:
        stack.upload("my-website.zip", b"v1")
        (event,) = stack.delivered_events()
        stack.s3.delete_object(Bucket=stack.bucket, Key="my-website.zip")  # a delete marker is now current
        recorder = FakeCodePipeline.over(stack.codepipeline)

        result = _run_function(event, recorder, {}, monkeypatch, stack.s3)

        assert (result["status"], result["reasonCode"]) == ("ignored", "object_deleted")
        assert recorder.requests == []


def test_a_route_that_wants_every_version_starts_a_replaced_one_and_the_others_do_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    routes = [
        {"key": "*.zip", "pipeline": "deploy"},
        {"key": "*.zip", "pipeline": "archive", "latestOnly": False},
    ]
    parameters = {"Routes": json.dumps(routes), "RoutedPipelines": "deploy,archive", "RoutesKeyFilter": "*.zip"}
    with moto_stack(**parameters) as stack:
        _create_pipelines(stack, "deploy", "archive")
        v1 = stack.upload("site.zip", b"v1")
        stack.upload("site.zip", b"v2")
        (v1_event,) = [e for e in stack.delivered_events() if e["detail"]["object"]["version-id"] == v1]
        recorder = FakeCodePipeline.over(stack.codepipeline)

        result = _run_function(v1_event, recorder, parameters, monkeypatch, stack.s3)

        assert result["status"] == "started"
        assert [(r["name"], r["sourceRevisions"][0]["revisionValue"]) for r in recorder.requests] == [("archive", v1)]
        assert [(s["pipeline"], s["reasonCode"]) for s in result["skipped"]] == [("deploy", "superseded")]


def test_other_keys_never_reach_the_function() -> None:
    with moto_stack() as stack:
        stack.upload("docs/readme.txt", b"x")
        stack.upload("my-website.zip.bak", b"x")
        stack.upload("site/my-website.zip", b"x")

        assert stack.delivered_events() == []


def test_deletes_never_reach_the_function() -> None:
    with moto_stack() as stack:
        stack.upload("my-website.zip", b"x")
        stack.delivered_events()
        stack.s3.delete_object(Bucket=stack.bucket, Key="my-website.zip")

        assert stack.delivered_events() == []


def test_a_wildcard_key_matches_nested_keys_in_the_rule_and_the_function(monkeypatch: pytest.MonkeyPatch) -> None:
    parameters = {"ObjectKey": "releases/*.zip", "OverrideObjectKey": "true"}
    with moto_stack(**parameters) as stack:
        stack.upload("releases/2026/11/site.zip", b"x")
        stack.upload("releases/notes.txt", b"x")
        (event,) = stack.delivered_events()
        recorder = FakeCodePipeline.over(stack.codepipeline)

        result = _run_function(event, recorder, parameters, monkeypatch, stack.s3)

        assert result["status"] == "started"
        assert recorder.requests[0]["sourceRevisions"][1]["revisionValue"] == "releases/2026/11/site.zip"


@pytest.mark.parametrize("key", ["my website.zip", "sites/café/版本 1.zip", "a+b=c.zip"])
def test_keys_with_spaces_and_non_ascii_arrive_raw_and_match_raw(key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    parameters = {"ObjectKey": key, "OverrideObjectKey": "true"}
    with moto_stack(**parameters) as stack:
        stack.upload(key, b"x")
        (event,) = stack.delivered_events()
        recorder = FakeCodePipeline.over(stack.codepipeline)

        _run_function(event, recorder, parameters, monkeypatch, stack.s3)

        assert event["detail"]["object"]["key"] == key
        assert recorder.requests[0]["sourceRevisions"][1]["revisionValue"] == key


def test_routes_fan_out_from_one_upload(monkeypatch: pytest.MonkeyPatch) -> None:
    routes = [{"key": "site/*.zip", "pipeline": "site"}, {"key": "*.zip", "pipeline": "audit"}]
    parameters = {"Routes": json.dumps(routes), "RoutedPipelines": "site,audit", "RoutesKeyFilter": "*.zip"}
    with moto_stack(**parameters) as stack:
        _create_pipelines(stack, "site", "audit")
        stack.upload("site/v1.zip", b"x")
        stack.upload("notes.txt", b"x")
        (event,) = stack.delivered_events()
        recorder = FakeCodePipeline.over(stack.codepipeline)

        result = _run_function(event, recorder, parameters, monkeypatch, stack.s3)

        assert [e["request"]["name"] for e in result["executions"]] == ["site", "audit"]


def _create_pipelines(stack: MotoStack, *names: str) -> None:
    for name in names:
        create_s3_source_pipeline(
            codepipeline=stack.codepipeline,
            iam=boto3.client("iam", region_name=REGION),
            s3=stack.s3,
            name=name,
            source_bucket=stack.bucket,
            object_key="placeholder.zip",
        )


def test_make_demo_moto_prints_a_started_execution() -> None:
    env = os.environ | {"PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    result = subprocess.run(
        [sys.executable, "-m", "local.demo_moto"], capture_output=True, text=True, check=False, cwd=ROOT, env=env
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "[7] Pipeline execution started" in result.stdout
    assert "Started execution " in result.stdout
    assert "events_delivered: 0" in result.stdout
