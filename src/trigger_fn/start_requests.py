"""The StartPipelineExecution requests an upload calls for: one per matching pipeline, exactly as sent."""

from __future__ import annotations

from typing import Any, NamedTuple

from trigger_fn.routing import Route, matching_routes
from trigger_fn.s3_event import S3ObjectCreated
from trigger_fn.settings import Settings
from trigger_fn.tokens import request_token

# CodePipeline variable values are 1-1000 characters.
_MAX_VARIABLE_VALUE = 1000


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
    # Not sent: S3 is asked right before the start (and each retry) that the version is still the key's current one.
    guarded: bool = False

    def as_api_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "name": self.pipeline,
            "sourceRevisions": [dict(revision) for revision in self.source_revisions],
            "clientRequestToken": self.client_request_token,
        }
        if self.variables:
            params["variables"] = [dict(variable) for variable in self.variables]
        return params


def plan_starts(settings: Settings, upload: S3ObjectCreated) -> tuple[StartRequest, ...]:
    """Every StartPipelineExecution this upload calls for, exactly as sent, each with the role it is sent as (a
    pipeline of another account: its starter role); empty when no route matches.

    The function and `make start` both plan with this, so a manual start repeats the function's requests.
    """
    requests: list[StartRequest] = []
    started: set[tuple[str, str | None]] = set()
    for route in matching_routes(settings.routes, upload.key):
        # One start per pipeline and account: the first matching route for it wins (one token, one request).
        if (route.pipeline, route.pipeline_account) in started:
            continue
        started.add((route.pipeline, route.pipeline_account))
        requests.append(start_request(route, upload, settings.starter_role_in(route.pipeline_account)))
    return tuple(requests)


def start_request(route: Route, upload: S3ObjectCreated, role_arn: str | None = None) -> StartRequest:
    revisions: list[dict[str, str]] = []
    if upload.version_id is not None:
        revisions.append(_revision(route, "S3_OBJECT_VERSION_ID", upload.version_id))
    if route.override_key:
        revisions.append(_revision(route, "S3_OBJECT_KEY", upload.key))
    variables: tuple[dict[str, str], ...] = ()
    omitted: tuple[str, ...] = ()
    if route.variables:
        values = [(name, upload_fact(upload, fact)) for name, fact in route.variables]
        variables = tuple(
            {"name": name, "value": value}
            for name, value in values
            if value is not None and len(value) <= _MAX_VARIABLE_VALUE
        )
        # Never cut to the limit: a cut key names another object, one an uploader could create.
        omitted = tuple(name for name, value in values if value is not None and len(value) > _MAX_VARIABLE_VALUE)
    return StartRequest(
        pipeline=route.pipeline,
        source_revisions=tuple(revisions),
        client_request_token=request_token(route.pipeline, upload),
        variables=variables,
        source_action=route.source_action,
        latest_only=route.latest_only,
        omitted_variables=omitted,
        role_arn=role_arn,
        guarded=route.latest_only and upload.version_id is not None,
    )


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
