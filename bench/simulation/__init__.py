"""`make bench-scale`: the function at scale, DIRECT (Lambda async) against QUEUED (SQS + event source mapping).

A deterministic discrete-event simulation in virtual time: the same seeded uploads and deliveries go down both
paths, the real handler runs on the shared CodePipeline and S3 models (local/aws_models), and the ledger reads
the outcome from the models. docs/performance.md ("Scale: direct vs queued") says what is and is not modelled.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field

from bench.simulation.direct import DirectConfig, DirectPath
from bench.simulation.kernel import Kernel
from bench.simulation.ledger import PathResult, judge
from bench.simulation.queued import QueuedConfig, QueuedPath
from bench.simulation.services import ServiceModel, World, function_in_virtual_time
from bench.simulation.workload import BUCKET, EPOCH, Plan, Workload, plan

__all__ = ["DirectConfig", "PathResult", "QueuedConfig", "Scenario", "ServiceModel", "Workload", "simulate"]

# What the handler module reads at import; the run then hands it the scenario's own settings.
_FUNCTION_ENVIRONMENT = {
    "SOURCE_BUCKET": BUCKET,
    "ROUTES": '[{"key":"*.zip","pipeline":"pipeline-00"}]',
    "POWERTOOLS_SERVICE_NAME": "s3-pipeline-trigger",
    "POWERTOOLS_METRICS_NAMESPACE": "S3PipelineTrigger",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@dataclass(frozen=True)
class Scenario:
    workload: Workload = field(default_factory=Workload)
    service: ServiceModel = field(default_factory=ServiceModel)
    direct: DirectConfig = field(default_factory=DirectConfig)
    queued: QueuedConfig = field(default_factory=QueuedConfig)


def simulate(scenario: Scenario, paths: tuple[str, ...] = ("direct", "queued")) -> dict[str, PathResult]:
    for name, value in _FUNCTION_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    uploads = plan(scenario.workload)
    return {name: _run(name, scenario, uploads) for name in paths}


def _run(name: str, scenario: Scenario, uploads: Plan) -> PathResult:
    kernel = Kernel(EPOCH)
    span = (EPOCH, scenario.workload.window_s)
    world = World.build(kernel, scenario.service, uploads.settings, scenario.workload.seed, span)
    for upload in uploads.uploads:
        kernel.at(upload.at, functools.partial(_put, world, upload.key, upload.version_id))
    path: DirectPath | QueuedPath
    if name == "direct":
        path = DirectPath(world, scenario.direct)
    else:
        path = QueuedPath(world, scenario.queued)
        path.unsent = len(uploads.deliveries)
        path.start_pollers(EPOCH)
    for delivery in uploads.deliveries:
        kernel.at(delivery.at, functools.partial(path.deliver, delivery))
    with function_in_virtual_time(kernel, uploads.settings):
        kernel.run()
    if isinstance(path, DirectPath):
        dead = [delivery for delivery, _ in path.failed]
        sqs_requests = len(dead)  # the on-failure destination's SendMessage
    else:
        dead = [message.delivery for message in path.queue.dead_letters]
        sqs_requests = path.queue.requests.total
    result = judge(
        name,
        uploads,
        world,
        path.invocations,
        dead=dead,
        settled_at=path.settled_at,
        sqs_requests=sqs_requests,
    )
    result.extra = {
        "conflict_answers": world.bursts.answered,
        "lambda_throttled": path.throttled if isinstance(path, DirectPath) else 0,
        "sqs": vars(path.queue.requests) if isinstance(path, QueuedPath) else {},
        "virtual_end_s": round(kernel.now() - EPOCH, 1),
    }
    return result


def _put(world: World, key: str, version_id: str) -> None:
    world.s3.put(BUCKET, key, version_id=version_id)
