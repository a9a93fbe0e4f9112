"""The same upload replayed on moto, whose S3 events carry `version-id`: what the function pins the start to.

`make demo` runs the stack on ministack, whose S3 events never carry a version; this is its last step, so the
first run a newcomer sees ends with the version pin. The path is local.moto_path's: the template's own rule
pattern, the handler called with exactly what the rule delivered, moto's CodePipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from local.moto_path import moto_stack, use_function_environment


@dataclass(frozen=True)
class PinnedStart:
    version_id: str
    event_version_id: str | None
    source_revisions: list[dict[str, Any]]
    pipeline_execution_id: str


def replay_upload(parameters: dict[str, str], key: str, body: bytes) -> PinnedStart:
    """Upload `body` to `key` on moto with this stack's parameters; the function's start for that event."""
    # The function's own JSON lines would interleave with the demo's steps; its decision is in the result.
    use_function_environment(parameters, log_level="WARNING")
    with moto_stack(**parameters) as stack:
        version = stack.upload(key, body)
        (event,) = stack.delivered_events()
        result, _ = stack.run_function(event)
    (started,) = result["executions"]
    return PinnedStart(
        version_id=version,
        event_version_id=event["detail"]["object"].get("version-id"),
        source_revisions=started["request"]["sourceRevisions"],
        pipeline_execution_id=started["pipelineExecutionId"],
    )
