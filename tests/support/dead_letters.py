"""A deployed trigger stack with its three queues on moto (four with a central artifact bucket), and dead letters as
AWS leaves them in each queue."""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

from support.deployed_stack import FUNCTION, FUNCTION_ENV, STACK, create_stack, deploy
from support.events import load_event

# How many times the function fails an event before SQS moves it to the failed-start queue (MaxReceiveCount).
MAX_RECEIVE_COUNT = 3
# A move task's handle as SQS returns it.
HANDLE = "eyJ0YXNrSWQiOiIxMjMifQ=="
RULE_ARN = f"arn:aws:events:eu-west-1:123456789012:rule/{STACK}-TriggerRule"
# A central artifact bucket: its account forwards to the stack's own bus, whose rule has its own dead-letter queue.
SOURCE_ACCOUNT = "444455556666"
CENTRAL_RULE_ARN = f"arn:aws:events:eu-west-1:123456789012:rule/{STACK}-artifacts/{STACK}-CentralBucketObjectCreated"


def event(
    event_id: str, version: str | None = "Kq3Xh.9vRzT2mWb7LdN4pYcF8sEaJ0uG", key: str | None = None
) -> dict[str, Any]:
    built = copy.deepcopy(load_event("put-object.json"))
    built["id"] = event_id
    if version is None:
        del built["detail"]["object"]["version-id"]
    else:
        built["detail"]["object"]["version-id"] = version
    if key is not None:
        built["detail"]["object"]["key"] = key
    return built


def invocation_record(kept: dict[str, Any]) -> dict[str, Any]:
    """What Lambda sent to an on-failure destination (Lambda developer guide, "invocation record")."""
    return {
        "version": "1.0",
        "timestamp": "2026-11-20T14:09:31.042Z",
        "requestContext": {
            "requestId": "e4b46cbf-b738-4a2e-8880-a18cdf61200e",
            "functionArn": f"arn:aws:lambda:eu-west-1:123456789012:function:{FUNCTION}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": kept,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {
            "errorMessage": "StartPipelineExecution(my-website-pipeline) failed with ThrottlingException",
            "errorType": "StartFailed",
        },
    }


def forwarded(event_id: str, version: str | None = "Kq3Xh.9vRzT2mWb7LdN4pYcF8sEaJ0uG") -> dict[str, Any]:
    """An upload's event as the central bus receives it: EventBridge keeps the bucket's account on it."""
    built = event(event_id, version)
    built["account"] = SOURCE_ACCOUNT
    return built


def rule_attributes(code: str = "NO_PERMISSIONS", rule_arn: str = RULE_ARN) -> dict[str, Any]:
    """What EventBridge adds to every message it dead-letters (EventBridge user guide, "dead-letter queues")."""
    return {
        "RULE_ARN": {"DataType": "String", "StringValue": rule_arn},
        "TARGET_ARN": {"DataType": "String", "StringValue": f"arn:aws:sqs:eu-west-1:123456789012:{STACK}-TriggerQueue"},
        "ERROR_CODE": {"DataType": "String", "StringValue": code},
        "ERROR_MESSAGE": {"DataType": "String", "StringValue": "Not authorized to send messages to the queue"},
        "EXHAUSTED_RETRY_CONDITION": {"DataType": "String", "StringValue": "MaximumRetryAttempts"},
    }


class DeadLetterStack:
    """The stack's queues as the template wires them: the trigger queue's failures go to the failed-start queue."""

    def __init__(self, session: boto3.Session, *, trigger_queue: bool = True, central: bool = False) -> None:
        # With SourceBucketAccount the template gives the function the bucket's account (SOURCE_ACCOUNT).
        self.versions = deploy(session, FUNCTION_ENV | ({"SOURCE_ACCOUNT": SOURCE_ACCOUNT} if central else {}))
        self.sqs = session.client("sqs")
        self.rule_dlq = self.sqs.create_queue(QueueName=f"{STACK}-RuleDeadLetterQueue")["QueueUrl"]
        self.central_rule_dlq = (
            self.sqs.create_queue(QueueName=f"{STACK}-CentralRuleDeadLetterQueue")["QueueUrl"] if central else None
        )
        self.failed_start = self.sqs.create_queue(QueueName=f"{STACK}-FailedStartQueue")["QueueUrl"]
        failed_arn = self.arn(self.failed_start)
        policy = {"deadLetterTargetArn": failed_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}
        self.trigger = self.sqs.create_queue(
            QueueName=f"{STACK}-TriggerQueue", Attributes={"RedrivePolicy": json.dumps(policy)}
        )["QueueUrl"]
        outputs = {
            "TriggerFunctionName": FUNCTION,
            "RuleDeadLetterQueueUrl": self.rule_dlq,
            "FailedStartQueueUrl": self.failed_start,
        }
        if trigger_queue:
            outputs["TriggerQueueUrl"] = self.trigger
        if self.central_rule_dlq:
            outputs["CentralRuleDeadLetterQueueUrl"] = self.central_rule_dlq
        cloudformation = session.client("cloudformation")
        cloudformation.delete_stack(StackName=STACK)
        create_stack(session, outputs)

    def arn(self, url: str) -> str:
        return str(self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])

    def undeliverable(self, kept: dict[str, Any]) -> None:
        """EventBridge could not put the event in the trigger queue: the rule DLQ keeps it."""
        self.sqs.send_message(QueueUrl=self.rule_dlq, MessageBody=json.dumps(kept), MessageAttributes=rule_attributes())

    def undeliverable_from_the_central_bus(self, kept: dict[str, Any]) -> None:
        """The central bus rule could not put the forwarded event in the trigger queue: its own DLQ keeps it."""
        assert self.central_rule_dlq, "a stack deployed without SourceBucketAccount has no central rule DLQ"
        self.sqs.send_message(
            QueueUrl=self.central_rule_dlq,
            MessageBody=json.dumps(kept),
            MessageAttributes=rule_attributes("SDK_CLIENT_ERROR", CENTRAL_RULE_ARN),
        )

    def failed_every_receive(self, kept: dict[str, Any]) -> None:
        """The function failed the event at each receive: SQS moves the trigger queue's message itself."""
        self.sqs.send_message(QueueUrl=self.trigger, MessageBody=json.dumps(kept))
        for _ in range(MAX_RECEIVE_COUNT + 1):
            self.sqs.receive_message(QueueUrl=self.trigger, VisibilityTimeout=0)

    def old_invocation_record(self, kept: dict[str, Any]) -> None:
        """What a stack deployed before the trigger queue left in the failed-start queue."""
        self.sqs.send_message(QueueUrl=self.failed_start, MessageBody=json.dumps(invocation_record(kept)))

    def bodies(self, url: str) -> list[str]:
        """Every body in the queue, each message visible again at once."""
        found: dict[str, str] = {}
        for _ in range(10):
            response = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
            messages = response.get("Messages", [])
            if all(message["MessageId"] in found for message in messages):
                break
            found |= {message["MessageId"]: message["Body"] for message in messages}
        return sorted(found.values())


class MoveTasks:
    """SQS's StartMessageMoveTask and ListMessageMoveTasks, which moto does not model: each request kept, answered."""

    def __init__(
        self, session: boto3.Session, tasks: list[dict[str, Any]] | None = None, refusal: str | None = None
    ) -> None:
        self.started: list[dict[str, Any]] = []
        self.listed: list[dict[str, Any]] = []
        self.tasks = tasks or []
        self.refusal = refusal
        for operation, kept in (("StartMessageMoveTask", self.started), ("ListMessageMoveTasks", self.listed)):
            session.events.register(f"provide-client-params.sqs.{operation}", self._keeper(kept))
            session.events.register(f"before-call.sqs.{operation}", self._answer)

    @staticmethod
    def _keeper(kept: list[dict[str, Any]]) -> Any:
        def keep(params: dict[str, Any], **_: Any) -> None:
            kept.append(dict(params))

        return keep

    def _answer(self, model: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        if self.refusal:
            error = {"Error": {"Code": "AWS.SimpleQueueService.UnsupportedOperation", "Message": self.refusal}}
            return AWSResponse(None, 400, {}, None), error | {"ResponseMetadata": {"HTTPStatusCode": 400}}
        body = {"TaskHandle": HANDLE} if model.name == "StartMessageMoveTask" else {"Results": self.tasks}
        return AWSResponse(None, 200, {}, None), body
