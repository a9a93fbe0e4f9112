"""S3 HeadObject as a versioned bucket answers it, with the rules moto leaves out: the tests' one S3.

Each rule is documented in docs/decisions.md ("The tests' AWS models"), with its source:
- a key with no current object (deleted: a delete marker; or never there) answers 404 only when the caller may
  `s3:ListBucket` the bucket for that key, else 403 (S3 API reference, HeadObject, "Permissions");
  `may_list(bucket, key)` is that permission, e.g. the function role's policy evaluated by tests/support/iam_policy.py;
- a 404 for a delete marker carries `x-amz-delete-marker: true`;
- an object stored with a customer-provided key (SSE-C) answers 400 to a HEAD without that key;
- faults on demand (`fail_next`): throttled (503), server error (500), connection reset, connection lost (the
  endpoint never reached), access denied (403).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

ENDPOINT = "https://s3.eu-west-1.amazonaws.com"
_FAULTS = {"throttled": 503, "server-error": 500, "access-denied": 403}
CONNECTION_RESET = "connection-reset"
CONNECTION_LOST = "connection-lost"
FAULT_NAMES = (*_FAULTS, CONNECTION_RESET, CONNECTION_LOST)


def head_error(status: int, headers: dict[str, str] | None = None) -> ClientError:
    # A HEAD answer has no body: botocore reports the status as the error code.
    return ClientError(
        {
            "Error": {"Code": str(status), "Message": ""},
            "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers or {}},
        },
        "HeadObject",
    )


@dataclass
class ObjectVersion:
    version_id: str
    delete_marker: bool = False
    customer_key: bool = False
    etag: str = ""
    size: int = 0


@dataclass
class FakeS3:
    """Versioned buckets, as HeadObject sees them (see the module docstring for the rules it keeps)."""

    may_list: Callable[[str, str], bool] = lambda _bucket, _key: True
    journal: list[tuple[str, str]] | None = None
    # (bucket, key) -> versions, oldest first.
    versions: dict[tuple[str, str], list[ObjectVersion]] = field(default_factory=dict)
    heads: list[tuple[str, str]] = field(default_factory=list)
    # Every HeadObject request as sent.
    requests: list[dict[str, Any]] = field(default_factory=list)
    _scripted: list[str] = field(default_factory=list)
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def holding(cls, *events: dict[str, Any], **options: Any) -> FakeS3:
        """A bucket in which every event's object version is its key's current one."""
        s3 = cls(**options)
        for event in events:
            detail = event["detail"]
            s3.put(detail["bucket"]["name"], detail["object"]["key"], version_id=detail["object"].get("version-id"))
        return s3

    @classmethod
    def holding_any(cls, event: Any, **options: Any) -> FakeS3:
        """Like `holding` for a well-formed event; any other input gets empty buckets."""
        try:
            return cls.holding(event, **options)
        except (KeyError, TypeError, AttributeError):
            return cls(**options)

    # ------------------------------------------------------------------ what happens to the bucket
    def put(
        self, bucket: str, key: str, *, version_id: str | None = None, customer_key: bool = False, body: bytes = b"zip"
    ) -> str:
        """A new current version of the key (S3 version ids contain dots, so these do too)."""
        version = version_id or f"v{next(self._numbers)}.{hashlib.sha256(key.encode()).hexdigest()[:8]}"
        etag = hashlib.md5(body, usedforsecurity=False).hexdigest()
        self.versions.setdefault((bucket, key), []).append(
            ObjectVersion(version, customer_key=customer_key, etag=etag, size=len(body))
        )
        return version

    def delete(self, bucket: str, key: str) -> str:
        """A delete marker becomes the current version."""
        marker = f"marker{next(self._numbers)}.dm"
        self.versions.setdefault((bucket, key), []).append(ObjectVersion(marker, delete_marker=True))
        return marker

    def current(self, bucket: str, key: str) -> str | None:
        versions = self.versions.get((bucket, key))
        if not versions or versions[-1].delete_marker:
            return None
        return versions[-1].version_id

    def fail_next(self, *faults: str) -> None:
        for fault in faults:
            if fault not in FAULT_NAMES:
                raise ValueError(f"unknown fault {fault!r}; one of {FAULT_NAMES}")
        self._scripted.extend(faults)

    # ------------------------------------------------------------------ the API
    def head_object(self, *, Bucket: str, Key: str, VersionId: str | None = None, **params: Any) -> dict[str, Any]:
        self.heads.append((Bucket, Key))
        sent = {"Bucket": Bucket, "Key": Key, **({"VersionId": VersionId} if VersionId else {}), **params}
        self.requests.append(sent)
        if self._scripted:
            fault = self._scripted.pop(0)
            self._note("head-failed", fault)
            if fault == CONNECTION_RESET:
                raise ConnectionClosedError(endpoint_url=ENDPOINT)
            if fault == CONNECTION_LOST:
                raise EndpointConnectionError(endpoint_url=ENDPOINT)
            raise head_error(_FAULTS[fault])
        versions = self.versions.get((Bucket, Key), [])
        found = next((v for v in versions if v.version_id == VersionId), None) if VersionId else None
        version = found if VersionId else (versions[-1] if versions else None)
        if version is None or version.delete_marker:
            if not self.may_list(Bucket, Key):
                self._note("head-denied", "403")
                raise head_error(403)
            headers = {"x-amz-delete-marker": "true"} if version is not None else {}
            self._note("head-missing", "404")
            raise head_error(404, headers)
        if version.customer_key and "SSECustomerKey" not in params:
            self._note("head-failed", "400")
            raise head_error(400)
        self._note("head-ok", version.version_id)
        return {"VersionId": version.version_id, "ETag": f'"{version.etag}"', "ContentLength": version.size}

    def _note(self, what: str, detail: str) -> None:
        if self.journal is not None:
            self.journal.append((what, detail))
