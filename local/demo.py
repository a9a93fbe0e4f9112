"""`make demo`: the real template, deployed by `sam deploy` to local emulators, triggered by a real upload.

Upload -> S3 EventBridge notification -> rule -> trigger queue (SQS) -> the deployed function, in a batch ->
StartPipelineExecution (moto),
then the function's own log line and metrics read back from the emulator's CloudWatch Logs. ministack's S3
events carry no version-id, so the last step replays the same upload on moto, whose events do: the version pin.
Nothing is left running: the emulators are stopped on success, failure and Ctrl-C.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local.emf import emf_metrics
from local.emulators import (
    DEFAULT_MINISTACK_PORT,
    DEFAULT_MOTO_PORT,
    LOCAL_DIR,
    LocalStackError,
    PrerequisiteError,
    require_free_ports,
    require_ministack_venv,
    running_emulators,
)
from local.pin_replay import replay_upload
from local.sample_site import zip_site
from local.stack_deploy import CODEPIPELINE_ENDPOINT_VARIABLE, load_local_config
from local.stack_watch import LocalStack

# Any upload whose key the rule must not match.
IGNORED_KEY = "notes/readme.txt"
# How long to keep watching after EventBridge delivered the ignored event, in case the function runs late.
IGNORED_GRACE_S = 3.0
_STEPS = 9


class Steps:
    """Numbered steps with their duration, printed as they finish."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.number = 0
        self._step_started = self.started

    def begin(self) -> None:
        self._step_started = time.monotonic()

    def done(self, title: str, *details: str) -> None:
        self.number += 1
        elapsed = time.monotonic() - self._step_started
        print(f"[{self.number}/{_STEPS}] {title:<62} {elapsed:6.1f} s", flush=True)
        for line in details:
            print(f"      {line}", flush=True)
        self._step_started = time.monotonic()


def main() -> int:
    try:
        return run_demo()
    except PrerequisiteError as error:
        print(f"\n{error}", file=sys.stderr)
        return 2
    except LocalStackError as error:
        print(f"\nDemo failed: {error}\nEmulators stopped; their logs are in .local/demo-logs/.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nInterrupted; emulators stopped.", file=sys.stderr)
        return 130


def run_demo() -> int:
    config = load_local_config()
    require_ministack_venv()
    require_free_ports(DEFAULT_MINISTACK_PORT, DEFAULT_MOTO_PORT)
    print("S3 Pipeline Trigger: local demo on ministack + moto (no AWS account, nothing leaves 127.0.0.1)\n")
    steps = Steps()
    workdir = Path(tempfile.mkdtemp(prefix="s3-pipeline-trigger-demo-"))
    try:
        with running_emulators(DEFAULT_MINISTACK_PORT, DEFAULT_MOTO_PORT, config.region, workdir) as emulators:
            steps.done(
                "Emulators up",
                f"ministack {emulators.ministack.url}  S3, EventBridge, Lambda, CloudFormation, IAM, SQS, Logs",
                f"moto      {emulators.moto.url}  CodePipeline",
            )
            stack = LocalStack(config=config, emulators=emulators)
            _deploy(stack, steps)
            _run_scenario(stack, steps)
    except BaseException:
        _keep_logs(workdir)
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    steps.begin()
    _replay_with_version(config.parameters, config.object_key, steps)
    print(f"\nDone in {time.monotonic() - steps.started:.1f} s. Emulators stopped; nothing left running.")
    return 0


def _keep_logs(workdir: Path) -> None:
    # The work dir goes away; the emulators' logs are what explains a failure.
    kept = LOCAL_DIR / "demo-logs"
    kept.mkdir(parents=True, exist_ok=True)
    for log in workdir.glob("*.log"):
        shutil.copy2(log, kept / log.name)


def _deploy(stack: LocalStack, steps: Steps) -> None:
    commands: list[str] = []
    stack.deploy(on_step=commands.append)
    # Both SAM commands are timed as one step; show them so anyone can run them again by hand.
    steps.done(
        "sam build + sam deploy, --config-env local",
        *(f"$ {command}" for command in commands),
        f"stack {stack.config.stack_name}: {stack.outputs['StackStatus']}",
        f"SourceBucket         {stack.outputs['SourceBucket']}",
        f"TriggerFunctionName  {stack.outputs['TriggerFunctionName']}",
        f"TriggerRuleName      {stack.outputs['TriggerRuleName']}",
        f"TriggerQueueUrl      {stack.outputs['TriggerQueueUrl']}",
        "the rule sends each event to the trigger queue; the queue hands the function batches (event source mapping)",
        f"the function's CodePipeline calls go to moto: {CODEPIPELINE_ENDPOINT_VARIABLE} set on it after the deploy",
    )
    stack.create_pipeline()
    steps.done(
        f"Pipeline {stack.config.pipeline_name} created in moto",
        f"V2, S3 source s3://{stack.outputs['SourceBucket']}/{stack.config.object_key}, PollForSourceChanges false",
    )


def _run_scenario(stack: LocalStack, steps: Steps) -> None:
    watcher = stack.watch_bucket_events()
    body, file_count = zip_site()
    sent_at = datetime.now(UTC)
    version = stack.upload(stack.config.object_key, body)
    steps.done(
        f"Uploaded {stack.config.object_key} ({len(body)} bytes, {file_count} files from local/site)",
        f"s3://{stack.outputs['SourceBucket']}/{stack.config.object_key}  version {version}",
    )

    execution = stack.wait_for_new_execution(known=set())
    if execution is None:
        raise LocalStackError("no pipeline execution appeared within 30 s of the upload; see the function's logs above")
    started = stack.wait_for_record(lambda record: record.get("message") == "Started pipeline execution")
    if started is None:
        raise LocalStackError(f"the function's 'Started pipeline execution' line never reached {stack.log_group}")
    records = stack.function_records()
    event = watcher.wait_for_event(stack.config.object_key)
    steps.done(
        "The function's decision, read back from CloudWatch Logs",
        f"log group {stack.log_group}",
        *_decision_lines(records, started),
    )
    print(_version_note(event, started), flush=True)

    latency = (execution.start_time - sent_at).total_seconds()
    steps.done(
        "Pipeline execution, from moto",
        f"id       {execution.execution_id}",
        f"status   {execution.status}  (moto records executions; it does not run their stages)",
        f"trigger  {execution.trigger}",
        f"upload -> execution started: {latency:.2f} s",
    )

    steps.done("Metrics the function emitted (EMF lines in its log)", *_metrics_table(records))

    known = {execution.execution_id for execution in stack.executions()}
    invocations_before = stack.invocations()
    stack.upload(IGNORED_KEY, b"not a release\n")
    ignored_event = watcher.wait_for_event(IGNORED_KEY)
    if ignored_event is None:
        raise LocalStackError(f"EventBridge never delivered the event for {IGNORED_KEY} to the watcher rule")
    late = stack.wait_for_new_execution(known, timeout_s=IGNORED_GRACE_S)
    if late is not None or stack.invocations() != invocations_before:
        raise LocalStackError(f"the upload to {IGNORED_KEY} started execution {late} or ran the function")
    steps.done(
        f"Upload to a non-matching key: {IGNORED_KEY}",
        "EventBridge delivered its Object Created event (a watcher rule saw it), but the trigger rule",
        f"matches only {stack.config.object_key}: function not invoked, still {len(known)} execution(s). Ignored.",
    )


def _replay_with_version(parameters: dict[str, str], key: str, steps: Steps) -> None:
    body, _ = zip_site()
    pinned = replay_upload(parameters, key, body)
    if pinned.event_version_id != pinned.version_id or pinned.source_revisions[:1] != [
        {"actionName": "Source", "revisionType": "S3_OBJECT_VERSION_ID", "revisionValue": pinned.version_id}
    ]:
        raise LocalStackError(f"the replay on moto did not pin the start to version {pinned.version_id}: {pinned}")
    steps.done(
        "The version pin: the same upload replayed on moto",
        "moto's S3 events carry version-id, as AWS's do (ministack's do not, step 5)",
        f"upload  {key}  version {pinned.version_id}",
        f"event   detail.object.version-id {pinned.event_version_id}",
        f"start   sourceRevisions {json.dumps(pinned.source_revisions)}",
        f"        pipelineExecutionId {pinned.pipeline_execution_id} (moto)",
    )


def _decision_lines(records: list[dict[str, Any]], started: dict[str, Any]) -> list[str]:
    lines = []
    for record in records:
        if "message" not in record or record.get("function_request_id") != started.get("function_request_id"):
            continue
        lines.append(f"{record['level']:<8} {record['message']}")
    lines.append("The 'Started' line as logged (Powertools JSON):")
    shown = (
        "level",
        "message",
        "cold_start",
        "function_name",
        "key",
        "version_id",
        "pipelineExecutionId",
        "request",
        "correlation_id",
    )
    lines.extend(f"  {name}: {started[name]}" for name in shown if name in started)
    settled = [r for r in records if r.get("message") == "Batch record settled" and r.get("outcome") == "started"]
    if settled:
        lines.append(f"It came through the trigger queue: SQS message {settled[-1]['message_id']}, settled 'started'.")
    return lines


def _version_note(event: dict[str, Any] | None, started: dict[str, Any]) -> str:
    detail_object = event["detail"]["object"] if event else {}
    if "version-id" in detail_object:
        return f"      The event carried version-id {detail_object['version-id']}: the start is pinned to it."
    fields = ", ".join(sorted(detail_object)) or "no object fields"
    return (
        f"      NOTE  Version pin skipped here. ministack's S3 event has {fields} but no version-id\n"
        "            (it puts versions only into classic S3 notifications), so the function logged the warning\n"
        f"            above and started the pipeline unpinned (versionPinned false, sourceRevisions "
        f"{started.get('request', {}).get('sourceRevisions')}).\n"
        "            On AWS the event carries version-id and the start is pinned to it: step 9 shows it on moto."
    )


def _metrics_table(records: list[dict[str, Any]]) -> list[str]:
    rows = [
        (name, ", ".join(f"{k}={v}" for k, v in sorted(dims.items())), value)
        for name, dims, value in emf_metrics(records)
    ]
    width = max(len(row[0]) for row in rows) if rows else 6
    lines = [f"{'metric':<{width}}  value  dimensions"]
    lines.extend(f"{name:<{width}}  {value:5g}  {dims}" for name, dims, value in rows)
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
