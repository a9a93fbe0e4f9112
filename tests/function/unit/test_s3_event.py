"""Reading S3 → EventBridge events: every field problem is named, never a KeyError or TypeError."""

import copy
from typing import Any

import pytest

from support.events import load_event
from trigger_fn.s3_event import MalformedEventError, read_envelope, read_object_created


def test_reads_the_documented_put_event() -> None:
    upload = read_object_created(load_event("put-object.json"))

    assert upload.bucket == "my-artifact-bucket"
    assert upload.key == "my-website.zip"
    assert upload.version_id == "Kq3Xh.9vRzT2mWb7LdN4pYcF8sEaJ0uG"
    assert upload.etag == "7f2b4c1e8a9d3f60b5e2c7a1d4f8e903"
    assert upload.size == 48213
    assert upload.reason == "PutObject"
    assert upload.event_id == "2d4eba74-fd51-3966-4bfa-b013c9da8ff1"


def test_key_is_kept_exactly_as_delivered() -> None:
    event = load_event("put-object.json")
    event["detail"]["object"]["key"] = "my+website%20v2.zip"

    assert read_object_created(event).key == "my+website%20v2.zip"


def test_the_null_version_of_an_unversioned_object_is_no_pin() -> None:
    event = load_event("put-object.json")
    event["detail"]["object"]["version-id"] = "null"

    assert read_object_created(event).version_id is None


def _with(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    event = copy.deepcopy(load_event("put-object.json"))
    target = event
    for name in path[:-1]:
        target = target[name]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return event


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("detail",), _DELETE, "detail"),
        (("detail",), "text", "detail"),
        (("detail", "object"), _DELETE, "detail.object"),
        (("detail", "object"), [], "detail.object"),
        (("detail", "bucket"), None, "detail.bucket"),
        (("detail", "object", "key"), _DELETE, "detail.object.key"),
        (("detail", "object", "key"), "", "detail.object.key"),
        (("detail", "object", "key"), 42, "detail.object.key"),
        (("detail", "object", "key"), ["my-website.zip"], "detail.object.key"),
        (("detail", "object", "key"), "x" * 1025, "detail.object.key"),
        (("detail", "object", "key"), "é" * 513, "detail.object.key"),
        (("detail", "object", "key"), "bad\ud800surrogate.zip", "detail.object.key"),
        (("detail", "object", "version-id"), 7, "detail.object.version-id"),
        (("detail", "object", "version-id"), "", "detail.object.version-id"),
        (("detail", "object", "version-id"), "v" * 1025, "detail.object.version-id"),
        (("detail", "object", "size"), "48213", "detail.object.size"),
        (("detail", "object", "size"), -1, "detail.object.size"),
        (("detail", "object", "size"), True, "detail.object.size"),
        (("detail", "object", "etag"), {"x": 1}, "detail.object.etag"),
        (("detail", "reason"), 3, "detail.reason"),
    ],
)
def test_malformed_fields_are_named(path: tuple[str, ...], value: Any, field: str) -> None:
    with pytest.raises(MalformedEventError) as raised:
        read_object_created(_with(path, value))

    assert raised.value.field == field
    assert str(raised.value).startswith(f"malformed S3 event: {field} ")


@pytest.mark.parametrize("event", [None, [], "text", 3, 1.5], ids=repr)
def test_an_event_that_is_not_an_object_is_malformed(event: Any) -> None:
    with pytest.raises(MalformedEventError, match="event must be a JSON object"):
        read_envelope(event)


@pytest.mark.parametrize("field", ["source", "detail-type"])
def test_envelope_needs_source_and_detail_type(field: str) -> None:
    event = load_event("put-object.json")
    event[field] = None

    with pytest.raises(MalformedEventError, match=f"{field} must be a non-empty string"):
        read_envelope(event)
