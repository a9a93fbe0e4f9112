"""The Lambda handler end to end in-process: moto's CodePipeline behind the tests' CodePipeline rules (which also
record the exact request), logs and metrics read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from local.aws_models.codepipeline import FakeCodePipeline
from local.aws_models.s3 import FakeS3
from local.example_pipeline import create_s3_source_pipeline
from local.lambda_context import LocalLambdaContext
from support.environment import one_route
from support.events import fresh, load_event
from support.function_output import FunctionOutput, emitted_metrics
from trigger_fn import handler
from trigger_fn.clients import AwsClients
from trigger_fn.retries import AwsCallFailed, RetryPolicy
from trigger_fn.s3_event import MalformedEventError, read_object_created
from trigger_fn.settings import load_settings
from trigger_fn.tokens import request_token

PIPELINE = "my-website-pipeline"
VERSION_ID = "Kq3Xh.9vRzT2mWb7LdN4pYcF8sEaJ0uG"


@pytest.fixture
def codepipeline() -> Iterator[FakeCodePipeline]:
    with mock_aws():
        region = "eu-west-1"
        client = boto3.client("codepipeline", region_name=region)
        # The function's own pipeline allows the key override, which some tests switch on.
        for name, key, override in (
            (PIPELINE, "my-website.zip", True),
            ("site", "site/*.zip", False),
            ("audit", "*.zip", False),
        ):
            create_s3_source_pipeline(
                codepipeline=client,
                iam=boto3.client("iam", region_name=region),
                s3=boto3.client("s3", region_name=region),
                name=name,
                source_bucket="my-artifact-bucket",
                object_key=key,
                allow_key_override=override,
            )
        yield FakeCodePipeline.over(client)


def _invoke(event: Any, codepipeline: Any, context: LocalLambdaContext | None = None) -> dict[str, Any]:
    """The handler on a fresh delivery of the event, whose version S3 still reports as the key's current one."""
    event = fresh(event)
    clients = AwsClients(codepipeline, s3=FakeS3.holding_any(event), retry=RetryPolicy(sleep=lambda _: None))  # type: ignore[arg-type]
    return handler.lambda_handler(event, context or LocalLambdaContext(), clients=clients)


def test_an_upload_starts_the_pipeline_on_exactly_that_version(
    codepipeline: FakeCodePipeline, output: FunctionOutput
) -> None:
    # GIVEN the sample event for a PutObject of my-website.zip
    event = load_event("put-object.json")
    token = request_token(PIPELINE, read_object_created(event))

    # WHEN the function receives it
    result = _invoke(event, codepipeline)

    # THEN exactly one StartPipelineExecution went out, pinned to the uploaded version, with the version's token
    expected_revisions = [{"actionName": "Source", "revisionType": "S3_OBJECT_VERSION_ID", "revisionValue": VERSION_ID}]
    assert codepipeline.requests == [
        {"name": PIPELINE, "sourceRevisions": expected_revisions, "clientRequestToken": token}
    ]
    # AND the execution it reports exists in CodePipeline
    (started,) = result["executions"]
    execution = codepipeline.get_pipeline_execution(
        pipelineName=PIPELINE, pipelineExecutionId=started["pipelineExecutionId"]
    )["pipelineExecution"]
    assert execution["trigger"]["triggerType"] == "StartPipelineExecution"
    # AND the result describes the start by the request exactly as sent
    assert result == {
        "status": "started",
        "versionPinned": True,
        "executions": [
            {
                "pipelineExecutionId": execution["pipelineExecutionId"],
                "request": {"name": PIPELINE, "sourceRevisions": expected_revisions, "clientRequestToken": token},
            }
        ],
    }
    json.dumps(result)  # what Lambda returns must serialise

    records = output.records()
    (started_log,) = [r for r in records if r.get("message") == "Started pipeline execution"]
    assert started_log["correlation_id"] == event["id"]
    assert (started_log["bucket"], started_log["key"], started_log["version_id"]) == (
        "my-artifact-bucket",
        "my-website.zip",
        VERSION_ID,
    )
    assert started_log["pipelineExecutionId"] == execution["pipelineExecutionId"]
    assert started_log["request"] == codepipeline.requests[0]
    assert started_log["cold_start"] is True
    metrics = emitted_metrics(records)
    assert ("PipelineExecutionsStarted", ("service",), {"service": "s3-pipeline-trigger"}, 1) in metrics
    assert (
        "PipelineExecutionsStarted",
        ("pipeline", "service"),
        {"service": "s3-pipeline-trigger", "pipeline": PIPELINE},
        1,
    ) in metrics
    assert any(name == "ColdStart" for name, *_ in metrics)


@pytest.mark.parametrize("event_file", ["multipart-upload.json", "copy-object.json"])
def test_multipart_and_copy_start_on_their_own_version(event_file: str, codepipeline: FakeCodePipeline) -> None:
    event = load_event(event_file)

    result = _invoke(event, codepipeline)

    assert result["status"] == "started"
    (request,) = codepipeline.requests
    assert request["sourceRevisions"][0]["revisionValue"] == event["detail"]["object"]["version-id"]


def test_a_redelivered_event_sends_the_same_token(codepipeline: FakeCodePipeline) -> None:
    # GIVEN the same object version delivered twice under different event ids (EventBridge is at-least-once)
    first = load_event("put-object.json")
    again = load_event("put-object.json") | {"id": "0a9b8c7d-redelivered"}

    _invoke(first, codepipeline)
    _invoke(again, codepipeline)

    # THEN both requests carry one token, and CodePipeline starts one execution for it (moto itself ignores tokens)
    tokens = {request["clientRequestToken"] for request in codepipeline.requests}
    assert len(codepipeline.requests) == 2
    assert len(tokens) == 1
    assert len(codepipeline.executions) == 1
    assert codepipeline.replays == 1


@pytest.mark.parametrize(
    ("event_file", "reason_code"),
    [
        ("other-key.json", "no_matching_route"),
        ("other-bucket.json", "other_bucket"),
        ("object-deleted.json", "not_object_created"),
    ],
)
def test_other_events_start_nothing_and_say_why(
    event_file: str, reason_code: str, codepipeline: FakeCodePipeline, output: FunctionOutput
) -> None:
    result = _invoke(load_event(event_file), codepipeline)

    assert result["status"] == "ignored"
    assert result["reasonCode"] == reason_code
    assert result["reason"]
    assert codepipeline.requests == []
    records = output.records()
    (ignored_log,) = [r for r in records if r.get("message") == "Ignored event"]
    assert ignored_log["level"] == "INFO"
    assert ignored_log["reason_code"] == reason_code
    assert ("EventsIgnored", ("service",), {"service": "s3-pipeline-trigger"}, 1) in emitted_metrics(records)


def test_an_event_of_another_account_starts_nothing_and_says_why(
    codepipeline: FakeCodePipeline, output: FunctionOutput
) -> None:
    # The bucket's name and key are right; only the account is not the source bucket's.
    event = load_event("put-object.json") | {"account": "999999999999"}

    result = _invoke(event, codepipeline)

    assert (result["status"], result["reasonCode"]) == ("ignored", "other_account")
    assert "'999999999999'" in result["reason"]
    assert codepipeline.requests == []
    records = output.records()
    (ignored_log,) = [r for r in records if r.get("message") == "Ignored event"]
    assert ignored_log["reason_code"] == "other_account"
    assert ("EventsIgnored", ("service",), {"service": "s3-pipeline-trigger"}, 1) in emitted_metrics(records)


class NoCallsAllowed:
    """Any AWS call fails the test: a dry run must work offline, as `sam local invoke` runs the sample events."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a dry run called {name}")


def test_dry_run_returns_the_request_it_would_send_and_calls_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handler, "SETTINGS", load_settings(_env() | {"DRY_RUN": "true"}))
    event = load_event("put-object.json")
    clients = AwsClients(NoCallsAllowed(), s3=NoCallsAllowed())  # type: ignore[arg-type]

    result = handler.lambda_handler(event, LocalLambdaContext(), clients=clients)

    assert result == {
        "status": "dry_run",
        "versionPinned": True,
        "requests": [
            {
                "name": PIPELINE,
                "sourceRevisions": [
                    {"actionName": "Source", "revisionType": "S3_OBJECT_VERSION_ID", "revisionValue": VERSION_ID}
                ],
                "clientRequestToken": request_token(PIPELINE, read_object_created(event)),
            }
        ],
        "currentVersionChecked": False,
    }


def test_an_upload_without_version_starts_unpinned_and_says_so(
    codepipeline: FakeCodePipeline, output: FunctionOutput
) -> None:
    result = _invoke(load_event("put-object-unversioned.json"), codepipeline)

    assert result["status"] == "started"
    assert result["versionPinned"] is False
    assert codepipeline.requests[0]["sourceRevisions"] == []
    records = output.records()
    assert any(r.get("level") == "WARNING" and "no version-id" in r["message"] for r in records)
    assert ("UnpinnedStarts", ("service",), {"service": "s3-pipeline-trigger"}, 1) in emitted_metrics(records)


def test_a_malformed_event_raises_a_readable_error_and_starts_nothing(
    codepipeline: FakeCodePipeline, output: FunctionOutput
) -> None:
    with pytest.raises(MalformedEventError, match=r"^malformed S3 event: detail.object.key must be a non-empty string"):
        _invoke(load_event("malformed-missing-key.json"), codepipeline)

    assert codepipeline.requests == []
    records = output.records()
    (error_log,) = [r for r in records if r.get("message") == "Rejected malformed event"]
    assert (error_log["level"], error_log["field"]) == ("ERROR", "detail.object.key")
    # Metrics still flush when the handler raises.
    assert ("EventsMalformed", ("service",), {"service": "s3-pipeline-trigger"}, 1) in emitted_metrics(records)


@pytest.mark.parametrize("event", [None, [], "not an event", {"detail-type": "Object Created"}], ids=repr)
def test_garbage_never_starts_and_never_crashes_unreadably(event: Any, codepipeline: FakeCodePipeline) -> None:
    with pytest.raises(MalformedEventError, match=r"^malformed S3 event: "):
        _invoke(event, codepipeline)

    assert codepipeline.requests == []


def test_a_failed_start_raises_after_logging_the_aws_error_code(output: FunctionOutput) -> None:
    client = boto3.client("codepipeline", region_name="eu-west-1")
    with Stubber(client) as stub:
        stub.add_client_error("start_pipeline_execution", "PipelineNotFoundException", "no such pipeline", 400)
        with pytest.raises(AwsCallFailed, match="PipelineNotFoundException"):
            _invoke(load_event("put-object.json"), client)
        stub.assert_no_pending_responses()

    records = output.records()
    (error_log,) = [r for r in records if r.get("message") == "StartPipelineExecution failed"]
    assert (error_log["level"], error_log["error_code"], error_log["transient"]) == (
        "ERROR",
        "PipelineNotFoundException",
        False,
    )
    metrics = emitted_metrics(records)
    assert ("PipelineStartFailures", ("service",), {"service": "s3-pipeline-trigger"}, 1) in metrics
    assert not any(name == "PipelineExecutionsStarted" for name, *_ in metrics)


@pytest.mark.parametrize(
    "key",
    ["release notes/my website.zip", "sites/café/v2 (final).zip", "發布/版本1.zip", "c++/a+b=c.zip", "100%25.zip"],
)
def test_keys_are_matched_and_sent_as_delivered(
    key: str, codepipeline: FakeCodePipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a key with spaces, non-ASCII or URL-looking characters, and the key override on
    monkeypatch.setattr(handler, "SETTINGS", load_settings(_env(key, overrideKey=True)))
    event = load_event("put-object.json")
    event["detail"]["object"]["key"] = key

    result = _invoke(event, codepipeline)

    # THEN it matches itself exactly and goes to CodePipeline unchanged (not URL-decoded)
    assert result["status"] == "started"
    assert codepipeline.requests[0]["sourceRevisions"][1] == {
        "actionName": "Source",
        "revisionType": "S3_OBJECT_KEY",
        "revisionValue": key,
    }


def test_a_url_decoded_twin_does_not_match(codepipeline: FakeCodePipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handler, "SETTINGS", load_settings(_env("my website.zip")))
    event = load_event("put-object.json")
    event["detail"]["object"]["key"] = "my+website.zip"

    assert _invoke(event, codepipeline)["status"] == "ignored"


def test_fan_out_starts_every_routed_pipeline(codepipeline: FakeCodePipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    routes = [{"key": "site/*.zip", "pipeline": "site"}, {"key": "*.zip", "pipeline": "audit"}]
    monkeypatch.setattr(
        handler, "SETTINGS", load_settings({"SOURCE_BUCKET": "my-artifact-bucket", "ROUTES": json.dumps(routes)})
    )
    event = load_event("put-object.json")
    event["detail"]["object"]["key"] = "site/v3.zip"

    result = _invoke(event, codepipeline)

    assert result["status"] == "started"
    assert [e["request"]["name"] for e in result["executions"]] == ["site", "audit"]
    assert set(result) == {"status", "versionPinned", "executions"}  # one shape, whatever the number of starts
    for execution in result["executions"]:
        codepipeline.get_pipeline_execution(
            pipelineName=execution["request"]["name"], pipelineExecutionId=execution["pipelineExecutionId"]
        )
    assert len({r["clientRequestToken"] for r in codepipeline.requests}) == 2


def test_fan_out_with_one_failure_starts_the_rest_then_raises(
    monkeypatch: pytest.MonkeyPatch, output: FunctionOutput
) -> None:
    routes = [{"key": "*.zip", "pipeline": "gone"}, {"key": "*.zip", "pipeline": "audit"}]
    monkeypatch.setattr(
        handler, "SETTINGS", load_settings({"SOURCE_BUCKET": "my-artifact-bucket", "ROUTES": json.dumps(routes)})
    )
    client = boto3.client("codepipeline", region_name="eu-west-1")
    with Stubber(client) as stub:
        stub.add_client_error("start_pipeline_execution", "PipelineNotFoundException", "gone", 400)
        stub.add_response("start_pipeline_execution", {"pipelineExecutionId": "e-audit"})
        with pytest.raises(AwsCallFailed, match=r"StartPipelineExecution\(gone\)"):
            _invoke(load_event("put-object.json"), client)
        stub.assert_no_pending_responses()

    records = output.records()
    assert [r["request"]["name"] for r in records if r.get("message") == "Started pipeline execution"] == ["audit"]
    metrics = emitted_metrics(records)
    assert (
        "PipelineStartFailures",
        ("pipeline", "service"),
        {"service": "s3-pipeline-trigger", "pipeline": "gone"},
        1,
    ) in metrics
    assert (
        "PipelineExecutionsStarted",
        ("pipeline", "service"),
        {"service": "s3-pipeline-trigger", "pipeline": "audit"},
        1,
    ) in metrics


def test_appended_log_keys_do_not_leak_into_the_next_invocation(
    codepipeline: FakeCodePipeline, output: FunctionOutput
) -> None:
    _invoke(load_event("put-object.json"), codepipeline)
    output.records()

    _invoke(load_event("object-deleted.json"), codepipeline)

    (ignored_log,) = [r for r in output.records() if r.get("message") == "Ignored event"]
    assert "version_id" not in ignored_log


def _env(key: str = "my-website.zip", **fields: Any) -> dict[str, str]:
    return {"SOURCE_BUCKET": "my-artifact-bucket", **one_route(key, PIPELINE, sourceAction="Source", **fields)}
