"""`make redrive`: both dead-letter shapes read, the function invoked synchronously, only handled messages deleted."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

from ops import redrive
from ops import stack as deployed_stack
from ops.redrive import InvokeResult, QueueSource
from support.events import load_event

REGION = "eu-west-1"
FUNCTION = "s3-pipeline-trigger-TriggerFunction-abc"
RULE_ARN = "arn:aws:events:eu-west-1:123456789012:rule/s3-pipeline-trigger-TriggerFunctionObjectCreated"


def _event(event_id: str, version: str = "Kq3Xh.9vRzT2mWb7LdN4pYcF8sEaJ0uG") -> dict[str, Any]:
    event = copy.deepcopy(load_event("put-object.json"))
    event["id"] = event_id
    event["detail"]["object"]["version-id"] = version
    return event


def _invocation_record(event: dict[str, Any]) -> dict[str, Any]:
    # The shape Lambda sends to an on-failure destination (Lambda developer guide, "invocation record").
    return {
        "version": "1.0",
        "timestamp": "2026-11-20T14:09:31.042Z",
        "requestContext": {
            "requestId": "e4b46cbf-b738-4a2e-8880-a18cdf61200e",
            "functionArn": f"arn:aws:lambda:eu-west-1:123456789012:function:{FUNCTION}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {
            "errorMessage": "StartPipelineExecution(my-website-pipeline) failed with ThrottlingException",
            "errorType": "StartFailed",
        },
    }


def _rule_attributes(code: str = "SDK_CLIENT_ERROR") -> dict[str, Any]:
    # EventBridge adds these to every message it dead-letters (EventBridge user guide, "dead-letter queues").
    return {
        "RULE_ARN": {"DataType": "String", "StringValue": RULE_ARN},
        "TARGET_ARN": {
            "DataType": "String",
            "StringValue": f"arn:aws:lambda:eu-west-1:123456789012:function:{FUNCTION}",
        },
        "ERROR_CODE": {"DataType": "String", "StringValue": code},
        "ERROR_MESSAGE": {"DataType": "String", "StringValue": "Lambda returned 429 Rate Exceeded"},
        "EXHAUSTED_RETRY_CONDITION": {"DataType": "String", "StringValue": "MaximumRetryAttempts"},
        "RETRY_ATTEMPTS": {"DataType": "String", "StringValue": "24"},
    }


class RecordingInvoker:
    """Stands in for Lambda's Invoke: answers per event id, keeps every call."""

    def __init__(self, answers: dict[str, InvokeResult]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, function_name: str, event: dict[str, Any]) -> InvokeResult:
        self.calls.append((function_name, event))
        return self.answers[event["id"]]


STARTED = InvokeResult(
    None,
    {
        "status": "started",
        "versionPinned": True,
        "executions": [{"pipelineExecutionId": "e-1", "request": {"name": "my-website-pipeline"}}],
    },
)
SUPERSEDED = InvokeResult(None, {"status": "ignored", "reasonCode": "superseded", "reason": "v1 was replaced by v2"})
ALREADY_STARTED = InvokeResult(
    None,
    {
        "status": "started",
        "versionPinned": True,
        "executions": [
            {"pipelineExecutionId": "e-0", "request": {"name": "deploy"}, "alreadyStarted": True},
            {"pipelineExecutionId": "e-9", "request": {"name": "archive"}},
        ],
        "skipped": [{"pipeline": "site", "reasonCode": "superseded", "reason": "..."}],
    },
)
IGNORED = InvokeResult(None, {"status": "ignored", "reasonCode": "no_matching_route", "reason": "..."})
FAILED = InvokeResult("Unhandled", {"errorType": "StartFailed", "errorMessage": "ThrottlingException"})
DRY_RUN = InvokeResult(None, {"status": "dry_run", "requests": []})


@pytest.fixture
def sqs() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


@pytest.fixture
def queues(sqs: Any) -> list[QueueSource]:
    return [
        QueueSource(redrive.RULE_DLQ, sqs.create_queue(QueueName="rule-dlq")["QueueUrl"]),
        QueueSource(redrive.FAILED_START, sqs.create_queue(QueueName="failed-start")["QueueUrl"]),
    ]


def _send_rule_dlq(sqs: Any, queue: QueueSource, event: dict[str, Any]) -> None:
    sqs.send_message(QueueUrl=queue.url, MessageBody=json.dumps(event), MessageAttributes=_rule_attributes())


def _send_failed_start(sqs: Any, queue: QueueSource, event: dict[str, Any]) -> None:
    sqs.send_message(QueueUrl=queue.url, MessageBody=json.dumps(_invocation_record(event)))


def _bodies(sqs: Any, queue: QueueSource) -> list[str]:
    messages = sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
    return sorted(message["Body"] for message in messages)


def _run(sqs: Any, queues: list[QueueSource], invoker: RecordingInvoker, *, apply: bool) -> redrive.RedriveReport:
    return redrive.redrive(sqs, queues, FUNCTION, invoker, apply=apply, wait_s=0)


def test_reads_the_event_out_of_both_message_shapes() -> None:
    event = _event("e-1")

    from_rule = redrive.read_dead_letter(json.dumps(event), _rule_attributes("SDK_CLIENT_ERROR"))
    from_lambda = redrive.read_dead_letter(json.dumps(_invocation_record(event)))

    assert (from_rule.shape, from_rule.event) == ("eventbridge-event", event)
    assert from_rule.previous_error == "SDK_CLIENT_ERROR Lambda returned 429 Rate Exceeded"
    assert (from_lambda.shape, from_lambda.event) == ("invocation-record", event)
    assert from_lambda.previous_error.startswith("RetriesExhausted StartFailed: StartPipelineExecution")


@pytest.mark.parametrize(
    "body",
    ["not json", "[1, 2]", json.dumps({"hello": "world"}), json.dumps({"requestContext": {}, "requestPayload": "x"})],
    ids=["not-json", "json-list", "other-object", "record-without-event"],
)
def test_other_shapes_carry_no_event(body: str) -> None:
    letter = redrive.read_dead_letter(body)

    assert letter.shape == "unknown"
    assert letter.event is None


def test_dry_run_invokes_and_deletes_nothing_and_leaves_every_message_visible(
    sqs: Any, queues: list[QueueSource]
) -> None:
    # GIVEN one event in each queue and a message of neither shape
    rule_dlq, failed_start = queues
    _send_rule_dlq(sqs, rule_dlq, _event("e-1"))
    _send_failed_start(sqs, failed_start, _event("e-2"))
    sqs.send_message(QueueUrl=failed_start.url, MessageBody="garbage")
    before = {queue.name: _bodies(sqs, queue) for queue in queues}
    invoker = RecordingInvoker({})

    # WHEN
    report = _run(sqs, queues, invoker, apply=False)

    # THEN nothing was invoked, every message is still there and visible for the next run
    assert invoker.calls == []
    assert [(o.queue, o.letter.shape, o.action) for o in report.outcomes] == [
        ("rule-dlq", "eventbridge-event", "would redrive"),
        ("failed-start", "invocation-record", "would redrive"),
        ("failed-start", "unknown", "kept"),
    ]
    assert {queue.name: _bodies(sqs, queue) for queue in queues} == before


def test_apply_deletes_only_what_the_function_handled(sqs: Any, queues: list[QueueSource]) -> None:
    # GIVEN five events across both queues, answered differently by the function, and one unreadable message
    rule_dlq, failed_start = queues
    _send_rule_dlq(sqs, rule_dlq, _event("started-1"))
    _send_rule_dlq(sqs, rule_dlq, _event("fails-1", version="v2"))
    _send_failed_start(sqs, failed_start, _event("ignored-1", version="v3"))
    _send_failed_start(sqs, failed_start, _event("fails-2", version="v4"))
    _send_failed_start(sqs, failed_start, _event("dry-1", version="v5"))
    sqs.send_message(QueueUrl=failed_start.url, MessageBody=json.dumps({"unexpected": True}))
    invoker = RecordingInvoker(
        {"started-1": STARTED, "fails-1": FAILED, "ignored-1": IGNORED, "fails-2": FAILED, "dry-1": DRY_RUN}
    )

    # WHEN
    report = _run(sqs, queues, invoker, apply=True)

    # THEN each event was sent once, unchanged, to the function
    assert sorted(event["id"] for _, event in invoker.calls) == [
        "dry-1",
        "fails-1",
        "fails-2",
        "ignored-1",
        "started-1",
    ]
    assert {name for name, _ in invoker.calls} == {FUNCTION}
    assert next(event for _, event in invoker.calls if event["id"] == "started-1") == _event("started-1")
    # AND only the started and ignored ones are gone; failures, dry runs and the unknown message stay
    actions = {(o.letter.event or {}).get("id", "unknown"): o.action for o in report.outcomes}
    assert actions == {
        "started-1": "deleted",
        "fails-1": "kept",
        "ignored-1": "deleted",
        "fails-2": "kept",
        "dry-1": "kept",
        "unknown": "kept",
    }
    assert [json.loads(body)["id"] for body in _bodies(sqs, rule_dlq)] == ["fails-1"]
    left = [json.loads(body) for body in _bodies(sqs, failed_start)]
    assert sorted(record.get("requestPayload", {}).get("id", "unknown") for record in left) == [
        "dry-1",
        "fails-2",
        "unknown",
    ]


def test_superseded_and_already_started_events_are_settled_and_say_why(sqs: Any, queues: list[QueueSource]) -> None:
    # GIVEN a redriven event whose version a newer upload replaced, and one whose version already ran
    rule_dlq, failed_start = queues
    _send_rule_dlq(sqs, rule_dlq, _event("old-1", version="v1"))
    _send_failed_start(sqs, failed_start, _event("ran-1", version="v7"))
    invoker = RecordingInvoker({"old-1": SUPERSEDED, "ran-1": ALREADY_STARTED})

    # WHEN
    report = _run(sqs, queues, invoker, apply=True)

    # THEN both are deleted, and the table says why
    assert [o.action for o in report.outcomes] == ["deleted", "deleted"]
    assert _bodies(sqs, rule_dlq) == []
    assert _bodies(sqs, failed_start) == []
    results = [outcome.result for outcome in report.outcomes]
    assert results == [
        "ignored (superseded)",
        "started (deploy already started e-0; archive e-9; site superseded)",
    ]


def test_a_message_is_looked_at_once_per_run_even_when_it_reappears(sqs: Any, queues: list[QueueSource]) -> None:
    # GIVEN a queue whose only message keeps failing, and a receive that hands it back at once
    rule_dlq = queues[0]
    _send_rule_dlq(sqs, rule_dlq, _event("fails-1"))
    invoker = RecordingInvoker({"fails-1": FAILED})
    original = redrive._HIDE_S
    redrive._HIDE_S = 0  # visible again immediately, as after a long run
    try:
        report = _run(sqs, [rule_dlq], invoker, apply=True)
    finally:
        redrive._HIDE_S = original

    assert len(invoker.calls) == 1
    assert [o.action for o in report.outcomes] == ["kept"]


def test_the_table_shows_one_line_per_message(sqs: Any, queues: list[QueueSource]) -> None:
    _send_rule_dlq(sqs, queues[0], _event("started-1"))
    _send_failed_start(sqs, queues[1], _event("fails-1", version="v2"))
    report = _run(sqs, queues, RecordingInvoker({"started-1": STARTED, "fails-1": FAILED}), apply=True)

    lines = redrive.format_table(report).splitlines()

    assert lines[0].split() == ["queue", "message", "shape", "event", "previous", "error", "action", "result"]
    assert "my-website.zip@Kq3Xh.9vRzT2mWb7LdN4pYcF8sEaJ0uG" in lines[1]
    assert "deleted" in lines[1]
    assert "started" in lines[1]
    assert "kept" in lines[2]
    assert "function error (Unhandled) StartFailed: ThrottlingException" in lines[2]


@pytest.mark.parametrize(
    ("result", "handled"),
    [
        (STARTED, True),
        (IGNORED, True),
        (SUPERSEDED, True),
        (ALREADY_STARTED, True),
        (FAILED, False),
        (DRY_RUN, False),
        (InvokeResult(None, {"status": "something-new"}), False),
        (InvokeResult(None, None), False),
        (InvokeResult(None, "a string"), False),
        # A function error wins even if the payload looks like success.
        (InvokeResult("Unhandled", {"status": "started"}), False),
    ],
    ids=[
        "started",
        "ignored",
        "superseded",
        "already-started",
        "function-error",
        "dry-run",
        "unknown-status",
        "no-payload",
        "text-payload",
        "error-wins",
    ],
)
def test_only_started_and_ignored_count_as_handled(result: InvokeResult, handled: bool) -> None:
    assert redrive.judge(result)[0] is handled


def _streaming(payload: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(payload), len(payload))


def test_the_real_invoker_waits_for_the_answer_and_reads_function_errors() -> None:
    client = boto3.client("lambda", region_name=REGION)
    event = _event("e-1")
    error = {"errorType": "StartFailed", "errorMessage": "boom"}
    with Stubber(client) as stub:
        stub.add_response(
            "invoke",
            {"StatusCode": 200, "Payload": _streaming(b'{"status": "started"}')},
            {"FunctionName": FUNCTION, "InvocationType": "RequestResponse", "Payload": json.dumps(event).encode()},
        )
        stub.add_response(
            "invoke",
            {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": _streaming(json.dumps(error).encode())},
        )
        invoke = redrive.lambda_invoker(client)

        assert invoke(FUNCTION, event) == InvokeResult(None, {"status": "started"})
        assert invoke(FUNCTION, event) == InvokeResult("Unhandled", error)


_STACK_TEMPLATE = {
    "Resources": {
        "RuleDeadLetterQueue": {"Type": "AWS::SQS::Queue"},
        "FailedStartQueue": {"Type": "AWS::SQS::Queue"},
    },
    "Outputs": {
        "RuleDeadLetterQueueUrl": {"Value": {"Ref": "RuleDeadLetterQueue"}},
        "FailedStartQueueUrl": {"Value": {"Ref": "FailedStartQueue"}},
        "TriggerFunctionName": {"Value": FUNCTION},
    },
}


def test_main_finds_both_queues_through_the_stack_outputs(sqs: Any) -> None:
    # GIVEN a stack with the project's outputs, one event in each queue
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    cloudformation.create_stack(StackName="trigger", TemplateBody=json.dumps(_STACK_TEMPLATE))
    outputs = deployed_stack.stack_outputs(cloudformation, "trigger")
    sqs.send_message(QueueUrl=outputs["RuleDeadLetterQueueUrl"], MessageBody=json.dumps(_event("e-1")))
    sqs.send_message(
        QueueUrl=outputs["FailedStartQueueUrl"], MessageBody=json.dumps(_invocation_record(_event("e-2", "v2")))
    )
    out = io.StringIO()

    # WHEN the operator runs the dry run, then --apply against a function that cannot be invoked (moto has none)
    dry = redrive.main(["--stack-name", "trigger", "--wait", "0"], session_factory=_session, out=out)
    applied = redrive.main(["--stack-name", "trigger", "--wait", "0", "--apply"], session_factory=_session, out=out)

    # THEN the dry run lists both, and the failed invokes keep both messages and fail the command
    text = out.getvalue()
    assert dry == 0
    assert applied == 1
    assert f"Redrive of rule-dlq, failed-start to {FUNCTION}: dry run" in text
    assert text.count("would redrive") == 2
    assert text.count("invoke failed") == 2
    assert "2 message(s): 0 deleted, 2 left in the queue." in text
    assert len(_bodies(sqs, QueueSource("rule", outputs["RuleDeadLetterQueueUrl"]))) == 1
    assert len(_bodies(sqs, QueueSource("failed", outputs["FailedStartQueueUrl"]))) == 1


def test_main_refuses_a_stack_that_is_not_this_project(sqs: Any) -> None:
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    other = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}
    cloudformation.create_stack(StackName="other", TemplateBody=json.dumps(other))

    err = io.StringIO()

    code = redrive.main(["--stack-name", "other"], session_factory=_session, out=io.StringIO(), err=err)

    assert code == 2
    assert err.getvalue() == (
        "Cannot redrive: stack 'other' has no output(s) RuleDeadLetterQueueUrl, FailedStartQueueUrl, "
        "TriggerFunctionName: it is not this project's stack; pass STACK=name of the trigger stack\n"
    )


def test_the_default_stack_name_comes_from_samconfig() -> None:
    assert deployed_stack.default_stack_name() == "s3-pipeline-trigger"


def _session() -> Any:
    return boto3.session.Session(region_name=REGION)
