"""One EventBridge event, start to finish: plan, run, report; the failure that keeps the event is raised.

Every result has one shape (`trigger_fn.outcome.Result.as_dict`): `status` ("started", "dry_run" or
"ignored"); for a start, `versionPinned` and `executions`, each `{"pipelineExecutionId", "request"}` with the
StartPipelineExecution request as sent (plus `"alreadyStarted": true` when an execution of the version was
found and nothing was sent), and `skipped` when a route's start was withheld; for a dry run, `versionPinned`,
`requests` (the requests it would send) and `currentVersionChecked: false`; for an ignored event, `reasonCode`
and `reason`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from trigger_fn.clients import AwsClients
from trigger_fn.plan import Plan, plan
from trigger_fn.report import malformed, report
from trigger_fn.retries import AwsCallFailed
from trigger_fn.run import run
from trigger_fn.s3_event import MalformedEventError
from trigger_fn.settings import Settings


def handle_event(
    event: Any,
    settings: Settings,
    clients: AwsClients,
    remaining_s: Callable[[], float] | None = None,
    now: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """The event's result; raises AwsCallFailed (or MalformedEventError) when it must be kept for another try."""
    answer = report(run(read_plan(event, settings, now()), clients, remaining_s))
    if isinstance(answer, AwsCallFailed):
        raise answer
    return answer.as_dict()


def read_plan(event: Any, settings: Settings, now: float) -> Plan:
    """`plan`, with the log line and metric of a malformed event before MalformedEventError is raised on."""
    try:
        return plan(event, settings, now)
    except MalformedEventError as error:
        # Raised, not swallowed: the caller keeps the event (a batch returns its record to the queue).
        malformed(error.field, error.problem)
        raise
