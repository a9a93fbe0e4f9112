"""What to do with one event: ignore it (and why) or start pipelines with exact revisions and tokens."""

from __future__ import annotations

import hashlib
from typing import Any, NamedTuple

from trigger_fn.routing import Route, matching_routes
from trigger_fn.s3_event import OBJECT_CREATED, S3_SOURCE, S3ObjectCreated, read_envelope, read_object_created
from trigger_fn.settings import Settings

# Bump when the token recipe changes, so old and new tokens never collide by accident.
_TOKEN_RECIPE = "s3-pipeline-trigger/v1"  # noqa: S105 - a recipe tag, not a secret
_ROLLBACK_TOKEN_PREFIX = "rollback-"  # noqa: S105 - a readable tag, not a secret
# CodePipeline variable values are 1-1000 characters.
_MAX_VARIABLE_VALUE = 1000


class Ignore(NamedTuple):
    reason_code: str
    reason: str


class StartRequest(NamedTuple):
    """One StartPipelineExecution call, exactly as it will be sent, and how its route guards it."""

    pipeline: str
    source_revisions: tuple[dict[str, str], ...]
    client_request_token: str
    variables: tuple[dict[str, str], ...] = ()
    # Not sent: the S3 source action whose revision identifies an execution, and the route's latestOnly.
    source_action: str = "Source"
    latest_only: bool = True
    # Not sent: variables left out because their value is longer than CodePipeline takes.
    omitted_variables: tuple[str, ...] = ()
    # Not sent: the role assumed to start a pipeline of another account (None: the function's own role).
    role_arn: str | None = None

    def as_api_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "name": self.pipeline,
            "sourceRevisions": [dict(revision) for revision in self.source_revisions],
            "clientRequestToken": self.client_request_token,
        }
        if self.variables:
            params["variables"] = [dict(variable) for variable in self.variables]
        return params


class Start(NamedTuple):
    upload: S3ObjectCreated
    requests: tuple[StartRequest, ...]

    @property
    def pinned(self) -> bool:
        return self.upload.version_id is not None


Decision = Ignore | Start


def decide(event: Any, settings: Settings) -> Decision:
    """Ignore or Start for one EventBridge event.

    Raises MalformedEventError when the event is not an EventBridge event at all (not an object, or no
    `source` / `detail-type` string), or when it is an `Object Created` event for the source bucket that
    cannot be read. Every other event gets an Ignore with its reason.
    """
    envelope = read_envelope(event)
    if envelope.source != S3_SOURCE or envelope.detail_type != OBJECT_CREATED:
        return Ignore(
            "not_object_created",
            f"event is {envelope.source!r} / {envelope.detail_type!r}, not {S3_SOURCE!r} / {OBJECT_CREATED!r}",
        )
    if settings.source_account is not None and envelope.account != settings.source_account:
        # Only the bucket's own account may start pipelines: any other sender on the bus is refused here too.
        return Ignore(
            "other_account",
            f"event from account {envelope.account!r}, not the source bucket's account {settings.source_account!r}",
        )
    if envelope.bucket is not None and envelope.bucket != settings.source_bucket:
        return Ignore("other_bucket", f"bucket {envelope.bucket!r} is not the source bucket {settings.source_bucket!r}")
    upload = read_object_created(event)
    requests = plan_starts(settings, upload)
    if not requests:
        return Ignore("no_matching_route", f"key {upload.key!r} matches no route")
    return Start(upload=upload, requests=requests)


def plan_starts(settings: Settings, upload: S3ObjectCreated) -> tuple[StartRequest, ...]:
    """Every StartPipelineExecution this upload calls for, exactly as sent, each with the role it is sent as (a
    pipeline of another account: its starter role); empty when no route matches.

    The function and `make start` both plan with this, so a manual start repeats the function's requests.
    """
    matching = matching_routes(settings.routes, upload.key)
    # One start per pipeline and account: the first matching route for it wins (one token, one request).
    first_per_pipeline = {(route.pipeline, route.pipeline_account): route for route in reversed(matching)}
    return tuple(
        start_request(route, upload)._replace(role_arn=settings.starter_role_in(route.pipeline_account))
        for route in matching
        if first_per_pipeline[(route.pipeline, route.pipeline_account)] is route
    )


def start_request(route: Route, upload: S3ObjectCreated) -> StartRequest:
    revisions: list[dict[str, str]] = []
    if upload.version_id is not None:
        revisions.append(_revision(route, "S3_OBJECT_VERSION_ID", upload.version_id))
    if route.override_key:
        revisions.append(_revision(route, "S3_OBJECT_KEY", upload.key))
    values = [(name, upload_fact(upload, fact)) for name, fact in route.variables]
    return StartRequest(
        pipeline=route.pipeline,
        source_revisions=tuple(revisions),
        client_request_token=request_token(route.pipeline, upload),
        variables=tuple(
            {"name": name, "value": value}
            for name, value in values
            if value is not None and len(value) <= _MAX_VARIABLE_VALUE
        ),
        source_action=route.source_action,
        latest_only=route.latest_only,
        # Never cut to the limit: a cut key names another object, one an uploader could create.
        omitted_variables=tuple(
            name for name, value in values if value is not None and len(value) > _MAX_VARIABLE_VALUE
        ),
    )


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


class CurrentVersion(NamedTuple):
    """What S3 says the key's current version is now; None: no current object (a delete marker, or gone)."""

    version_id: str | None
    # S3 would not describe the object without its customer-provided key (SSE-C): no version is known.
    needs_customer_key: bool = False


def stale_reason(upload: S3ObjectCreated, current: CurrentVersion) -> Ignore | None:
    """Why a latestOnly start of this upload must not happen now, or None when its version is still current."""
    where = f"s3://{upload.bucket}/{upload.key}"
    if current.needs_customer_key:
        return Ignore(
            "customer_key_encrypted",
            f"{where} answers HeadObject with 400, as S3 does for an object encrypted with a customer-provided key "
            "(SSE-C): CodePipeline's S3 source cannot read it either; upload it with SSE-S3 or SSE-KMS",
        )
    if current.version_id is None:
        return Ignore(
            "object_deleted", f"{where} has no current version (deleted): version {upload.version_id} is not built"
        )
    if current.version_id != upload.version_id:
        return Ignore(
            "superseded",
            f"{where} version {upload.version_id} was replaced by {current.version_id}: the newer upload builds",
        )
    return None


def needs_history_check(upload: S3ObjectCreated, token_window_s: int, now: float) -> bool:
    """True when the event is too old to trust the token alone: look for an execution of its version first."""
    if upload.version_id is None:
        return False
    return upload.event_time is None or now - upload.event_time > token_window_s


def execution_of_version(summaries: list[dict[str, Any]], source_action: str, version_id: str) -> str | None:
    """The id of the newest listed execution whose S3 source revision is this version, if any."""
    for summary in summaries:
        for revision in summary.get("sourceRevisions", []):
            if revision.get("actionName") == source_action and revision.get("revisionId") == version_id:
                return str(summary["pipelineExecutionId"])
    return None


def upload_fact(upload: S3ObjectCreated, fact: str) -> str | None:
    values = {
        "bucket": upload.bucket,
        "key": upload.key,
        "version": upload.version_id,
        "etag": upload.etag,
        "size": None if upload.size is None else str(upload.size),
        "reason": upload.reason,
        "sequencer": upload.sequencer,
    }
    value = values[fact]
    # A missing fact is left out: CodePipeline rejects empty values.
    return value or None


def _revision(route: Route, revision_type: str, value: str) -> dict[str, str]:
    return {"actionName": route.source_action, "revisionType": revision_type, "revisionValue": value}
