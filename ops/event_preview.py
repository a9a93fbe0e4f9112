"""What a kept event would do if it reached the function now: the function's own plan, read-only.

The routes and flags are the deployed function's (Lambda GetFunctionConfiguration, read by
`trigger_fn.settings.load_settings`), the plan is `trigger_fn.plan.plan`, and for a start the
current-version check guards, the key's current version comes from S3 HeadObject and is judged by
`trigger_fn.run.stale_reason`, as the function judges it. Nothing is started or changed. Not
looked at: CodePipeline's execution history; a version that already ran is listed as "would start",
and the function's idempotency token (or its history lookup) makes that start nothing new.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ops.start import CannotStart, deployed_function, settings_of
from trigger_fn.object_versions import CurrentVersion, current_version
from trigger_fn.plan import Ignore, Start, plan
from trigger_fn.retries import AwsCallFailed, RetryPolicy
from trigger_fn.run import stale_reason
from trigger_fn.s3_event import MalformedEventError
from trigger_fn.settings import Settings

# (bucket, key) -> the key's current version; raises AwsCallFailed when S3 cannot say.
CurrentVersionOf = Callable[[str, str], CurrentVersion]

_STALE_LABELS = {"object_deleted": "object deleted", "customer_key_encrypted": "ignored: customer_key_encrypted"}


class PreviewUnavailable(Exception):
    """The function's settings could not be read: no event can be previewed."""


def function_settings(lambda_client: Any, function_name: str) -> Settings:
    """The deployed function's settings, read as `make start` reads them; PreviewUnavailable when invalid."""
    try:
        return settings_of(deployed_function(lambda_client, function_name))
    except CannotStart as error:
        raise PreviewUnavailable(str(error)) from error


def s3_current_versions(s3: Any) -> CurrentVersionOf:
    """HeadObject through the function's own S3 adapter, once per key for a whole listing."""
    seen: dict[tuple[str, str], CurrentVersion] = {}

    def current_version_of(bucket: str, key: str) -> CurrentVersion:
        if (bucket, key) not in seen:
            seen[bucket, key] = current_version(s3, bucket, key, RetryPolicy())
        return seen[bucket, key]

    return current_version_of


def preview(event: Any, settings: Settings, current_version_of: CurrentVersionOf) -> str:
    """One line: "would start P, Q", "superseded (V is current)", "object deleted", "ignored: reason", ..."""
    try:
        decision = plan(event, settings)
    except MalformedEventError as error:
        # The function raises on it again: it comes back to the failed-start queue.
        return f"fails again: {error}"
    if isinstance(decision, Ignore):
        return f"ignored: {decision.reason_code}"
    return _start_preview(decision, settings, current_version_of)


def _start_preview(decision: Start, settings: Settings, current_version_of: CurrentVersionOf) -> str:
    pipelines = [request.pipeline for request in decision.requests]
    if settings.dry_run:
        return f"logs the request for {', '.join(pipelines)} and starts nothing (DRY_RUN=true)"
    if not decision.pinned:
        return f"would start {', '.join(pipelines)} (no version id: the pipeline reads the newest object)"
    guarded = [request.pipeline for request in decision.requests if request.guarded]
    stale = None
    if guarded:
        try:
            current = current_version_of(decision.upload.bucket, decision.upload.key)
        except AwsCallFailed as failure:
            return f"unknown: {failure}"
        stale = stale_reason(decision.upload, current)
    if stale is None:
        return f"would start {', '.join(pipelines)}"
    label = _stale_label(stale, current)
    starting = [pipeline for pipeline in pipelines if pipeline not in guarded]
    # Routes with latestOnly false build every version; the others are withheld, as the function withholds them.
    return f"would start {', '.join(starting)}; {label} for {', '.join(guarded)}" if starting else label


def _stale_label(stale: Ignore, current: CurrentVersion) -> str:
    if stale.reason_code == "superseded":
        return f"superseded ({current.version_id} is current)"
    return _STALE_LABELS.get(stale.reason_code, f"ignored: {stale.reason_code}")
