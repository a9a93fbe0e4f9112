"""Events in any order, any of them repeated: only a version that is current when its event is handled starts.

Real uploads to moto's versioned S3, real S3 → EventBridge events through the template's rule, the function's
own current-version check against moto's HeadObject; CodePipeline is the tests' shared fake, which remembers tokens.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local.aws_models.codepipeline import FakeCodePipeline
from local.moto_path import MotoStack, moto_stack
from trigger_fn.clients import AwsClients
from trigger_fn.retries import RetryPolicy
from trigger_fn.settings import load_settings
from trigger_fn.trigger import handle_event

KEYS = ("site.zip", "api.zip")
ROUTES = [
    {"key": "site.zip", "pipeline": "site"},
    {"key": "*.zip", "pipeline": "deploy"},
    {"key": "*.zip", "pipeline": "archive", "latestOnly": False},
]
PARAMETERS = {"Routes": json.dumps(ROUTES), "RoutedPipelines": "site,deploy,archive", "RoutesKeyFilter": "*.zip"}
SETTINGS = load_settings({"SOURCE_BUCKET": "my-artifact-bucket", "ROUTES": json.dumps(ROUTES)})
GUARDED = {"site": {"site.zip"}, "deploy": set(KEYS)}
EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _codepipeline() -> FakeCodePipeline:
    return FakeCodePipeline.with_pipelines("site", "deploy", "archive")


def _handle(stack: MotoStack, codepipeline: FakeCodePipeline, event: dict[str, Any]) -> list[tuple[str, str | None]]:
    """What one handling of the event asked CodePipeline to start, as (pipeline, version)."""
    before = len(codepipeline.requests)
    clients = AwsClients(codepipeline, s3=stack.s3, retry=RetryPolicy(sleep=lambda _: None))  # type: ignore[arg-type]
    handle_event(json.loads(json.dumps(event)), SETTINGS, clients)
    return [(request["name"], _pinned(request)) for request in codepipeline.requests[before:]]


def _pinned(request: dict[str, Any]) -> str | None:
    return next(
        (r["revisionValue"] for r in request["sourceRevisions"] if r["revisionType"] == "S3_OBJECT_VERSION_ID"), None
    )


def _version(event: dict[str, Any]) -> str:
    return str(event["detail"]["object"]["version-id"])


def _key(event: dict[str, Any]) -> str:
    return str(event["detail"]["object"]["key"])


@EXAMPLES
@given(
    uploads=st.lists(st.sampled_from(KEYS), min_size=1, max_size=6),
    order=st.randoms(use_true_random=False),
    repeats=st.lists(st.integers(min_value=0, max_value=20), max_size=6),
)
def test_after_all_uploads_only_each_keys_newest_version_starts_on_guarded_routes(
    uploads: list[str], order: Any, repeats: list[int]
) -> None:
    with moto_stack(**PARAMETERS) as stack:
        # GIVEN every upload done first, then their events delivered shuffled, some of them again
        newest = {key: stack.upload(key, f"{key}#{n}".encode()) for n, key in enumerate(uploads)}
        events = stack.delivered_events()
        deliveries = events + [events[i % len(events)] for i in repeats]
        order.shuffle(deliveries)
        codepipeline = _codepipeline()

        # WHEN the function handles each delivery
        for event in deliveries:
            _handle(stack, codepipeline, event)

    # THEN guarded routes started only each key's newest version; the archive route every delivered version
    started = codepipeline.started_versions()
    assert {(p, v) for p, v in started if p != "archive"} == {
        (pipeline, newest[key]) for pipeline, keys in GUARDED.items() for key in keys if key in newest
    }
    assert {v for p, v in started if p == "archive"} == {_version(e) for e in events}
    # AND however often an event came, each (pipeline, version) has one execution: repeats carry its token
    assert len(started) == len(set(started))


@EXAMPLES
@given(steps=st.lists(st.one_of(st.sampled_from(KEYS), st.integers(min_value=0, max_value=30)), max_size=14))
def test_interleaved_uploads_and_deliveries_start_only_what_is_current_when_handled(steps: list[Any]) -> None:
    with moto_stack(**PARAMETERS) as stack:
        current: dict[str, str] = {}
        events: list[dict[str, Any]] = []
        codepipeline = _codepipeline()
        for step in steps:
            if isinstance(step, str):
                # An upload: its version becomes the key's current one.
                current[step] = stack.upload(step, f"{step}#{len(events)}".encode())
                events.extend(stack.delivered_events())
                continue
            if not events:
                continue
            # A delivery of any earlier upload's event, possibly again, possibly long after newer uploads.
            event = events[step % len(events)]
            started = _handle(stack, codepipeline, event)

            key, version = _key(event), _version(event)
            expected = {(p, version) for p, keys in GUARDED.items() if key in keys and version == current[key]}
            expected.add(("archive", version))
            assert set(started) == expected, (key, version, current)

    started_versions = codepipeline.started_versions()
    assert len(started_versions) == len(set(started_versions))
