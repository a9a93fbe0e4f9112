"""The function under the AWS rules the emulators leave out, on the tests' one CodePipeline and one S3.

Each test names the rule (docs/decisions.md, "The tests' AWS models") and the failure it once allowed on AWS:
a deleted key looping through the dead-letter queue, an older version started after a newer upload, a
redriven event started twice past one page of history, a variable naming another key.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from local.aws_models.codepipeline import FakeCodePipeline
from local.aws_models.s3 import FakeS3
from local.lambda_context import LocalLambdaContext
from support.environment import one_route
from support.events import fresh, load_event
from support.function_output import FunctionOutput, emitted_metrics
from support.iam_policy import function_may_list
from trigger_fn import handler
from trigger_fn.clients import AwsClients
from trigger_fn.retries import AwsCallFailed, RetryPolicy
from trigger_fn.s3_event import read_object_created
from trigger_fn.settings import load_settings
from trigger_fn.tokens import request_token
from trigger_fn.trigger import handle_event

BUCKET = "my-artifact-bucket"
KEY = "my-website.zip"
PIPELINE = "my-website-pipeline"
NO_WAIT = RetryPolicy(sleep=lambda _: None)
SINGLE = load_settings({"SOURCE_BUCKET": BUCKET, **one_route(KEY, PIPELINE)})
SERVICE = {"service": "s3-pipeline-trigger"}


def _upload(s3: FakeS3, key: str = KEY, **when: Any) -> dict[str, Any]:
    """The event S3 sends for a new version of the key, put into the fake bucket first."""
    version = s3.put(BUCKET, key, **when)
    event = fresh(load_event("put-object.json"))
    event["detail"]["object"] |= {"key": key, "version-id": version}
    return event


def _invoke(event: dict[str, Any], clients: AwsClients) -> dict[str, Any]:
    return handler.lambda_handler(copy.deepcopy(event), LocalLambdaContext(), clients=clients)


class TestDeletedKeys:
    """S3 answers 404 for a key with no current version only to a caller that may list it, else 403."""

    @pytest.mark.parametrize(
        "parameters",
        [{}, {"Routes": json.dumps([{"key": "*.zip", "pipeline": PIPELINE}]), "RoutedPipelines": PIPELINE}],
        ids=["single-route", "routes"],
    )
    def test_an_event_for_a_deleted_key_settles_with_the_templates_own_permissions(
        self, parameters: dict[str, str]
    ) -> None:
        # GIVEN the bucket as the deployed function's role sees it, and a key uploaded then deleted
        s3 = FakeS3(may_list=function_may_list(**parameters))
        event = _upload(s3)
        s3.delete(BUCKET, KEY)
        codepipeline = FakeCodePipeline.with_pipelines(PIPELINE)

        # WHEN the upload's event arrives (late, or redriven)
        result = _invoke(event, AwsClients(codepipeline, s3=s3, retry=NO_WAIT))  # type: ignore[arg-type]

        # THEN it settles as deleted instead of raising into the dead-letter queue again and again
        assert (result["status"], result["reasonCode"]) == ("ignored", "object_deleted")
        assert codepipeline.requests == []

    def test_without_list_permission_the_403_is_kept_and_names_the_missing_permission(self) -> None:
        s3 = FakeS3(may_list=lambda _bucket, _key: False)
        event = _upload(s3)
        s3.delete(BUCKET, KEY)
        codepipeline = FakeCodePipeline.with_pipelines(PIPELINE)

        with pytest.raises(AwsCallFailed, match=r"s3:ListBucket on arn:aws:s3:::my-artifact-bucket"):
            _invoke(event, AwsClients(codepipeline, s3=s3, retry=NO_WAIT))  # type: ignore[arg-type]
        assert codepipeline.requests == []

    def test_an_object_with_a_customer_provided_key_is_ignored_with_its_reason(self, output: FunctionOutput) -> None:
        # GIVEN an upload encrypted with SSE-C: S3 answers HeadObject without the key with 400
        s3 = FakeS3()
        event = _upload(s3, customer_key=True)
        codepipeline = FakeCodePipeline.with_pipelines(PIPELINE)

        result = _invoke(event, AwsClients(codepipeline, s3=s3, retry=NO_WAIT))  # type: ignore[arg-type]

        # THEN a clear outcome, not a dead letter that every redrive keeps again
        assert (result["status"], result["reasonCode"]) == ("ignored", "customer_key_encrypted")
        assert "SSE-C" in result["reason"]
        assert codepipeline.requests == []
        assert ("EventsIgnored", ("service",), SERVICE, 1) in emitted_metrics(output.records())


class TestNewerUploadDuringTheStarts:
    """The version check is made right before each latestOnly start and before each retry of one."""

    def test_a_throttled_start_is_not_retried_once_a_newer_version_landed(self) -> None:
        # GIVEN v1's start is throttled, and v2 lands while the function backs off
        s3 = FakeS3()
        event = _upload(s3)
        codepipeline = FakeCodePipeline.with_pipelines(PIPELINE)
        codepipeline.fail_next("throttled")
        newer: list[str] = []
        codepipeline.on_start = lambda _request: newer.append(s3.put(BUCKET, KEY)) if not newer else None

        # WHEN the function handles v1's event
        result = _invoke(event, AwsClients(codepipeline, s3=s3, retry=NO_WAIT))  # type: ignore[arg-type]

        # THEN v1 never starts after v2: v2's own event builds the newer version
        assert codepipeline.executions == []
        assert (result["status"], result["reasonCode"]) == ("ignored", "superseded")
        assert newer[0] in result["reason"]

    def test_a_further_pipeline_of_the_event_is_withheld_once_a_newer_version_landed(self) -> None:
        # GIVEN two latestOnly routes for the key, and v2 lands while the first pipeline starts
        settings = load_settings(
            {
                "SOURCE_BUCKET": BUCKET,
                "ROUTES": json.dumps([{"key": KEY, "pipeline": "site"}, {"key": "*.zip", "pipeline": "deploy"}]),
            }
        )
        s3 = FakeS3()
        event = _upload(s3)
        version = event["detail"]["object"]["version-id"]
        codepipeline = FakeCodePipeline.with_pipelines("site", "deploy")
        codepipeline.on_start = lambda request: s3.put(BUCKET, KEY) if request["name"] == "site" else None

        result = handle_event(event, settings, AwsClients(codepipeline, s3=s3, retry=NO_WAIT))  # type: ignore[arg-type]

        # THEN the first start stands (it was current when sent) and the second is withheld with its reason
        assert codepipeline.started_versions() == [("site", version)]
        assert result["status"] == "started"
        assert [execution["request"]["name"] for execution in result["executions"]] == ["site"]
        assert [(skip["pipeline"], skip["reasonCode"]) for skip in result["skipped"]] == [("deploy", "superseded")]


class TestHistoryBeyondOnePage:
    """ListPipelineExecutions answers newest first in pages of at most 100; the token may be forgotten."""

    UPLOADED_AT = 1_790_000_000.0

    def _old_event(self, s3: FakeS3) -> dict[str, Any]:
        # Two hours old: past the function's token window (3600 s), so it reads the history first.
        event = _upload(s3)
        event["time"] = datetime.fromtimestamp(self.UPLOADED_AT, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return event

    def _pipeline(self, clock: list[float]) -> FakeCodePipeline:
        # CodePipeline has forgotten every token by the time the redrive comes.
        return FakeCodePipeline.with_pipelines(PIPELINE, token_window_s=60, clock=lambda: clock[0])

    @staticmethod
    def _start_others(codepipeline: FakeCodePipeline, clock: list[float], count: int) -> None:
        for number in range(count):
            clock[0] += 1
            codepipeline.start_pipeline_execution(
                name=PIPELINE,
                sourceRevisions=[
                    {
                        "actionName": "Source",
                        "revisionType": "S3_OBJECT_VERSION_ID",
                        "revisionValue": f"other{number}.v",
                    }
                ],
                clientRequestToken=f"other-{number}",
            )

    def test_a_redriven_event_finds_its_execution_past_the_newest_hundred(self) -> None:
        # GIVEN v1 started by its first event, then 150 executions of other versions
        s3 = FakeS3()
        event = self._old_event(s3)
        clock = [self.UPLOADED_AT + 5]
        codepipeline = self._pipeline(clock)
        first = handle_event(event, SINGLE, AwsClients(codepipeline, s3=s3, retry=NO_WAIT), now=lambda: clock[0])  # type: ignore[arg-type]
        self._start_others(codepipeline, clock, 150)

        # WHEN the same event is redriven two hours later
        clock[0] = self.UPLOADED_AT + 7200
        again = handle_event(event, SINGLE, AwsClients(codepipeline, s3=s3, retry=NO_WAIT), now=lambda: clock[0])  # type: ignore[arg-type]

        # THEN it finds v1's execution on the second page and starts nothing
        (execution,) = again["executions"]
        assert execution["alreadyStarted"] is True
        assert execution["pipelineExecutionId"] == first["executions"][0]["pipelineExecutionId"]
        assert len(codepipeline.executions) == 151
        assert [call["nextToken"] for call in codepipeline.list_calls] == [None, "100"]

    def test_the_history_is_read_back_to_the_upload_and_no_further(self) -> None:
        # GIVEN 500 executions before the upload and 120 after it, none of the event's version
        s3 = FakeS3()
        event = self._old_event(s3)
        clock = [self.UPLOADED_AT - 10_000]
        codepipeline = self._pipeline(clock)
        self._start_others(codepipeline, clock, 500)
        clock[0] = self.UPLOADED_AT + 600
        self._start_others(codepipeline, clock, 120)
        clock[0] = self.UPLOADED_AT + 7200

        result = handle_event(event, SINGLE, AwsClients(codepipeline, s3=s3, retry=NO_WAIT), now=lambda: clock[0])  # type: ignore[arg-type]

        # THEN two pages settle it (the second reaches executions older than the upload) and the version starts
        assert len(codepipeline.list_calls) == 2
        assert result["status"] == "started"
        assert "alreadyStarted" not in result["executions"][0]

    def test_out_of_time_before_the_history_is_read_nothing_starts_and_the_event_is_kept(self) -> None:
        s3 = FakeS3()
        event = self._old_event(s3)
        clock = [self.UPLOADED_AT + 60]
        codepipeline = self._pipeline(clock)
        self._start_others(codepipeline, clock, 250)
        clock[0] = self.UPLOADED_AT + 7200

        with pytest.raises(AwsCallFailed, match="OutOfTime") as raised:
            handle_event(
                event,
                SINGLE,
                AwsClients(codepipeline, s3=s3, retry=NO_WAIT),  # type: ignore[arg-type]
                # Less than the 3 s kept for logging the failure: no second page is read.
                remaining_s=lambda: 2.0,
                now=lambda: clock[0],
            )
        assert raised.value.transient is True
        assert len(codepipeline.executions) == 250


class TestBusyPipelines:
    """ConflictException and the QUEUED/PARALLEL limit pass on their own: retried, then kept for Lambda's retry."""

    def test_conflicts_are_retried_until_the_start_goes_through(self) -> None:
        s3 = FakeS3()
        event = _upload(s3)
        codepipeline = FakeCodePipeline.with_pipelines(PIPELINE)
        codepipeline.fail_next("conflict", "concurrent-limit")

        result = handle_event(event, SINGLE, AwsClients(codepipeline, s3=s3, retry=NO_WAIT))  # type: ignore[arg-type]

        assert result["status"] == "started"
        assert len(codepipeline.requests) == 3
        assert codepipeline.started_versions() == [(PIPELINE, event["detail"]["object"]["version-id"])]

    @pytest.mark.parametrize("mode", ["QUEUED", "PARALLEL"])
    def test_a_full_pipeline_keeps_the_event_as_transient_and_a_later_try_starts_it(self, mode: str) -> None:
        # GIVEN a pipeline at its limit of executions in progress
        s3 = FakeS3()
        codepipeline = FakeCodePipeline.with_pipelines(PIPELINE, mode=mode, execution_limit=1)
        codepipeline.start_pipeline_execution(name=PIPELINE, clientRequestToken="an-earlier-release")
        event = _upload(s3)
        clients = AwsClients(codepipeline, s3=s3, retry=NO_WAIT)  # type: ignore[arg-type]

        # WHEN the upload's start meets the full pipeline
        with pytest.raises(AwsCallFailed) as raised:
            handle_event(event, SINGLE, clients)
        assert (raised.value.code, raised.value.transient, raised.value.attempts) == (
            "ConcurrentPipelineExecutionsLimitExceededException",
            True,
            NO_WAIT.max_attempts,
        )

        # THEN once the running execution ends, Lambda's retry of the same event starts it
        codepipeline.finish(codepipeline.executions[0].execution_id)
        result = handle_event(event, SINGLE, clients)
        assert result["status"] == "started"
        assert codepipeline.started_versions()[-1] == (PIPELINE, event["detail"]["object"]["version-id"])


class TestVariables:
    """A pipeline variable's value is 1-1,000 characters; an S3 key may be 1,024 bytes."""

    SETTINGS = load_settings(
        {
            "SOURCE_BUCKET": BUCKET,
            "ROUTES": json.dumps(
                [
                    {
                        "key": "*.zip",
                        "pipeline": PIPELINE,
                        "variables": {"UPLOAD_KEY": "key", "UPLOAD_VERSION": "version"},
                    }
                ]
            ),
        }
    )

    def test_an_over_long_key_is_left_out_never_cut_into_another_key(self, output: FunctionOutput) -> None:
        # GIVEN a 1,009-character key: its first 1,000 characters name a key anyone may upload
        s3 = FakeS3()
        event = _upload(s3, key=("a" * 1005) + ".zip")
        codepipeline = FakeCodePipeline.with_pipelines(PIPELINE)
        clients = AwsClients(codepipeline, s3=s3, retry=NO_WAIT)  # type: ignore[arg-type]

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(handler, "SETTINGS", self.SETTINGS)
            result = _invoke(event, clients)

        # THEN the start goes through without that variable, and says so
        (request,) = codepipeline.requests
        assert request["variables"] == [{"name": "UPLOAD_VERSION", "value": event["detail"]["object"]["version-id"]}]
        assert result["executions"][0]["request"] == request
        records = output.records()
        (warning,) = [r for r in records if r.get("message", "").startswith("Pipeline variables left out")]
        assert (warning["level"], warning["omitted_variables"]) == ("WARNING", ["UPLOAD_KEY"])
        assert ("VariablesOmitted", ("service",), SERVICE, 1) in emitted_metrics(records)


def test_the_token_of_a_started_version_is_what_the_history_check_trusts() -> None:
    # The history check stands in for token memory: both name the same (pipeline, version).
    s3 = FakeS3()
    event = _upload(s3)
    codepipeline = FakeCodePipeline.with_pipelines(PIPELINE)
    handle_event(event, SINGLE, AwsClients(codepipeline, s3=s3, retry=NO_WAIT))  # type: ignore[arg-type]

    assert codepipeline.requests[0]["clientRequestToken"] == request_token(PIPELINE, read_object_created(event))
