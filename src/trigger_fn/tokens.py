"""The idempotency tokens of StartPipelineExecution: one per pipeline and object version, or per rollback."""

from __future__ import annotations

import hashlib

from trigger_fn.s3_event import S3ObjectCreated

# Bump when the token recipe changes, so old and new tokens never collide by accident.
_TOKEN_RECIPE = "s3-pipeline-trigger/v1"  # noqa: S105 - a recipe tag, not a secret
_ROLLBACK_TOKEN_PREFIX = "rollback-"  # noqa: S105 - a readable tag, not a secret


def request_token(pipeline: str, upload: S3ObjectCreated) -> str:
    """Same pipeline + bucket + key + version -> same token, whatever event or person asked for the start.

    Without a version id (an unversioned bucket; CodePipeline's S3 source wants versioning) the content
    stands in: ETag and size, which S3 HeadObject reports too, so `make start` derives the same token. Then
    the S3 sequencer, then the event id. Hex of SHA-256 fits CodePipeline's `[a-zA-Z0-9-]{1,128}`; version
    ids themselves contain dots.
    """
    return _digest(_token_material(pipeline, upload))


def rollback_token(pipeline: str, upload: S3ObjectCreated, requested_at: float) -> str:
    """The token of one deliberate start of a version that is not the key's current one (`make start VERSION=`).

    The function's token for that version would be answered with the execution it already started, while
    CodePipeline remembers it: nothing would roll back. The time of the request (epoch seconds, to the
    microsecond) makes every request a start of its own; one request's retries keep its one token.
    """
    material = (*_token_material(pipeline, upload), "rollback", f"{requested_at:.6f}")
    # 9 + 64 characters, within [a-zA-Z0-9-]{1,128}; the prefix says, wherever the request is seen, what it was.
    return f"{_ROLLBACK_TOKEN_PREFIX}{_digest(material)}"


def _token_material(pipeline: str, upload: S3ObjectCreated) -> tuple[str, ...]:
    if upload.version_id is not None:
        revision = f"version:{upload.version_id}"
    elif upload.etag is not None and upload.size is not None:
        revision = f"content:{upload.etag}:{upload.size}"
    elif upload.sequencer is not None:
        revision = f"sequencer:{upload.sequencer}"
    else:
        revision = f"event:{upload.event_id}"
    return (_TOKEN_RECIPE, pipeline, upload.bucket, upload.key, revision)


def _digest(material: tuple[str, ...]) -> str:
    return hashlib.sha256("\0".join(material).encode("utf-8")).hexdigest()
