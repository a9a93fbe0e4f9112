"""A small `make bench-scale`: the handler through both delivery paths, in virtual time, under a harsh CodePipeline.

200 uploads in 10 s over 20 keys, StartPipelineExecution capped at 3/s with conflict bursts, a fifth of the
events reordered, a tenth delivered twice, one in twenty again an hour or two later. Through the queue every
upload must end started, superseded or ignored: nothing lost, nothing doubled, nothing stale, nothing left for a
person. Each run is the same run (one seed), so these are outcomes, not timings.
"""

from __future__ import annotations

import dataclasses

import pytest
from bench.simulation import PathResult, Scenario, ServiceModel, Workload, simulate
from bench.simulation.queued import QueuedConfig

UPLOADS = 200
SCENARIO = Scenario(
    workload=Workload(
        uploads=UPLOADS,
        window_s=10.0,
        keys=20,
        pipelines=10,
        seed=7,
        reordered_share=0.2,
        duplicate_share=0.1,
        late_share=0.05,
        late_delay_s=(3700.0, 7200.0),
    ),
    service=ServiceModel(start_tps=3, conflict_bursts=5),
)


@pytest.fixture(scope="module")
def results() -> dict[str, PathResult]:
    return simulate(SCENARIO)


def test_through_the_queue_every_upload_is_settled_without_a_person(results: dict[str, PathResult]) -> None:
    queued = results["queued"]

    assert queued.lost == 0
    assert queued.outcomes["lost"] == 0
    assert queued.doubled == 0
    assert queued.stale == 0
    assert queued.dead_letters == 0
    assert queued.outcomes["in DLQ"] == 0
    assert queued.settled_without_person_pct == 100.0


def test_the_queued_run_met_the_faults_it_is_meant_to_survive(results: dict[str, PathResult]) -> None:
    queued = results["queued"]

    # Throttled and conflicting starts failed records, which the queue handed over again; late events looked
    # at the execution history; the cap held for what CodePipeline accepted.
    assert queued.starts_throttled > 0
    assert queued.starts_conflict > 0
    assert queued.extra["sqs"]["redelivered"] > 0
    assert queued.list_calls > 0
    assert queued.peak_start_tps_accepted <= SCENARIO.service.start_tps
    # Routes with latestOnly false start every version; the others at least the newest of each key.
    assert queued.outcomes["started"] > 0
    assert queued.outcomes["superseded"] > 0
    assert queued.outcomes["ignored"] > 0


@pytest.mark.parametrize("path", ["direct", "queued"])
def test_every_upload_is_accounted_for(results: dict[str, PathResult], path: str) -> None:
    result = results[path]

    assert sum(result.outcomes.values()) == UPLOADS
    assert result.outcomes["lost"] == 0
    assert result.doubled == 0
    # Every execution the ledger judged is one the uploads asked for.
    refused = result.starts_throttled + result.starts_conflict
    assert result.executions == result.start_calls - refused - result.starts_replayed


def test_the_direct_path_pays_in_invocations_and_attempts(results: dict[str, PathResult]) -> None:
    direct, queued = results["direct"], results["queued"]

    assert direct.lambda_invocations > queued.lambda_invocations
    assert direct.peak_start_tps_attempted > queued.peak_start_tps_attempted


def test_paced_to_the_cap_the_queued_path_never_sends_more_than_it() -> None:
    # GIVEN MaxStartsPerSecond set to what CodePipeline takes (3/s), shared by MaxConcurrency 2 environments
    paced = dataclasses.replace(SCENARIO, queued=QueuedConfig(max_starts_per_s=SCENARIO.service.start_tps))

    queued = simulate(paced, paths=("queued",))["queued"]

    # THEN no second sees more attempts than the cap, so none is throttled, and still nothing is lost or stale
    assert queued.peak_start_tps_attempted <= SCENARIO.service.start_tps
    assert queued.starts_throttled == 0
    assert (queued.lost, queued.doubled, queued.stale, queued.dead_letters) == (0, 0, 0, 0)
