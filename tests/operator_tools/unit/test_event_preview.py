"""What a kept event would do now: the function's own decision and current-version check, nothing started."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ops.event_preview import PreviewUnavailable, function_settings, preview, s3_current_versions
from support.dead_letters import event
from support.environment import one_route
from trigger_fn.object_versions import CurrentVersion
from trigger_fn.retries import AwsCallFailed
from trigger_fn.settings import load_settings

BUCKET = "my-artifact-bucket"
KEY = "my-website.zip"
V1, V2 = "Kq3Xh.9vRzT2mWb7LdN4pYcF8sEaJ0uG", "Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp"
ENV = {"SOURCE_BUCKET": BUCKET, **one_route(KEY, "site")}
SETTINGS = load_settings(ENV)


class Versions:
    """S3's answer for the key's current version, and every key asked about."""

    def __init__(self, answer: CurrentVersion | Exception) -> None:
        self.answer = answer
        self.asked: list[tuple[str, str]] = []

    def __call__(self, bucket: str, key: str) -> CurrentVersion:
        self.asked.append((bucket, key))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        (CurrentVersion(V1), "would start site"),
        (CurrentVersion(V2), f"superseded ({V2} is current)"),
        (CurrentVersion(None), "object deleted"),
        (CurrentVersion(None, needs_customer_key=True), "ignored: customer_key_encrypted"),
    ],
    ids=["current", "superseded", "deleted", "sse-c"],
)
def test_a_pinned_event_is_judged_by_the_keys_current_version(current: CurrentVersion, expected: str) -> None:
    versions = Versions(current)

    assert preview(event("e-1", V1), SETTINGS, versions) == expected
    assert versions.asked == [(BUCKET, KEY)]


@pytest.mark.parametrize(
    ("kept", "expected"),
    [
        (event("e-1", V1, key="notes.txt"), "ignored: no_matching_route"),
        (event("e-1", V1) | {"detail-type": "Object Deleted"}, "ignored: not_object_created"),
        (
            event("e-1", V1) | {"detail": {"bucket": {"name": "another-bucket"}, "object": {"key": KEY}}},
            "ignored: other_bucket",
        ),
    ],
    ids=["no-route", "not-created", "other-bucket"],
)
def test_an_event_the_function_ignores_says_why_without_asking_s3(kept: dict[str, Any], expected: str) -> None:
    versions = Versions(AssertionError("S3 must not be asked"))

    assert preview(kept, SETTINGS, versions) == expected
    assert versions.asked == []


def test_a_malformed_event_fails_again() -> None:
    kept = event("e-1", V1)
    del kept["detail"]["object"]["key"]

    assert preview(kept, SETTINGS, Versions(CurrentVersion(V1))) == (
        "fails again: malformed S3 event: detail.object.key must be a non-empty string, got nothing"
    )


def test_dry_run_and_unpinned_events_need_no_current_version() -> None:
    versions = Versions(AssertionError("S3 must not be asked"))

    dry = preview(event("e-1", V1), load_settings(ENV | {"DRY_RUN": "true"}), versions)
    unpinned = preview(event("e-2", None), SETTINGS, versions)

    assert dry == "logs the request for site and starts nothing (DRY_RUN=true)"
    assert unpinned == "would start site (no version id: the pipeline reads the newest object)"
    assert versions.asked == []


def test_routes_that_build_every_version_still_start_when_the_others_are_withheld() -> None:
    routes = [{"key": "*.zip", "pipeline": "site"}, {"key": "*.zip", "pipeline": "audit", "latestOnly": False}]
    settings = load_settings({"SOURCE_BUCKET": BUCKET, "ROUTES": json.dumps(routes)})

    assert preview(event("e-1", V1), settings, Versions(CurrentVersion(V2))) == (
        f"would start audit; superseded ({V2} is current) for site"
    )
    assert preview(event("e-1", V1), settings, Versions(CurrentVersion(V1))) == "would start site, audit"


def test_a_version_s3_cannot_tell_is_unknown() -> None:
    failure = AwsCallFailed(
        "HeadObject",
        f"s3://{BUCKET}/{KEY}",
        "AccessDenied",
        "denied",
        transient=False,
        attempts=1,
        consequence="so its current version is unknown",
    )

    line = preview(event("e-1", V1), SETTINGS, Versions(failure))

    assert line.startswith(f"unknown: HeadObject(s3://{BUCKET}/{KEY}) failed, so its current version is unknown")


def test_settings_come_from_the_deployed_functions_environment() -> None:
    client = boto3.client("lambda", region_name="eu-west-1")
    with Stubber(client) as stub:
        stub.add_response(
            "get_function_configuration", {"Environment": {"Variables": ENV}}, {"FunctionName": "trigger-fn"}
        )
        stub.add_response(
            "get_function_configuration",
            {"Environment": {"Variables": {"SOURCE_BUCKET": BUCKET}}},
            {"FunctionName": "trigger-fn"},
        )

        assert function_settings(client, "trigger-fn") == SETTINGS
        with pytest.raises(PreviewUnavailable, match="function 'trigger-fn' has invalid settings: ROUTES is not set"):
            function_settings(client, "trigger-fn")


def test_a_function_of_an_older_template_is_told_to_redeploy() -> None:
    # GIVEN a function deployed before the template gave every route in ROUTES (its one route in OBJECT_KEY, ...)
    older = {"SOURCE_BUCKET": BUCKET, "OBJECT_KEY": KEY, "PIPELINE_NAME": "site", "SOURCE_ACTION_NAME": "Source"}
    client = boto3.client("lambda", region_name="eu-west-1")
    with Stubber(client) as stub:
        stub.add_response(
            "get_function_configuration", {"Environment": {"Variables": older}}, {"FunctionName": "trigger-fn"}
        )

        # WHEN its settings are read; THEN the one line says why and what to do
        with pytest.raises(PreviewUnavailable) as raised:
            function_settings(client, "trigger-fn")

    assert str(raised.value) == (
        "function 'trigger-fn' has invalid settings: ROUTES is not set: the function was deployed by an older "
        "version of the template (it has OBJECT_KEY); redeploy the stack with this version (make deploy)"
    )


def test_s3_is_asked_once_per_key() -> None:
    s3 = boto3.client("s3", region_name="eu-west-1")
    with Stubber(s3) as stub:
        stub.add_response("head_object", {"VersionId": V2}, {"Bucket": BUCKET, "Key": KEY})
        stub.add_client_error(
            "head_object", "404", http_status_code=404, expected_params={"Bucket": BUCKET, "Key": "b"}
        )
        current = s3_current_versions(s3)

        assert current(BUCKET, KEY) == CurrentVersion(V2)
        assert current(BUCKET, KEY) == CurrentVersion(V2)
        assert current(BUCKET, "b") == CurrentVersion(None)
        stub.assert_no_pending_responses()
