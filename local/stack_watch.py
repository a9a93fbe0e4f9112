"""What a user does to the deployed local stack and sees of it: uploads, the events they caused, the function's
log lines and metrics, the pipeline's executions.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from local.stack_deploy import DeployedStack


@dataclass
class Execution:
    execution_id: str
    status: str
    trigger: str
    start_time: datetime


class LocalStack(DeployedStack):
    """The deployed stack with what a user would do to it: upload, then see what the upload caused."""

    def executions(self) -> list[Execution]:
        summaries = self.client("codepipeline", on_moto=True).list_pipeline_executions(
            pipelineName=self.config.pipeline_name
        )["pipelineExecutionSummaries"]
        return [
            Execution(
                execution_id=summary["pipelineExecutionId"],
                status=summary["status"],
                trigger=summary.get("trigger", {}).get("triggerType", ""),
                start_time=summary["startTime"],
            )
            for summary in summaries
        ]

    def wait_for_new_execution(self, known: set[str], timeout_s: float = 30.0) -> Execution | None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for execution in self.executions():
                if execution.execution_id not in known:
                    return execution
            time.sleep(0.05)
        return None

    def upload(self, key: str, body: bytes) -> str | None:
        """put_object exactly as a user would; returns the new version id."""
        response = self.client("s3").put_object(Bucket=self.outputs["SourceBucket"], Key=key, Body=body)
        version: str | None = response.get("VersionId")
        return version

    def watch_bucket_events(self) -> BucketEventWatcher:
        """A second rule that copies every Object Created event of the bucket to a queue, to see what was sent."""
        return BucketEventWatcher.create(self.client("events"), self.client("sqs"), self.outputs["SourceBucket"])

    def function_records(self) -> list[dict[str, Any]]:
        """Every JSON line the function printed (Powertools logs and EMF metrics), oldest first."""
        logs = self.client("logs")
        records: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"logGroupName": self.log_group}
        while True:
            try:
                page = logs.filter_log_events(**kwargs)
            except logs.exceptions.ResourceNotFoundException:
                return records
            for event in page["events"]:
                message = event["message"].strip()
                if message.startswith("{"):
                    with suppress(json.JSONDecodeError):
                        records.append(json.loads(message))
            if not page.get("nextToken"):
                return records
            kwargs["nextToken"] = page["nextToken"]

    def invocations(self) -> set[str]:
        """Request ids of the function's invocations so far (each logs Powertools lines carrying it)."""
        return {record["function_request_id"] for record in self.function_records() if "function_request_id" in record}

    def wait_for_record(
        self, matches: Callable[[dict[str, Any]], bool], timeout_s: float = 15.0
    ) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for record in self.function_records():
                if matches(record):
                    return record
            time.sleep(0.1)
        return None


@dataclass
class BucketEventWatcher:
    sqs: Any
    queue_url: str
    # Every event received so far, whichever key it was waited for.
    seen: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def create(cls, events: Any, sqs: Any, bucket: str) -> BucketEventWatcher:
        queue_url = sqs.create_queue(QueueName="local-demo-bucket-events")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        pattern = {"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": {"bucket": {"name": [bucket]}}}
        events.put_rule(Name="local-demo-watch-bucket", EventPattern=json.dumps(pattern))
        events.put_targets(Rule="local-demo-watch-bucket", Targets=[{"Id": "queue", "Arn": queue_arn}])
        return cls(sqs=sqs, queue_url=queue_url)

    def wait_for_event(self, key: str, timeout_s: float = 15.0) -> dict[str, Any] | None:
        """The Object Created event EventBridge delivered for this key, or None."""
        deadline = time.monotonic() + timeout_s
        while True:
            for event in self.seen:
                if event.get("detail", {}).get("object", {}).get("key") == key:
                    return event
            if time.monotonic() >= deadline:
                return None
            messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for message in messages.get("Messages", []):
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                self.seen.append(json.loads(message["Body"]))
