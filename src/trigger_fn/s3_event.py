"""Reads an S3 → EventBridge notification into plain data, or says exactly what is wrong with it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

OBJECT_CREATED = "Object Created"
S3_SOURCE = "aws.s3"
# S3 keys are at most 1,024 bytes of UTF-8; anything longer cannot be a real object.
MAX_KEY_BYTES = 1024
MAX_VERSION_ID_CHARS = 1024
# S3 writes the literal version id "null" for objects stored while versioning was off.
NULL_VERSION_ID = "null"


class MalformedEventError(ValueError):
    """The event claims to be an S3 notification for us but a field is missing or of the wrong type."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"malformed S3 event: {field} {problem}")


class EventEnvelope(NamedTuple):
    """The EventBridge fields needed to decide whether the event is ours at all."""

    source: str
    detail_type: str
    bucket: str | None
    # The account the event came from (the bucket's); None when the event does not say.
    account: str | None = None


class S3ObjectCreated(NamedTuple):
    """One object version that landed in a bucket, with the key exactly as delivered."""

    event_id: str
    bucket: str
    key: str
    version_id: str | None
    etag: str | None
    size: int | None
    sequencer: str | None
    reason: str | None
    # When S3 emitted the event (epoch seconds); None when the event's `time` is missing or unreadable.
    event_time: float | None = None


def read_envelope(event: Any) -> EventEnvelope:
    if not isinstance(event, dict):
        raise MalformedEventError("event", f"must be a JSON object, got {_type_name(event)}")
    # Only source and detail-type must be readable here: anything else is checked once the event is known to be ours.
    detail = event.get("detail")
    bucket = detail.get("bucket") if isinstance(detail, dict) else None
    name = bucket.get("name") if isinstance(bucket, dict) else None
    account = event.get("account")
    return EventEnvelope(
        source=_required_str(event, "source", "source"),
        detail_type=_required_str(event, "detail-type", "detail-type"),
        bucket=name if isinstance(name, str) else None,
        account=account if isinstance(account, str) else None,
    )


def read_object_created(event: dict[str, Any]) -> S3ObjectCreated:
    """Parse an event already known to be an S3 `Object Created` notification."""
    detail = _required_dict(event, "detail", "detail")
    bucket = _required_dict(detail, "bucket", "detail.bucket")
    obj = _required_dict(detail, "object", "detail.object")
    key = _required_str(obj, "key", "detail.object.key")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise MalformedEventError("detail.object.key", f"is longer than {MAX_KEY_BYTES} bytes of UTF-8")
    version_id = _optional_str(obj, "version-id", "detail.object.version-id")
    if version_id is not None and len(version_id) > MAX_VERSION_ID_CHARS:
        raise MalformedEventError("detail.object.version-id", f"is longer than {MAX_VERSION_ID_CHARS} characters")
    size = obj.get("size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise MalformedEventError("detail.object.size", f"must be a non-negative integer, got {_type_name(size)}")
    return S3ObjectCreated(
        event_id=_optional_str(event, "id", "id") or "",
        bucket=_required_str(bucket, "name", "detail.bucket.name"),
        key=key,
        version_id=None if version_id == NULL_VERSION_ID else version_id,
        etag=_optional_str(obj, "etag", "detail.object.etag"),
        size=size,
        sequencer=_optional_str(obj, "sequencer", "detail.object.sequencer"),
        reason=_optional_str(detail, "reason", "detail.reason"),
        event_time=_epoch_seconds(event.get("time")),
    )


def _epoch_seconds(value: Any) -> float | None:
    """EventBridge's `time` (ISO 8601, UTC); emulators send epoch numbers. Unreadable means unknown, not malformed."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    return None


def _required_dict(parent: dict[str, Any], name: str, path: str) -> dict[str, Any]:
    value = parent.get(name)
    if not isinstance(value, dict):
        raise MalformedEventError(path, f"must be a JSON object, got {_type_name(value)}")
    return value


def _required_str(parent: dict[str, Any], name: str, path: str) -> str:
    value = parent.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedEventError(path, f"must be a non-empty string, got {_type_name(value)}")
    # ASCII is always valid UTF-8: only other text is checked.
    return value if value.isascii() else _utf8(value, path)


def _optional_str(parent: dict[str, Any], name: str, path: str) -> str | None:
    value = parent.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise MalformedEventError(path, f"must be a non-empty string when present, got {_type_name(value)}")
    return value if value.isascii() else _utf8(value, path)


def _utf8(value: str, path: str) -> str:
    # JSON escapes can carry lone surrogates; they would fail later, when the token is hashed or the request sent.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedEventError(path, "is not valid UTF-8 text") from None
    return value


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, str) and not value:
        return "an empty string"
    return type(value).__name__
