"""HeadObject as a versioned bucket answers it, for tests whose subject is not S3 itself."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


class CurrentVersions:
    """Each key's current version; a key set to None (or never set) answers 404, as a delete marker does."""

    def __init__(self, current: dict[tuple[str, str], str | None] | None = None) -> None:
        self.current = dict(current or {})
        self.heads: list[tuple[str, str]] = []

    @classmethod
    def as_in(cls, *events: dict[str, Any]) -> CurrentVersions:
        """Every event's object version is the current one of its key."""
        return cls(
            {
                (event["detail"]["bucket"]["name"], event["detail"]["object"]["key"]): event["detail"]["object"].get(
                    "version-id"
                )
                for event in events
            }
        )

    def head_object(self, **params: Any) -> dict[str, Any]:
        where = (params["Bucket"], params["Key"])
        self.heads.append(where)
        version = self.current.get(where)
        if version is None:
            raise ClientError(
                {
                    "Error": {"Code": "404", "Message": "Not Found"},
                    "ResponseMetadata": {"HTTPStatusCode": 404, "HTTPHeaders": {"x-amz-delete-marker": "true"}},
                },
                "HeadObject",
            )
        return {"VersionId": version, "ContentLength": 1}


def current_versions_of(event: Any) -> CurrentVersions:
    """S3 in which a well-formed event's version is its key's current one (any other input: an empty bucket)."""
    try:
        return CurrentVersions.as_in(event)
    except (KeyError, TypeError, AttributeError):
        return CurrentVersions()
