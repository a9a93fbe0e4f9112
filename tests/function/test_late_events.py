"""Late, retried and redriven events: the current-version check under faults, and the lookup of an earlier execution."""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from local.aws_models.codepipeline import FakeCodePipeline
from local.aws_models.s3 import FakeS3
from local.lambda_context import LocalLambdaContext
from support.events import fresh, load_event
from support.function_output import FunctionOutput, emitted_metrics
from trigger_fn import handler
from trigger_fn.clients import AwsClients
from trigger_fn.retries import AwsCallFailed, RetryPolicy

VERSION = "Kq3Xh.9vRzT2mWb7LdN4pYcF8sEaJ0uG"
BUCKET = "my-artifact-bucket"
KEY = "my-website.zip"
PIPELINE = "my-website-pipeline"
NO_WAIT = RetryPolicy(sleep=lambda _: None)
# The current-version check's faults, by the S3 fake's names.
FAULTS = ("throttled", "server-error", "connection-reset", "access-denied")
Journal = list[tuple[str, str]]


def _s3(journal: Journal, faults: list[str], current: str = VERSION) -> FakeS3:
    """S3 whose HeadObject raises the faults first, then reports `current` as the key's current version."""
    s3 = FakeS3(journal=journal)
    s3.put(BUCKET, KEY, version_id=current)
    s3.fail_next(*faults)
    return s3


def _codepipeline(journal: Journal) -> FakeCodePipeline:
    return FakeCodePipeline.with_pipelines(PIPELINE, journal=journal)


def _invoke(event: dict[str, Any], clients: AwsClients) -> dict[str, Any]:
    return handler.lambda_handler(copy.deepcopy(event), LocalLambdaContext(), clients=clients)


@pytest.mark.parametrize("fault", ["throttled", "server-error", "connection-reset"])
def test_a_transient_fault_of_the_check_is_retried_and_the_start_waits_for_it(fault: str) -> None:
    # One ordered journal of every AWS call, shared by both fakes: what came before the start.
    journal: Journal = []
    clients = AwsClients(_codepipeline(journal), s3=_s3(journal, [fault, fault]), retry=NO_WAIT)  # type: ignore[arg-type]

    result = _invoke(fresh(load_event("put-object.json")), clients)

    assert result["status"] == "started"
    assert journal == [("head-failed", fault), ("head-failed", fault), ("head-ok", VERSION), ("start", VERSION)]


@pytest.mark.parametrize("fault", ["throttled", "server-error", "connection-reset", "access-denied"])
def test_a_check_that_cannot_be_made_starts_nothing_and_raises(fault: str, output: FunctionOutput) -> None:
    journal: Journal = []
    codepipeline = _codepipeline(journal)
    clients = AwsClients(codepipeline, s3=_s3(journal, [fault] * 10), retry=NO_WAIT)  # type: ignore[arg-type]

    with pytest.raises(AwsCallFailed) as raised:
        _invoke(fresh(load_event("put-object.json")), clients)

    assert codepipeline.requests == []
    # Transient faults are retried up to the policy's 4 attempts; AccessDenied is not retried.
    assert journal == [("head-failed", fault)] * (1 if fault == "access-denied" else 4)
    assert raised.value.transient is (fault != "access-denied")
    records = output.records()
    assert any(r.get("message") == "Current-version check failed" for r in records)
    assert ("VersionCheckFailures", ("service",), {"service": "s3-pipeline-trigger"}, 1) in emitted_metrics(records)


def test_under_random_check_faults_nothing_starts_unchecked_and_nothing_is_lost() -> None:
    # GIVEN 200 uploads (each its key's only version) and an S3 whose HeadObject fails about 40 % of the time
    rng = random.Random(20261126)  # noqa: S311 - reproducible test data
    events = []
    for number in range(200):
        event = fresh(load_event("put-object.json"))
        event["detail"]["object"]["version-id"] = f"v{number}.x"
        events.append(event)
    journal: Journal = []
    codepipeline = _codepipeline(journal)

    # WHEN Lambda runs each up to three times, a fresh draw of faults per attempt
    outcomes = {}
    for event in events:
        version = event["detail"]["object"]["version-id"]
        outcomes[version] = "dlq"
        for _ in range(3):
            faults = [rng.choice(FAULTS) for _ in range(4) if rng.random() < 0.4]
            clients = AwsClients(codepipeline, s3=_s3(journal, faults, current=version), retry=NO_WAIT)  # type: ignore[arg-type]
            try:
                _invoke(event, clients)
            except AwsCallFailed:
                continue
            outcomes[version] = "started"
            break

    # THEN every start came right after a successful check of its own version, and each event is accounted for
    for position, (call, version) in enumerate(journal):
        if call == "start":
            assert journal[position - 1] == ("head-ok", version)
    started = [version for call, version in journal if call == "start"]
    assert sorted(started) == sorted(v for v, outcome in outcomes.items() if outcome == "started")
    # CodePipeline's side agrees: one execution per started version, on that version.
    assert sorted(version for _, version in codepipeline.started_versions()) == sorted(started)
    assert set(outcomes.values()) == {"started", "dlq"}  # some kept for the DLQ, none silently dropped


# ---------- an old event: look for an earlier execution of its version before starting ----------


def _stubbed(
    summaries: list[dict[str, Any]] | None, start_id: str | None = None
) -> tuple[AwsClients, Stubber, Stubber]:
    codepipeline = boto3.client("codepipeline", region_name="eu-west-1")
    s3 = boto3.client("s3", region_name="eu-west-1")
    pipeline_stub, s3_stub = Stubber(codepipeline), Stubber(s3)
    s3_stub.add_response("head_object", {"VersionId": VERSION}, {"Bucket": BUCKET, "Key": KEY})
    if summaries is not None:
        pipeline_stub.add_response(
            "list_pipeline_executions",
            {"pipelineExecutionSummaries": summaries},
            {"pipelineName": PIPELINE, "maxResults": 100},
        )
    if start_id is not None:
        pipeline_stub.add_response("start_pipeline_execution", {"pipelineExecutionId": start_id})
    pipeline_stub.activate()
    s3_stub.activate()
    return AwsClients(codepipeline, s3=s3, retry=NO_WAIT), pipeline_stub, s3_stub


def _summary(execution_id: str, version: str, days_ago: float = 1) -> dict[str, Any]:
    return {
        "pipelineExecutionId": execution_id,
        "status": "Succeeded",
        "startTime": datetime.now(UTC) - timedelta(days=days_ago),
        "sourceRevisions": [{"actionName": "Source", "revisionId": version, "revisionSummary": "s"}],
    }


def test_an_old_event_whose_version_already_ran_starts_nothing_and_returns_that_execution(
    output: FunctionOutput,
) -> None:
    # GIVEN an event from six days ago (a redrive) whose version the pipeline already ran
    event = load_event("put-object.json")
    clients, pipeline_stub, s3_stub = _stubbed([_summary("e-newer", "other"), _summary("e-earlier", VERSION)])

    # WHEN the function handles it
    result = _invoke(event, clients)

    # THEN no StartPipelineExecution was sent (the stub had none queued), and the earlier execution is returned
    pipeline_stub.assert_no_pending_responses()
    s3_stub.assert_no_pending_responses()
    assert result["status"] == "started"
    (execution,) = result["executions"]
    assert (execution["pipelineExecutionId"], execution["alreadyStarted"]) == ("e-earlier", True)
    records = output.records()
    (found_log,) = [r for r in records if r.get("message") == "Version already has an execution: not starting it again"]
    assert found_log["pipelineExecutionId"] == "e-earlier"
    assert ("ExecutionsAlreadyStarted", ("service",), {"service": "s3-pipeline-trigger"}, 1) in emitted_metrics(records)


def test_an_old_event_whose_version_never_ran_looks_then_starts() -> None:
    clients, pipeline_stub, _ = _stubbed([_summary("e-1", "other"), _summary("e-0", VERSION, days_ago=15)], "e-new")

    result = _invoke(load_event("put-object.json"), clients)

    pipeline_stub.assert_no_pending_responses()
    # The run of the same version 15 days ago is past the 14 days looked at: a new execution starts.
    assert [e["pipelineExecutionId"] for e in result["executions"]] == ["e-new"]
    assert "alreadyStarted" not in result["executions"][0]


def test_a_fresh_event_trusts_its_token_and_makes_no_list_call() -> None:
    clients, pipeline_stub, _ = _stubbed(None, "e-new")

    result = _invoke(fresh(load_event("put-object.json")), clients)

    pipeline_stub.assert_no_pending_responses()
    assert [e["pipelineExecutionId"] for e in result["executions"]] == ["e-new"]


def test_when_the_lookup_fails_nothing_starts_and_the_event_is_kept() -> None:
    codepipeline = boto3.client("codepipeline", region_name="eu-west-1")
    with Stubber(codepipeline) as stub:
        stub.add_client_error("list_pipeline_executions", "AccessDeniedException", "no", 400)
        clients = AwsClients(codepipeline, s3=_s3([], []), retry=NO_WAIT)  # type: ignore[arg-type]

        with pytest.raises(AwsCallFailed, match=r"ListPipelineExecutions\(my-website-pipeline\) failed"):
            _invoke(load_event("put-object.json"), clients)

        stub.assert_no_pending_responses()
