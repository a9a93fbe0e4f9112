"""The pure plan: ignore (and why) or start with exact revisions and a token tied to the object version."""

import json
import re

import pytest

from support.environment import one_route
from support.events import load_event
from trigger_fn.object_versions import CurrentVersion
from trigger_fn.pipeline_client import execution_of_version
from trigger_fn.plan import Ignore, Start, needs_history_check, plan
from trigger_fn.routing import Route
from trigger_fn.run import stale_reason
from trigger_fn.s3_event import MalformedEventError, read_object_created
from trigger_fn.settings import Settings, load_settings
from trigger_fn.start_requests import start_request
from trigger_fn.tokens import request_token, rollback_token

SETTINGS = Settings(
    source_bucket="my-artifact-bucket",
    routes=(Route(key="my-website.zip", pipeline="my-website-pipeline"),),
    dry_run=False,
)
TOKEN_PATTERN = re.compile(r"[a-zA-Z0-9-]{1,128}")


@pytest.mark.parametrize(
    ("event_file", "version_id"),
    [
        ("put-object.json", "Kq3Xh.9vRzT2mWb7LdN4pYcF8sEaJ0uG"),
        ("multipart-upload.json", "3HL4kqtJvjVBH40Nrjfkd.Gw0LMJg2vu"),
        ("copy-object.json", "Wm1zQ8eT.pL5nR3yK7vB0cX2dF6gH9jA"),
    ],
)
def test_every_kind_of_create_starts_on_its_version(event_file: str, version_id: str) -> None:
    decision = plan(load_event(event_file), SETTINGS)

    assert isinstance(decision, Start)
    (request,) = decision.requests
    assert request.as_api_params() == {
        "name": "my-website-pipeline",
        "sourceRevisions": [
            {"actionName": "Source", "revisionType": "S3_OBJECT_VERSION_ID", "revisionValue": version_id},
        ],
        "clientRequestToken": request_token("my-website-pipeline", decision.upload),
    }
    assert TOKEN_PATTERN.fullmatch(request.client_request_token)


@pytest.mark.parametrize(
    ("event_file", "reason_code", "reason"),
    [
        ("other-key.json", "no_matching_route", "key 'docs/readme.txt' matches no route"),
        ("other-bucket.json", "other_bucket", "bucket 'someone-elses-bucket' is not the source bucket"),
        ("object-deleted.json", "not_object_created", "'Object Deleted'"),
    ],
)
def test_other_events_are_ignored_with_a_reason(event_file: str, reason_code: str, reason: str) -> None:
    decision = plan(load_event(event_file), SETTINGS)

    assert isinstance(decision, Ignore)
    assert decision.reason_code == reason_code
    assert reason in decision.reason


def test_other_sources_are_ignored_even_with_an_s3_shaped_detail() -> None:
    event = load_event("put-object.json") | {"source": "my.app"}

    decision = plan(event, SETTINGS)

    assert decision == Ignore(
        "not_object_created", "event is 'my.app' / 'Object Created', not 'aws.s3' / 'Object Created'"
    )


def test_a_broken_event_for_our_bucket_is_malformed_not_ignored() -> None:
    with pytest.raises(MalformedEventError, match=r"detail\.object\.key"):
        plan(load_event("malformed-missing-key.json"), SETTINGS)


def test_an_event_without_bucket_cannot_be_judged() -> None:
    event = load_event("put-object.json")
    del event["detail"]["bucket"]

    with pytest.raises(MalformedEventError, match=r"detail\.bucket"):
        plan(event, SETTINGS)


def test_override_adds_the_key_revision() -> None:
    route = Route(key="*.zip", pipeline="p", source_action="Artifact", override_key=True)
    event = load_event("put-object.json")
    event["detail"]["object"]["key"] = "releases/my site ü+1.zip"

    request = start_request(route, read_object_created(event))

    assert request.source_revisions == (
        {
            "actionName": "Artifact",
            "revisionType": "S3_OBJECT_VERSION_ID",
            "revisionValue": "Kq3Xh.9vRzT2mWb7LdN4pYcF8sEaJ0uG",
        },
        {"actionName": "Artifact", "revisionType": "S3_OBJECT_KEY", "revisionValue": "releases/my site ü+1.zip"},
    )


def test_without_a_version_it_starts_unpinned() -> None:
    decision = plan(load_event("put-object-unversioned.json"), SETTINGS)

    assert isinstance(decision, Start)
    assert decision.pinned is False
    assert decision.requests[0].source_revisions == ()


def test_without_a_version_the_key_override_still_goes() -> None:
    route = Route(key="my-website.zip", pipeline="p", override_key=True)
    request = start_request(route, read_object_created(load_event("put-object-unversioned.json")))

    assert request.source_revisions == (
        {"actionName": "Source", "revisionType": "S3_OBJECT_KEY", "revisionValue": "my-website.zip"},
    )


class TestToken:
    def test_same_version_same_token_whatever_event_carried_it(self) -> None:
        first = load_event("put-object.json")
        redelivered = load_event("put-object.json") | {"id": "another-event-id", "time": "2026-11-20T15:00:00Z"}
        redelivered["detail"]["request-id"] = "ANOTHER"

        assert _token(first) == _token(redelivered)

    def test_differs_by_version_key_bucket_and_pipeline(self) -> None:
        upload = read_object_created(load_event("put-object.json"))
        other_version = read_object_created(load_event("copy-object.json"))
        base = request_token("p", upload)

        assert base != request_token("p", other_version)
        assert base != request_token("q", upload)
        assert base != request_token("p", upload._replace(key="other.zip"))
        assert base != request_token("p", upload._replace(bucket="other-bucket"))

    def test_is_a_pure_function_of_its_inputs(self) -> None:
        upload = read_object_created(load_event("put-object.json"))
        token = request_token("my-website-pipeline", upload)

        assert token == request_token("my-website-pipeline", upload)
        assert len(token) == 64
        assert TOKEN_PATTERN.fullmatch(token)
        assert "." not in token

    def test_unversioned_uploads_are_identified_by_their_content(self) -> None:
        # GIVEN one unversioned upload, its redelivery under another event id and sequencer, and other content
        event = load_event("put-object-unversioned.json")
        again = load_event("put-object-unversioned.json") | {"id": "redelivery"}
        again["detail"]["object"]["sequencer"] = "00673DF6F1A2B3C4FF"
        other_bytes = load_event("put-object-unversioned.json")
        other_bytes["detail"]["object"]["etag"] = "0123456789abcdef0123456789abcdef"
        other_size = load_event("put-object-unversioned.json")
        other_size["detail"]["object"]["size"] += 1

        # THEN ETag and size decide (what HeadObject reports too, so `make start` derives the same token)
        assert _token(event) == _token(again)
        assert _token(event) != _token(other_bytes)
        assert _token(event) != _token(other_size)

    def test_without_version_or_etag_the_sequencer_then_the_event_id_decides(self) -> None:
        event = load_event("put-object-unversioned.json")
        del event["detail"]["object"]["etag"]
        changed = json.loads(json.dumps(event))
        changed["detail"]["object"]["sequencer"] = "00673DF6F1A2B3C4FF"

        assert _token(event) == _token(event | {"id": "redelivery"})
        assert _token(event) != _token(changed)

        del event["detail"]["object"]["sequencer"]
        assert _token(event) == _token(json.loads(json.dumps(event)))
        assert _token(event) != _token(event | {"id": "other"})


class TestRollbackToken:
    REQUESTED_AT = 1_764_000_000.25

    def test_is_a_pure_function_of_its_inputs_and_a_valid_token(self) -> None:
        upload = read_object_created(load_event("put-object.json"))
        token = rollback_token("my-website-pipeline", upload, self.REQUESTED_AT)

        assert token == rollback_token("my-website-pipeline", upload, self.REQUESTED_AT)
        assert TOKEN_PATTERN.fullmatch(token)
        assert token.startswith("rollback-")

    def test_never_the_functions_token_for_the_version(self) -> None:
        upload = read_object_created(load_event("put-object.json"))

        assert rollback_token("p", upload, self.REQUESTED_AT) != request_token("p", upload)
        assert rollback_token("p", upload, self.REQUESTED_AT).removeprefix("rollback-") != request_token("p", upload)

    def test_every_request_time_is_a_start_of_its_own_even_a_microsecond_apart(self) -> None:
        upload = read_object_created(load_event("put-object.json"))
        times = (self.REQUESTED_AT, self.REQUESTED_AT + 0.5, self.REQUESTED_AT + 0.000001)

        assert len({rollback_token("p", upload, at) for at in times}) == len(times)

    def test_differs_by_version_and_pipeline(self) -> None:
        upload = read_object_created(load_event("put-object.json"))
        other_version = read_object_created(load_event("copy-object.json"))
        base = rollback_token("p", upload, self.REQUESTED_AT)

        assert base != rollback_token("p", other_version, self.REQUESTED_AT)
        assert base != rollback_token("q", upload, self.REQUESTED_AT)


def _token(event: dict[str, object]) -> str:
    decision = plan(event, SETTINGS)
    assert isinstance(decision, Start)
    return decision.requests[0].client_request_token


class TestFanOut:
    SETTINGS = load_settings(
        {
            "SOURCE_BUCKET": "my-artifact-bucket",
            "ROUTES": json.dumps(
                [
                    {"key": "site/*.zip", "pipeline": "site"},
                    {"key": "api/release.zip", "pipeline": "api", "overrideKey": True},
                    {
                        "key": "*.zip",
                        "pipeline": "audit",
                        "sourceAction": "Upload",
                        "variables": {
                            "UPLOAD_KEY": "key",
                            "UPLOAD_VERSION": "version",
                            "UPLOAD_SIZE": "size",
                            "UPLOAD_ETAG": "etag",
                            "UPLOAD_REASON": "reason",
                        },
                    },
                ]
            ),
        }
    )

    def _decide(self, key: str) -> Start:
        event = load_event("put-object.json")
        event["detail"]["object"]["key"] = key
        decision = plan(event, self.SETTINGS)
        assert isinstance(decision, Start)
        return decision

    def test_every_matching_route_gets_its_own_request_and_token(self) -> None:
        decision = self._decide("site/v2.zip")

        assert [r.pipeline for r in decision.requests] == ["site", "audit"]
        site, audit = decision.requests
        assert site.client_request_token != audit.client_request_token
        assert site.source_revisions[0]["actionName"] == "Source"
        assert audit.source_revisions[0]["actionName"] == "Upload"
        assert self._decide("site/v2.zip").requests == decision.requests

    def test_variables_carry_the_upload_facts(self) -> None:
        (audit,) = [r for r in self._decide("site/v2.zip").requests if r.pipeline == "audit"]

        assert audit.as_api_params()["variables"] == [
            {"name": "UPLOAD_KEY", "value": "site/v2.zip"},
            {"name": "UPLOAD_VERSION", "value": "Kq3Xh.9vRzT2mWb7LdN4pYcF8sEaJ0uG"},
            {"name": "UPLOAD_SIZE", "value": "48213"},
            {"name": "UPLOAD_ETAG", "value": "7f2b4c1e8a9d3f60b5e2c7a1d4f8e903"},
            {"name": "UPLOAD_REASON", "value": "PutObject"},
        ]

    def test_routes_without_variables_send_none(self) -> None:
        (site, _) = self._decide("site/v2.zip").requests

        assert "variables" not in site.as_api_params()

    def test_a_missing_fact_is_left_out_and_long_values_are_cut_to_the_api_limit(self) -> None:
        event = load_event("put-object-unversioned.json")
        event["detail"]["object"]["key"] = "k/" + "x" * 1010 + ".zip"
        decision = plan(event, self.SETTINGS)
        assert isinstance(decision, Start)
        (audit,) = decision.requests

        names = [v["name"] for v in audit.variables]
        assert "UPLOAD_VERSION" not in names
        assert all(1 <= len(v["value"]) <= 1000 for v in audit.variables)

    def test_exact_route_and_catch_all_both_start(self) -> None:
        decision = self._decide("api/release.zip")

        assert [r.pipeline for r in decision.requests] == ["api", "audit"]
        assert decision.requests[0].source_revisions[1] == {
            "actionName": "Source",
            "revisionType": "S3_OBJECT_KEY",
            "revisionValue": "api/release.zip",
        }


def test_two_routes_to_one_pipeline_start_it_once_with_the_first_route() -> None:
    settings = load_settings(
        {
            "SOURCE_BUCKET": "my-artifact-bucket",
            "ROUTES": json.dumps(
                [
                    {"key": "site/*.zip", "pipeline": "site", "sourceAction": "SiteZip"},
                    {"key": "*.zip", "pipeline": "audit"},
                    {"key": "*.zip", "pipeline": "site", "sourceAction": "AnyZip"},
                ]
            ),
        }
    )
    event = load_event("put-object.json")
    event["detail"]["object"]["key"] = "site/v4.zip"

    decision = plan(event, settings)

    assert isinstance(decision, Start)
    assert [(r.pipeline, r.source_revisions[0]["actionName"]) for r in decision.requests] == [
        ("site", "SiteZip"),
        ("audit", "Source"),
    ]


def test_a_key_with_surrounding_spaces_is_kept_as_configured() -> None:
    settings = load_settings({"SOURCE_BUCKET": "my-artifact-bucket", **one_route(" release .zip", "p")})
    event = load_event("put-object.json")
    event["detail"]["object"]["key"] = " release .zip"

    assert isinstance(plan(event, settings), Start)


class TestCurrentVersion:
    UPLOAD = read_object_created(load_event("put-object.json"))

    def test_the_current_version_is_not_stale(self) -> None:
        assert stale_reason(self.UPLOAD, CurrentVersion(self.UPLOAD.version_id)) is None

    def test_a_replaced_version_is_superseded_naming_both_versions(self) -> None:
        reason = stale_reason(self.UPLOAD, CurrentVersion("Zz9.newer"))

        assert reason is not None
        assert reason.reason_code == "superseded"
        assert "Kq3Xh.9vRzT2mWb7LdN4pYcF8sEaJ0uG" in reason.reason
        assert "Zz9.newer" in reason.reason

    def test_no_current_version_means_the_object_was_deleted(self) -> None:
        reason = stale_reason(self.UPLOAD, CurrentVersion(None))

        assert reason is not None
        assert reason.reason_code == "object_deleted"

    def test_a_null_current_version_replaced_a_real_one(self) -> None:
        # Versioning suspended after the upload: a later PUT writes the "null" version over it.
        reason = stale_reason(self.UPLOAD, CurrentVersion("null"))

        assert reason is not None
        assert reason.reason_code == "superseded"


class TestHistoryCheck:
    UPLOAD = read_object_created(load_event("put-object.json"))  # time 2026-11-20T14:03:27Z

    def test_event_time_is_read_from_the_event(self) -> None:
        assert self.UPLOAD.event_time == 1795183407.0

    @pytest.mark.parametrize(
        ("age_s", "window_s", "looks"),
        [(0, 3600, False), (3600, 3600, False), (3601, 3600, True), (10, 0, True)],
        ids=["fresh", "at-the-window", "past-the-window", "window-zero"],
    )
    def test_only_events_older_than_the_window_look_first(self, age_s: int, window_s: int, looks: bool) -> None:
        assert self.UPLOAD.event_time is not None
        assert needs_history_check(self.UPLOAD, window_s, self.UPLOAD.event_time + age_s) is looks

    def test_an_event_of_unknown_age_looks_first(self) -> None:
        assert needs_history_check(self.UPLOAD._replace(event_time=None), 3600, 0.0) is True

    def test_an_unpinned_upload_has_nothing_to_look_for(self) -> None:
        assert needs_history_check(self.UPLOAD._replace(version_id=None, event_time=None), 3600, 0.0) is False

    @pytest.mark.parametrize(
        ("time", "expected"),
        [("2026-11-20T14:03:27Z", 1795183407.0), ("2026-11-20T14:03:27", 1795183407.0), (1795183407, 1795183407.0)],
    )
    def test_readable_times(self, time: object, expected: float) -> None:
        event = load_event("put-object.json") | {"time": time}

        assert read_object_created(event).event_time == expected

    @pytest.mark.parametrize("time", ["yesterday", None, {"at": 1}, True])
    def test_an_unreadable_time_is_unknown_not_malformed(self, time: object) -> None:
        event = load_event("put-object.json") | {"time": time}

        assert read_object_created(event).event_time is None

    def test_an_execution_is_found_by_its_source_revision(self) -> None:
        summaries = [
            {"pipelineExecutionId": "e-3", "sourceRevisions": [{"actionName": "Source", "revisionId": "v3"}]},
            {"pipelineExecutionId": "e-2", "sourceRevisions": [{"actionName": "Other", "revisionId": "v2"}]},
            {"pipelineExecutionId": "e-1", "sourceRevisions": [{"actionName": "Source", "revisionId": "v2"}]},
            {"pipelineExecutionId": "e-0"},
        ]

        assert execution_of_version(summaries, "Source", "v2") == "e-1"
        assert execution_of_version(summaries, "Source", "v9") is None
