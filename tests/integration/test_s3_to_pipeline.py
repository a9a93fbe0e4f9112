"""Real uploads through moto's S3 → EventBridge with the template's own rule pattern, then the handler."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from local.lambda_context import LocalLambdaContext
from local.moto_path import function_environment, moto_stack
from local.sample_site import zip_site
from local.template_model import REQUIRED_PARAMETERS
from support.environment import ROOT
from support.recording import RecordingCodePipeline
from trigger_fn import handler
from trigger_fn.clients import AwsClients
from trigger_fn.retries import RetryPolicy
from trigger_fn.settings import load_settings


def _run_function(
    event: dict[str, Any], codepipeline: Any, parameters: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    # The settings the deployed function would read for these template parameters.
    monkeypatch.setattr(handler, "SETTINGS", load_settings(function_environment(REQUIRED_PARAMETERS | parameters)))
    return handler.lambda_handler(
        event, LocalLambdaContext(), clients=AwsClients(codepipeline, RetryPolicy(sleep=lambda _: None))
    )


def test_an_upload_starts_the_pipeline_on_the_version_s3_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    with moto_stack() as stack:
        version = stack.upload("my-website.zip", zip_site()[0])
        (event,) = stack.delivered_events()
        recorder = RecordingCodePipeline(stack.codepipeline)

        result = _run_function(event, recorder, {}, monkeypatch)

        assert event["detail"]["object"]["version-id"] == version
        assert recorder.requests[0]["sourceRevisions"] == [
            {"actionName": "Source", "revisionType": "S3_OBJECT_VERSION_ID", "revisionValue": version}
        ]
        (started,) = result["executions"]
        execution = stack.codepipeline.get_pipeline_execution(
            pipelineName="my-website-pipeline", pipelineExecutionId=started["pipelineExecutionId"]
        )["pipelineExecution"]
        assert execution["pipelineExecutionId"] == started["pipelineExecutionId"]


def test_two_uploads_of_the_key_start_two_versions_with_two_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    with moto_stack() as stack:
        first = stack.upload("my-website.zip", b"v1")
        second = stack.upload("my-website.zip", b"v2")
        recorder = RecordingCodePipeline(stack.codepipeline)

        for event in stack.delivered_events():
            _run_function(event, recorder, {}, monkeypatch)

        pinned = [r["sourceRevisions"][0]["revisionValue"] for r in recorder.requests]
        assert sorted(pinned) == sorted([first, second])
        assert len({r["clientRequestToken"] for r in recorder.requests}) == 2


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
        recorder = RecordingCodePipeline(stack.codepipeline)

        result = _run_function(event, recorder, parameters, monkeypatch)

        assert result["status"] == "started"
        assert recorder.requests[0]["sourceRevisions"][1]["revisionValue"] == "releases/2026/11/site.zip"


@pytest.mark.parametrize("key", ["my website.zip", "sites/café/版本 1.zip", "a+b=c.zip"])
def test_keys_with_spaces_and_non_ascii_arrive_raw_and_match_raw(key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    parameters = {"ObjectKey": key, "OverrideObjectKey": "true"}
    with moto_stack(**parameters) as stack:
        stack.upload(key, b"x")
        (event,) = stack.delivered_events()
        recorder = RecordingCodePipeline(stack.codepipeline)

        _run_function(event, recorder, parameters, monkeypatch)

        assert event["detail"]["object"]["key"] == key
        assert recorder.requests[0]["sourceRevisions"][1]["revisionValue"] == key


def test_routes_fan_out_from_one_upload(monkeypatch: pytest.MonkeyPatch) -> None:
    routes = [{"key": "site/*.zip", "pipeline": "site"}, {"key": "*.zip", "pipeline": "audit"}]
    parameters = {"Routes": json.dumps(routes), "RoutedPipelines": "site,audit", "RoutesKeyFilter": "*.zip"}
    with moto_stack(**parameters) as stack:
        from local.example_pipeline import create_s3_source_pipeline

        for name in ("site", "audit"):
            create_s3_source_pipeline(
                codepipeline=stack.codepipeline,
                iam=_iam(),
                s3=stack.s3,
                name=name,
                source_bucket=stack.bucket,
                object_key="placeholder.zip",
            )
        stack.upload("site/v1.zip", b"x")
        stack.upload("notes.txt", b"x")
        (event,) = stack.delivered_events()
        recorder = RecordingCodePipeline(stack.codepipeline)

        result = _run_function(event, recorder, parameters, monkeypatch)

        assert [e["request"]["name"] for e in result["executions"]] == ["site", "audit"]


def _iam() -> Any:
    import boto3

    return boto3.client("iam", region_name="eu-west-1")


def test_make_demo_moto_prints_a_started_execution() -> None:
    env = os.environ | {"PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    result = subprocess.run(
        [sys.executable, "-m", "local.demo_moto"], capture_output=True, text=True, check=False, cwd=ROOT, env=env
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "[7] Pipeline execution started" in result.stdout
    assert "Started execution " in result.stdout
    assert "events_delivered: 0" in result.stdout
