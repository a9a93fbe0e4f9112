"""`make bench-scale`: DIRECT (Lambda async) against QUEUED (SQS + event source mapping), in virtual time.

Prints the two paths side by side and writes the figures to .local/bench/scale.json. Every run with the same
flags gives the same figures (one seed draws the uploads, deliveries, faults and backoff jitter).
`make bench-scale ARGS="--uploads 2000 --start-tps 5"` changes the workload or the model.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.simulation import DirectConfig, PathResult, QueuedConfig, Scenario, ServiceModel, Workload, prices, simulate

REPO = Path(__file__).resolve().parent.parent
OUTPUT = REPO / ".local" / "bench" / "scale.json"


def parser() -> argparse.ArgumentParser:
    workload, service, direct, queued = Workload(), ServiceModel(), DirectConfig(), QueuedConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=workload.uploads)
    parser.add_argument("--window", type=float, default=workload.window_s, help="seconds the uploads arrive in")
    parser.add_argument("--keys", type=int, default=workload.keys)
    parser.add_argument("--pipelines", type=int, default=workload.pipelines)
    parser.add_argument("--seed", type=int, default=workload.seed)
    parser.add_argument("--start-tps", type=int, default=service.start_tps, help="StartPipelineExecution calls/s")
    parser.add_argument("--conflict-bursts", type=int, default=service.conflict_bursts)
    parser.add_argument("--account-concurrency", type=int, default=direct.account_concurrency)
    parser.add_argument("--max-concurrency", type=int, default=queued.maximum_concurrency)
    parser.add_argument(
        "--max-starts-per-second", type=float, default=queued.max_starts_per_s, help="the template's MaxStartsPerSecond"
    )
    parser.add_argument("--max-receive-count", type=int, default=queued.max_receive_count)
    parser.add_argument("--visibility-timeout", type=float, default=queued.visibility_timeout_s)
    parser.add_argument("--paths", nargs="+", choices=("direct", "queued"), default=["direct", "queued"])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    return parser


def scenario(args: argparse.Namespace) -> Scenario:
    return Scenario(
        workload=Workload(
            uploads=args.uploads, window_s=args.window, keys=args.keys, pipelines=args.pipelines, seed=args.seed
        ),
        service=ServiceModel(start_tps=args.start_tps, conflict_bursts=args.conflict_bursts),
        direct=DirectConfig(account_concurrency=args.account_concurrency),
        queued=QueuedConfig(
            maximum_concurrency=args.max_concurrency,
            max_receive_count=args.max_receive_count,
            max_starts_per_s=args.max_starts_per_second,
            visibility_timeout_s=args.visibility_timeout,
        ),
    )


def table(results: dict[str, PathResult], chosen: Scenario) -> str:
    names = list(results)
    cap = chosen.service.start_tps

    def row(label: str, value: Any) -> str:
        return f"| {label} | " + " | ".join(str(value(results[name])) for name in names) + " |"

    rows = [
        "| | " + " | ".join(names) + " |",
        "|---" + "|---:" * len(names) + "|",
        row(
            "uploads: started / superseded / ignored / in a DLQ / lost",
            lambda r: " / ".join(f"{r.outcomes[o]:,}" for o in ("started", "superseded", "ignored", "in DLQ", "lost")),
        ),
        row("lost (owed a start, none made, in no DLQ)", lambda r: r.lost),
        row("doubled (a version started twice on a pipeline)", lambda r: r.doubled),
        row(
            "stale: older after newer / started unchecked",
            lambda r: f"{r.stale} ({r.stale_order} / {r.stale_unchecked})",
        ),
        row("raced (checked current, newer upload within the round trip)", lambda r: r.raced),
        row("settled without a person (no delivery in a DLQ)", lambda r: f"{r.settled_without_person_pct:.2f} %"),
        row("messages in the dead-letter queue", lambda r: f"{r.dead_letters:,}"),
        row("time to drain (last upload-window delivery settled)", lambda r: f"{r.drain_s:,.0f} s"),
        row(
            f"peak StartPipelineExecution/s attempted / accepted (cap {cap})",
            lambda r: f"{r.peak_start_tps_attempted} / {r.peak_start_tps_accepted}",
        ),
        row(
            "StartPipelineExecution calls (throttled, conflict) -> executions",
            lambda r: f"{r.start_calls:,} ({r.starts_throttled:,}, {r.starts_conflict:,}) -> {r.executions:,}",
        ),
        row("HeadObject / ListPipelineExecutions calls", lambda r: f"{r.head_calls:,} / {r.list_calls:,}"),
        row(
            "Lambda invocations (errors), cold starts, peak concurrency",
            lambda r: f"{r.lambda_invocations:,} ({r.lambda_errors:,}), {r.cold_starts}, {r.peak_concurrency}",
        ),
        row(f"Lambda GB-s ({chosen.service.memory_mb} MB, arm64)", lambda r: f"{r.gb_s:,.1f}"),
        row("SQS requests (incl. empty receives)", lambda r: f"{r.sqs_requests:,}"),
        row(
            "cost per million uploads: Lambda + SQS + EventBridge",
            lambda r: (
                f"${r.cost_per_million:.2f} = {r.cost_parts['lambda']:.2f} + {r.cost_parts['sqs']:.2f} + "
                f"{r.cost_parts['eventbridge']:.2f}"
            ),
        ),
    ]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    chosen = scenario(args)
    began = time.monotonic()
    results = simulate(chosen, tuple(args.paths))
    elapsed = time.monotonic() - began
    w = chosen.workload
    print(
        f"{w.uploads:,} uploads in {w.window_s:g} s over {w.keys} keys and {w.pipelines} pipelines, seed {w.seed}; "
        f"StartPipelineExecution capped at {chosen.service.start_tps}/s, {chosen.service.conflict_bursts} conflict "
        f"bursts; queued: MaximumConcurrency {chosen.queued.maximum_concurrency}, maxReceiveCount "
        f"{chosen.queued.max_receive_count}, visibility {chosen.queued.visibility_timeout_s:g} s"
    )
    print(table(results, chosen))
    print(f"Prices: {prices.REGION}, read {prices.PRICES_READ}. Simulated in {elapsed:.1f} s.")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "scenario": asdict(chosen),
        "prices": {
            "region": prices.REGION,
            "read": prices.PRICES_READ,
            "lambda_per_request": prices.LAMBDA_PER_REQUEST,
            "lambda_arm_per_gb_s": prices.LAMBDA_ARM_PER_GB_S,
            "sqs_standard_per_request": prices.SQS_STANDARD_PER_REQUEST,
            "eventbridge_aws_service_event": prices.EVENTBRIDGE_AWS_SERVICE_EVENT,
        },
        "results": {name: asdict(result) for name, result in results.items()},
    }
    args.output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"Wrote {args.output.relative_to(REPO) if args.output.is_relative_to(REPO) else args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
