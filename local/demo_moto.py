"""`make demo-moto`: the whole native path in one process on moto, printed step by step (no emulator to start)."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from local.emf import emf_metrics
from local.moto_path import moto_stack, use_function_environment
from local.sample_site import zip_site

PARAMETERS = {
    "SourceBucketName": "my-artifact-bucket",
    "PipelineName": "my-website-pipeline",
    "ObjectKey": "my-website.zip",
}


def step(number: int, text: str, **facts: Any) -> None:
    print(f"[{number}] {text}")
    for name, value in facts.items():
        print(f"      {name}: {value}")


def _metric_lines(printed: str) -> list[str]:
    """EMF records the function printed, as `Name=value (dimensions)`."""
    records = [json.loads(line) for line in printed.splitlines() if line.startswith("{")]
    found = []
    for name, dimensions, value in emf_metrics(records):
        shown = ",".join(f"{d}={v}" for d, v in dimensions.items() if d != "service")
        found.append(f"{name}={value:g}" + (f" ({shown})" if shown else ""))
    return found


def main() -> int:
    # The function's JSON logs would interleave with the story; keep only warnings and errors.
    use_function_environment(PARAMETERS, log_level="WARNING")

    with moto_stack(**PARAMETERS) as stack:
        step(1, "Bucket with versioning and EventBridge notifications (moto)", bucket=stack.bucket)
        step(
            2,
            "EventBridge rule with the template's own pattern, delivering to an SQS tap",
            pattern=json.dumps(stack.rule_pattern),
        )
        step(3, "V2 pipeline with an S3 source on that key", pipeline=PARAMETERS["PipelineName"])

        body, _ = zip_site()
        uploaded_at = time.perf_counter()
        version = stack.upload("my-website.zip", body)
        step(4, f"Uploaded my-website.zip ({len(body)} bytes)", version_id=version)

        (event,) = stack.delivered_events()
        step(
            5,
            "EventBridge delivered",
            detail_type=event["detail-type"],
            key=event["detail"]["object"]["key"],
            version_id=event["detail"]["object"].get("version-id"),
        )

        result, printed = stack.run_function(event)
        (started,) = result["executions"]
        step(
            6,
            f"Function decided: {result['status']}",
            sourceRevisions=json.dumps(started["request"]["sourceRevisions"]),
            clientRequestToken=started["request"]["clientRequestToken"],
            metrics=", ".join(_metric_lines(printed)),
        )

        execution = stack.codepipeline.get_pipeline_execution(
            pipelineName=PARAMETERS["PipelineName"], pipelineExecutionId=started["pipelineExecutionId"]
        )["pipelineExecution"]
        elapsed_ms = (time.perf_counter() - uploaded_at) * 1000
        step(
            7,
            "Pipeline execution started",
            pipelineExecutionId=execution["pipelineExecutionId"],
            status=execution["status"],
            trigger=execution["trigger"]["triggerType"],
            upload_to_start=f"{elapsed_ms:.0f} ms",
        )

        stack.upload("docs/readme.txt", b"not a release")
        delivered = stack.delivered_events()
        step(
            8,
            "Uploaded docs/readme.txt: the rule does not match, nothing is delivered",
            events_delivered=len(delivered),
        )
        if (
            delivered
            or result["status"] != "started"
            or started["request"]["sourceRevisions"][0]["revisionValue"] != version
        ):
            print("Demo failed: the path did not behave as described above.", file=sys.stderr)
            return 1
    print(f"\nStarted execution {execution['pipelineExecutionId']} on version {version}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
