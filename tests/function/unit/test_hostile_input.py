"""Hostile input: whatever arrives, no pipeline starts unless the event is a readable upload we route.

Hypothesis mutates the documented S3 event (fields removed, retyped, emptied, made huge or given lone
surrogates) and also sends arbitrary JSON. An independent oracle, written from the event's documented
shape, says what must happen; `decide` and `handle_event` must agree with it, and bad input may only
ever raise MalformedEventError naming the field and the problem.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from local.aws_models.codepipeline import FakeCodePipeline, Pipeline
from local.aws_models.s3 import FakeS3
from local.lambda_context import LocalLambdaContext
from support.environment import one_route
from support.events import load_event
from support.function_output import FunctionOutput
from trigger_fn import handler
from trigger_fn.clients import AwsClients
from trigger_fn.plan import Ignore, Start, plan
from trigger_fn.retries import RetryPolicy
from trigger_fn.s3_event import MAX_KEY_BYTES, MAX_VERSION_ID_CHARS, MalformedEventError
from trigger_fn.settings import Settings, load_settings
from trigger_fn.trigger import handle_event

BUCKET = "my-artifact-bucket"
ROUTED_KEY = "my-website.zip"
TOKEN = re.compile(r"[a-zA-Z0-9-]{1,128}")
# Every field the reader may name in an error, and "event" for a body that is not an object.
FIELD_PATHS = {
    "event",
    "id",
    "source",
    "detail-type",
    "detail",
    "detail.bucket",
    "detail.bucket.name",
    "detail.object",
    "detail.object.key",
    "detail.object.version-id",
    "detail.object.size",
    "detail.object.etag",
    "detail.object.sequencer",
    "detail.reason",
}
MUTABLE_PATHS = [tuple(path.split(".")) for path in sorted(FIELD_PATHS - {"event"})]

ONE_ROUTE = load_settings({"SOURCE_BUCKET": BUCKET, **one_route(ROUTED_KEY, "site")})
TWO_ROUTES = load_settings(
    {
        "SOURCE_BUCKET": BUCKET,
        "ROUTES": json.dumps(
            [
                {"key": "*", "pipeline": "everything"},
                {
                    "key": ROUTED_KEY,
                    "pipeline": "site",
                    "overrideKey": True,
                    "variables": {"KEY": "key", "VERSION": "version", "ETAG": "etag", "SIZE": "size"},
                },
            ]
        ),
    }
)

# st.text() leaves lone surrogates out, even from an alphabet that has them; JSON escapes can deliver them.
_CHARS = st.one_of(st.characters(), st.characters(), st.characters(), st.characters(categories=["Cs"]))
# Strings that mean something to the reader: empty, "null" (no version), the routed names, the length limits.
_SPECIAL_TEXT = st.sampled_from(
    [
        *("", " ", "null", "aws.s3", "Object Created", BUCKET, ROUTED_KEY, "\x00", "my+website%20.zip"),
        *("v" * 1000, "v" * 1001, "v" * 1024, "v" * 1025, "é" * 512, "é" * 513),
    ]
)
_TEXT = st.lists(_CHARS, max_size=12).map("".join) | _SPECIAL_TEXT
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), _TEXT, _SPECIAL_TEXT)
JSON_VALUES = st.recursive(
    _SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3), max_leaves=6
)


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    """The documented put event with up to four fields removed or replaced by anything JSON can hold."""
    event = copy.deepcopy(load_event("put-object.json"))
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        path = draw(st.sampled_from(MUTABLE_PATHS))
        parent: Any = event
        for name in path[:-1]:
            parent = parent.get(name) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue
        if path[-1] in parent and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JSON_VALUES)
    return event


@st.composite
def one_hostile_field(draw: st.DrawFn) -> dict[str, Any]:
    """The documented put event with exactly one field removed or made a scalar of any type or content."""
    event = copy.deepcopy(load_event("put-object.json"))
    path = draw(st.sampled_from(MUTABLE_PATHS))
    parent = event
    for name in path[:-1]:
        parent = parent[name]
    if draw(st.integers(min_value=0, max_value=5)) == 0:
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(_SCALARS)
    return event


def put_event_with(path: str, value: Any) -> dict[str, Any]:
    event = copy.deepcopy(load_event("put-object.json"))
    *parents, name = path.split(".")
    target = event
    for parent in parents:
        target = target[parent]
    target[name] = value
    return event


# Edge cases too rare to leave to chance: each is also in the strategies above.
EDGE_CASES = [
    put_event_with("detail.object.version-id", "null"),
    put_event_with("detail.object.version-id", "v" * 1025),
    put_event_with("detail.object.version-id", "\ud800"),
    put_event_with("detail.object.etag", "v" * 1001),
    put_event_with("detail.object.size", True),
    put_event_with("detail.object.key", "é" * 513),
    put_event_with("detail.bucket.name", 7),
    put_event_with("id", "\udfff"),
]


def with_edge_cases(test: Any) -> Any:
    for event in EDGE_CASES:
        test = example(event=event)(test)
    return test


HOSTILE_EVENTS = st.one_of(mutated_events(), one_hostile_field(), JSON_VALUES)


def _readable(value: Any) -> bool:
    if not isinstance(value, str) or not value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _absent_or_readable(value: Any) -> bool:
    return value is None or _readable(value)


def oracle(event: Any, routed_keys: set[str] | None) -> str:  # noqa: PLR0911 - one return per documented rule
    """'malformed', 'ignore' or 'start', from the documented event shape alone (None: every key is routed)."""
    if not isinstance(event, dict):
        return "malformed"
    if not (_readable(event.get("source")) and _readable(event.get("detail-type"))):
        return "malformed"
    if event["source"] != "aws.s3" or event["detail-type"] != "Object Created":
        return "ignore"
    detail = event.get("detail")
    bucket = detail.get("bucket") if isinstance(detail, dict) else None
    name = bucket.get("name") if isinstance(bucket, dict) else None
    if isinstance(name, str) and name != BUCKET:
        return "ignore"
    if not (isinstance(detail, dict) and isinstance(bucket, dict) and isinstance(detail.get("object"), dict)):
        return "malformed"
    obj = detail["object"]
    key, version, size = obj.get("key"), obj.get("version-id"), obj.get("size")
    readable = (
        _readable(key)
        and len(key.encode("utf-8")) <= MAX_KEY_BYTES
        and _absent_or_readable(version)
        and (version is None or len(version) <= MAX_VERSION_ID_CHARS)
        and (size is None or (isinstance(size, int) and not isinstance(size, bool) and size >= 0))
        and all(_absent_or_readable(obj.get(field)) for field in ("etag", "sequencer"))
        and all(_absent_or_readable(value) for value in (event.get("id"), detail.get("reason")))
        and _readable(name)
    )
    if not readable:
        return "malformed"
    return "start" if routed_keys is None or key in routed_keys else "ignore"


def _check_malformed(error: MalformedEventError) -> None:
    # Readable: names the field by its path and says what is wrong with it.
    assert error.field in FIELD_PATHS
    assert error.problem
    assert str(error) == f"malformed S3 event: {error.field} {error.problem}"


def _outcome(event: Any, settings_: Settings) -> tuple[str, Ignore | Start | MalformedEventError]:
    try:
        decision = plan(copy.deepcopy(event), settings_)
    except MalformedEventError as error:
        return "malformed", error
    return ("start" if isinstance(decision, Start) else "ignore"), decision


@settings(max_examples=400, deadline=None)
@given(event=HOSTILE_EVENTS)
@with_edge_cases
def test_decide_agrees_with_the_oracle_and_raises_only_named_errors(event: Any) -> None:
    kind, decision = _outcome(event, ONE_ROUTE)

    assert kind == oracle(event, {ROUTED_KEY})
    if isinstance(decision, MalformedEventError):
        _check_malformed(decision)


@settings(max_examples=300, deadline=None)
@given(event=HOSTILE_EVENTS)
@with_edge_cases
def test_every_request_decide_builds_is_one_codepipeline_accepts(event: Any) -> None:
    kind, decision = _outcome(event, TWO_ROUTES)

    assert kind == oracle(event, None)
    if not isinstance(decision, Start):
        return
    obj = event["detail"]["object"]
    version = obj.get("version-id")
    assert [request.pipeline for request in decision.requests] == (
        ["everything", "site"] if obj["key"] == ROUTED_KEY else ["everything"]
    )
    for request in decision.requests:
        assert TOKEN.fullmatch(request.client_request_token)
        for revision in request.source_revisions:
            assert 1 <= len(revision["revisionValue"]) <= 1500
        pins = [r["revisionValue"] for r in request.source_revisions if r["revisionType"] == "S3_OBJECT_VERSION_ID"]
        # "null" is the version S3 reports for an object stored without versioning: nothing to pin.
        assert pins == ([] if version in (None, "null") else [version])
        for variable in request.variables:
            assert 1 <= len(variable["value"]) <= 1000
    assert len({request.client_request_token for request in decision.requests}) == len(decision.requests)


@settings(max_examples=40, deadline=None)
@given(event=st.sampled_from(["put-object.json", "copy-object.json", "multipart-upload.json"]), other_id=_TEXT)
def test_the_token_does_not_depend_on_the_event_id(event: str, other_id: str) -> None:
    first = plan(load_event(event), ONE_ROUTE)
    redelivered = load_event(event)
    redelivered["id"] = other_id or "another-id"
    try:
        second = plan(redelivered, ONE_ROUTE)
    except MalformedEventError as error:
        _check_malformed(error)
        return

    assert isinstance(first, Start)
    assert isinstance(second, Start)
    assert [r.client_request_token for r in first.requests] == [r.client_request_token for r in second.requests]


def _codepipeline() -> FakeCodePipeline:
    """The pipelines of the routes, as they must be set up for them: "site" allows the key override its route uses."""
    return FakeCodePipeline(
        pipelines={"everything": Pipeline("everything"), "site": Pipeline("site", allow_key_override=True)}
    )


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=HOSTILE_EVENTS)
@with_edge_cases
def test_handle_event_starts_only_what_the_oracle_allows(event: Any) -> None:
    codepipeline = _codepipeline()
    # S3 reports the event's own version as current: the hostile part is the event, not the bucket.
    s3 = FakeS3.holding_any(event)
    clients = AwsClients(codepipeline, s3=s3, retry=RetryPolicy(sleep=lambda _: None))  # type: ignore[arg-type]
    expected = oracle(event, None)

    try:
        result = handle_event(copy.deepcopy(event), TWO_ROUTES, clients)
    except MalformedEventError as error:
        _check_malformed(error)
        assert expected == "malformed"
        assert codepipeline.requests == []
        return

    if expected == "start":
        assert result["status"] == "started"
        key = event["detail"]["object"]["key"]
        assert len(codepipeline.requests) == (2 if key == ROUTED_KEY else 1)
        # CodePipeline accepted each: a new execution per request, none refused by its rules.
        assert len(codepipeline.executions) == len(codepipeline.requests)
    else:
        assert (expected, result["status"]) == ("ignore", "ignored")
        assert codepipeline.requests == []


@pytest.mark.parametrize(
    ("key", "accepted"),
    [
        ("k" * MAX_KEY_BYTES, True),
        ("k" * (MAX_KEY_BYTES + 1), False),
        ("é" * (MAX_KEY_BYTES // 2), True),  # 2 bytes each: exactly the limit
        ("é" * (MAX_KEY_BYTES // 2) + "k", False),
        ("€" * 341 + "k", True),  # 3 bytes each: 1,024 bytes, 342 characters
        ("€" * 342, False),
    ],
    ids=["1024-ascii", "1025-ascii", "1024-bytes-2-byte", "1025-bytes-2-byte", "1024-bytes-3-byte", "1026-bytes"],
)
def test_key_length_is_counted_in_utf8_bytes(key: str, accepted: bool) -> None:
    event = load_event("put-object.json")
    event["detail"]["object"]["key"] = key

    kind, decision = _outcome(event, TWO_ROUTES)

    assert kind == ("start" if accepted else "malformed")
    if isinstance(decision, MalformedEventError):
        assert decision.field == "detail.object.key"


def _large_event(marker: str) -> dict[str, Any]:
    # EventBridge events are at most 256 KB; fill one to the brim with fields the function must not care about.
    event = load_event("put-object.json")
    event["detail"]["requester"] = marker
    event["detail"]["source-ip-address"] = marker
    event["detail"]["padding"] = [marker] * ((250 * 1024) // (len(marker) + 4))
    assert 240 * 1024 < len(json.dumps(event)) <= 256 * 1024
    return event


def test_an_event_at_the_size_limit_starts_exactly_once() -> None:
    codepipeline = FakeCodePipeline.with_pipelines("site")

    event = _large_event("filler")
    clients = AwsClients(codepipeline, s3=FakeS3.holding(event))  # type: ignore[arg-type]

    result = handle_event(event, ONE_ROUTE, clients)

    assert result["status"] == "started"
    assert len(codepipeline.requests) == 1
    assert len(codepipeline.executions) == 1


MARKER = "PRIVATE-7f1e"


@pytest.mark.parametrize(
    "event_name",
    ["put-object.json", "other-key.json", "other-bucket.json", "object-deleted.json", "malformed-missing-key.json"],
)
def test_no_event_body_reaches_the_logs(event_name: str, output: FunctionOutput, monkeypatch: Any) -> None:
    # GIVEN an event whose fields the function has no use for carry a marker (requester, source IP, padding)
    event = _large_event(MARKER) if event_name == "put-object.json" else load_event(event_name)
    detail = event.get("detail")
    if isinstance(detail, dict):
        detail["requester"] = MARKER
        detail["source-ip-address"] = MARKER
    event["account"] = MARKER
    monkeypatch.setattr(handler, "SETTINGS", ONE_ROUTE)

    # WHEN the real entry point (with its Powertools decorators) handles it
    try:
        clients = AwsClients(FakeCodePipeline.with_pipelines("site"), s3=FakeS3.holding_any(event))  # type: ignore[arg-type]
        handler.lambda_handler(event, LocalLambdaContext(), clients=clients)
    except MalformedEventError:
        assert event_name == "malformed-missing-key.json"

    # THEN it logged, at INFO or above, without any of those fields
    records = output.records()
    logs = [record for record in records if "level" in record]
    assert logs
    assert all(record["level"] in {"INFO", "WARNING", "ERROR"} for record in logs)
    assert MARKER not in json.dumps(records)
