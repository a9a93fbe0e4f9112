"""What running a plan did (Outcome, from `trigger_fn.run`), and the function's answer for one event (Result)."""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

from trigger_fn.plan import Ignore, Start
from trigger_fn.retries import AwsCallFailed
from trigger_fn.start_requests import StartRequest

Status = Literal["started", "dry_run", "ignored"]
StepKind = Literal["started", "already_started", "withheld", "failed"]


class Step(NamedTuple):
    """What came of one request, in the order the requests were made."""

    request: StartRequest
    # The StartPipelineExecution request as sent (or as it would have been).
    params: dict[str, Any]
    kind: StepKind
    execution_id: str | None = None
    failure: AwsCallFailed | None = None
    # A call was made for it (False: withheld, or its current-version check failed, before any CodePipeline call).
    tried: bool = True


class Outcome(NamedTuple):
    plan: Ignore | Start
    steps: tuple[Step, ...] = ()
    # Why latestOnly requests were withheld: the version stopped being the key's current one.
    stale: Ignore | None = None
    current_version_id: str | None = None
    # The failure that keeps the event for another try; None when it is settled.
    failure: AwsCallFailed | None = None


class Result(NamedTuple):
    """The function's answer for one settled event; `as_dict()` is the shape the README documents."""

    status: Status
    version_pinned: bool = False
    executions: tuple[dict[str, Any], ...] = ()
    # A dry run's requests, as they would be sent.
    requests: tuple[dict[str, Any], ...] = ()
    reason_code: str = ""
    reason: str = ""
    skipped: tuple[dict[str, str], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        if self.status == "ignored":
            return {"status": self.status, "reasonCode": self.reason_code, "reason": self.reason}
        if self.status == "dry_run":
            return {
                "status": self.status,
                "versionPinned": self.version_pinned,
                "requests": list(self.requests),
                "currentVersionChecked": False,
            }
        answer: dict[str, Any] = {
            "status": self.status,
            "versionPinned": self.version_pinned,
            "executions": list(self.executions),
        }
        if self.skipped:
            answer["skipped"] = list(self.skipped)
        return answer
