"""Late, retried and redriven events: the current-version check under faults, and the lookup of an earlier execution."""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ConnectionClosedError
from botocore.stub import Stubber

from local.lambda_context import LocalLambdaContext
from support.events import fresh, load_event
from support.function_output import FunctionOutput, emitted_metrics
from trigger_fn import handler
from trigger_fn.clients import AwsClients
from trigger_fn.object_versions import VersionCheckFailed
from trigger_fn.pipeline_client import LookupFailed
from trigger_fn.retries import RetryPolicy

VERSION = "Kq3Xh.9vRzT2mWb7LdN4pYcF8sEaJ0uG"
PIPELINE = "my-website-pipeline"
NO_WAIT = RetryPolicy(sleep=lambda _: None)


def _s3_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": ""}, "ResponseMetadata": {"HTTPStatusCode": status}}, "HeadObject"
    )


FAULTS = {
    "throttled": lambda: _s3_error("503", 503),
    "server-error": lambda: _s3_error("500", 500),
    "connection-reset": lambda: ConnectionClosedError(endpoint_url="https://s3.eu-west-1.amazonaws.com"),
    "access-denied": lambda: _s3_error("403", 403),
}


class Journal:
    """One ordered record of every AWS call, so a test can see what came before a start."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []


class ScriptedS3:
    """HeadObject that raises the scripted faults first, then reports `current` as the key's current version."""

    def __init__(self, journal: Journal, faults: list[str], current: str = VERSION) -> None:
        self.journal = journal
        self.faults = list(faults)
        self.current = current

    def head_object(self, **_: Any) -> dict[str, str]:
        if self.faults:
            fault = self.faults.pop(0)
            self.journal.calls.append(("head-failed", fault))
            raise FAULTS[fault]()
        self.journal.calls.append(("head-ok", self.current))
        return {"VersionId": self.current}


class JournalCodePipeline:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.started: list[dict[str, Any]] = []

    def start_pipeline_execution(self, **params: Any) -> dict[str, str]:
        self.journal.calls.append(("start", params["sourceRevisions"][0]["revisionValue"]))
        self.started.append(params)
        return {"pipelineExecutionId": f"e-{len(self.started)}"}

    def list_pipeline_executions(self, **_: Any) -> dict[str, list[Any]]:
        return {"pipelineExecutionSummaries": []}


def _invoke(event: dict[str, Any], clients: AwsClients) -> dict[str, Any]:
    return handler.lambda_handler(copy.deepcopy(event), LocalLambdaContext(), clients=clients)


@pytest.mark.parametrize("fault", ["throttled", "server-error", "connection-reset"])
def test_a_transient_fault_of_the_check_is_retried_and_the_start_waits_for_it(fault: str) -> None:
    journal = Journal()
    codepipeline = JournalCodePipeline(journal)
    clients = AwsClients(codepipeline, s3=ScriptedS3(journal, [fault, fault]), retry=NO_WAIT)  # type: ignore[arg-type]

    result = _invoke(fresh(load_event("put-object.json")), clients)

    assert result["status"] == "started"
    assert journal.calls == [("head-failed", fault), ("head-failed", fault), ("head-ok", VERSION), ("start", VERSION)]


@pytest.mark.parametrize("fault", ["throttled", "server-error", "connection-reset", "access-denied"])
def test_a_check_that_cannot_be_made_starts_nothing_and_raises(fault: str, output: FunctionOutput) -> None:
    journal = Journal()
    codepipeline = JournalCodePipeline(journal)
    clients = AwsClients(codepipeline, s3=ScriptedS3(journal, [fault] * 10), retry=NO_WAIT)  # type: ignore[arg-type]

    with pytest.raises(VersionCheckFailed) as raised:
        _invoke(fresh(load_event("put-object.json")), clients)

    assert codepipeline.started == []
    # Transient faults are retried up to the policy's 4 attempts; AccessDenied is not retried.
    assert len(journal.calls) == (1 if fault == "access-denied" else 4)
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
    journal = Journal()
    codepipeline = JournalCodePipeline(journal)

    # WHEN Lambda runs each up to three times, a fresh draw of faults per attempt
    outcomes = {}
    for event in events:
        version = event["detail"]["object"]["version-id"]
        outcomes[version] = "dlq"
        for _ in range(3):
            faults = [rng.choice(list(FAULTS)) for _ in range(4) if rng.random() < 0.4]
            s3 = ScriptedS3(journal, faults, current=version)
            clients = AwsClients(codepipeline, s3=s3, retry=NO_WAIT)  # type: ignore[arg-type]
            try:
                _invoke(event, clients)
            except VersionCheckFailed:
                continue
            outcomes[version] = "started"
            break

    # THEN every start came right after a successful check of its own version, and each event is accounted for
    for position, (call, version) in enumerate(journal.calls):
        if call == "start":
            assert journal.calls[position - 1] == ("head-ok", version)
    started = [version for call, version in journal.calls if call == "start"]
    assert sorted(started) == sorted(v for v, outcome in outcomes.items() if outcome == "started")
    assert set(outcomes.values()) == {"started", "dlq"}  # some kept for the DLQ, none silently dropped


# ---------- an old event: look for an earlier execution of its version before starting ----------


def _stubbed(
    summaries: list[dict[str, Any]] | None, start_id: str | None = None
) -> tuple[AwsClients, Stubber, Stubber]:
    codepipeline = boto3.client("codepipeline", region_name="eu-west-1")
    s3 = boto3.client("s3", region_name="eu-west-1")
    pipeline_stub, s3_stub = Stubber(codepipeline), Stubber(s3)
    s3_stub.add_response(
        "head_object", {"VersionId": VERSION}, {"Bucket": "my-artifact-bucket", "Key": "my-website.zip"}
    )
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
        clients = AwsClients(codepipeline, s3=ScriptedS3(Journal(), []), retry=NO_WAIT)  # type: ignore[arg-type]

        with pytest.raises(LookupFailed, match=r"ListPipelineExecutions\(my-website-pipeline\) failed"):
            _invoke(load_event("put-object.json"), clients)

        stub.assert_no_pending_responses()
