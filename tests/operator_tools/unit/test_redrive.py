"""`make redrive`: a dry run that lists and previews and changes nothing; --apply sends the rule DLQ's events to the
trigger queue (send, then delete) and moves the failed-start queue back by an SQS move task; --status lists tasks."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from ops import redrive
from support.dead_letters import (
    HANDLE,
    DeadLetterStack,
    MoveTasks,
    event,
    forwarded,
    invocation_record,
    rule_attributes,
)
from support.deployed_stack import FUNCTION, STACK

REGION = "eu-west-1"
ENVIRON = {"AWS_DEFAULT_REGION": REGION}
URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/"
RULE_DLQ_URL, FAILED_URL, TRIGGER_URL = (URL + name for name in ("rule-dlq", "failed-start", "trigger"))
FAILED_ARN = "arn:aws:sqs:eu-west-1:123456789012:failed-start"
# Two hours and five minutes after the messages were sent.
LATER = 2 * 3600 + 5 * 60 + 1


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def session() -> Iterator[boto3.Session]:
    with mock_aws():
        yield boto3.Session(region_name=REGION)


@pytest.fixture
def stack(session: boto3.Session) -> DeadLetterStack:
    return DeadLetterStack(session)


def _main(session: Any, *argv: str, later: float = 0) -> Run:
    out, err = io.StringIO(), io.StringIO()
    code = redrive.main(
        ["--wait", "0", *argv],
        session_factory=lambda: session,
        environ=ENVIRON,
        out=out,
        err=err,
        clock=lambda: time.time() + later,
    )
    return Run(code, out.getvalue(), err.getvalue())


@pytest.fixture
def central(session: boto3.Session) -> DeadLetterStack:
    """A stack deployed with SourceBucketAccount: the central bus rule has its own dead-letter queue."""
    return DeadLetterStack(session, central=True)


def _contents(stack: DeadLetterStack) -> dict[str, list[str]]:
    queues = (stack.rule_dlq, stack.central_rule_dlq, stack.failed_start, stack.trigger)
    return {url: stack.bodies(url) for url in queues if url}


def _sqs_calls(session: boto3.Session) -> list[tuple[str, str]]:
    """(operation, queue) of each SQS request the session makes, in order."""
    calls: list[tuple[str, str]] = []

    def keep(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, params.get("QueueUrl", "").rsplit("/", 1)[-1]))

    session.events.register("provide-client-params.sqs.*", keep)
    return calls


def test_reads_the_event_out_of_each_message_shape() -> None:
    kept = event("e-1")

    from_rule = redrive.read_dead_letter(json.dumps(kept), rule_attributes("SDK_CLIENT_ERROR"))
    from_queue = redrive.read_dead_letter(json.dumps(kept))
    from_lambda = redrive.read_dead_letter(json.dumps(invocation_record(kept)))

    assert (from_rule.shape, from_rule.event) == ("eventbridge-event", kept)
    assert from_rule.previous_error == "SDK_CLIENT_ERROR Not authorized to send messages to the queue"
    assert (from_queue.shape, from_queue.previous_error) == (
        "eventbridge-event",
        "the function failed on each receive (see its ERROR log)",
    )
    assert (from_lambda.shape, from_lambda.event) == ("invocation-record", kept)
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


def test_the_dry_run_lists_both_queues_and_what_each_event_would_do_now(
    session: boto3.Session, stack: DeadLetterStack
) -> None:
    # GIVEN v2 current; an undelivered event of v2, a failed one of v1, an old record of an unrouted key, garbage
    v1, v2 = stack.versions
    stack.undeliverable(event("e-1", v2))
    stack.failed_every_receive(event("e-2", v1))
    stack.old_invocation_record(event("e-3", v2, key="notes.txt"))
    stack.sqs.send_message(QueueUrl=stack.failed_start, MessageBody="garbage")
    before = _contents(stack)
    moves = MoveTasks(session)

    # WHEN
    run = _main(session, later=LATER)

    # THEN each message has its line, with its key and version, its error and what the function would do now
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[1:3] == ["rule-dlq: 1 message(s), oldest 2 h 5 min", "failed-start: 3 message(s), oldest 2 h 5 min"]
    assert lines[3].split() == ["queue", "message", "age", "event", "previous", "error", "now"]
    rows = lines[4:]
    assert len(rows) == 4

    def row(text: str) -> str:
        return next(line for line in rows if text in line)

    assert row("rule-dlq").endswith("would start my-website-pipeline")
    assert f"2 h 5 min  my-website.zip@{v2}  NO_PERMISSIONS Not authorized" in row("rule-dlq")
    assert row(f"my-website.zip@{v1}").endswith(
        f"the function failed on each receive (see its ERROR log)       superseded ({v2} is current)"
    )
    assert row("notes.txt").endswith("ignored: no_matching_route")
    assert f"notes.txt@{v2}       RetriesExhausted StartFailed" in row("notes.txt")
    assert row("body is not JSON").endswith("stays: unknown shape")
    # AND nothing moved: every queue holds what it held, no message is hidden, no move task was started
    assert _contents(stack) == before
    assert moves.started == []


def test_apply_sends_the_rule_dlqs_events_and_old_records_then_moves_the_failed_start_queue(
    session: boto3.Session, stack: DeadLetterStack
) -> None:
    # GIVEN one event in the rule DLQ, one the trigger queue gave up on, one old invocation record
    v1, v2 = stack.versions
    undelivered, failed, recorded = event("e-1", v2), event("e-2", v1), event("e-3", v2)
    stack.undeliverable(undelivered)
    stack.failed_every_receive(failed)
    stack.old_invocation_record(recorded)
    moves = MoveTasks(session)

    # WHEN
    run = _main(session, "--apply", "--max-per-second", "5")

    # THEN the trigger queue has the undelivered event unchanged and the record's event, and neither is kept any more
    assert run.code == 0, run.out + run.err
    assert stack.bodies(stack.trigger) == sorted([json.dumps(undelivered), json.dumps(recorded)])
    assert stack.bodies(stack.rule_dlq) == []
    # AND the event SQS moved is left to the move task: one, from the failed-start queue, back to its source
    assert stack.bodies(stack.failed_start) == [json.dumps(failed)]
    assert moves.started == [{"SourceArn": stack.arn(stack.failed_start), "MaxNumberOfMessagesPerSecond": 5}]
    assert f"failed-start: move task started (handle {HANDLE})" in run.out


def test_unknown_shapes_stay_and_no_move_task_takes_them_along(session: boto3.Session, stack: DeadLetterStack) -> None:
    stack.failed_every_receive(event("e-2", stack.versions[1]))
    stack.sqs.send_message(QueueUrl=stack.failed_start, MessageBody=json.dumps({"unexpected": True}))
    stack.sqs.send_message(QueueUrl=stack.rule_dlq, MessageBody="garbage")
    before = _contents(stack)
    moves = MoveTasks(session)

    run = _main(session, "--apply")

    assert run.code == 1
    assert _contents(stack) == before
    assert moves.started == []
    assert "kept: unknown shape (neither an EventBridge event nor a Lambda invocation record)" in run.out
    assert "kept: unknown shape (body is not JSON)" in run.out
    assert "failed-start: no move task started: 1 message(s) of unknown shape would be moved with the events" in run.out


def test_a_failed_send_deletes_nothing_and_fails_the_command(session: boto3.Session, stack: DeadLetterStack) -> None:
    # GIVEN a trigger queue that is not there
    stack.undeliverable(event("e-1"))
    stack.old_invocation_record(event("e-2"))
    before = _contents(stack)

    run = _main(session, "--apply", "--trigger-queue-url", URL + "gone")

    assert run.code == 1
    assert _contents(stack) == before
    assert run.out.count("kept: send failed: SendMessage: AWS.SimpleQueueService.NonExistentQueue") == 2


def test_the_exact_requests_send_first_and_delete_only_what_was_sent() -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    body = json.dumps(event("e-1"))
    record = json.dumps(invocation_record(event("e-2")))
    received = [
        {"MessageId": "m-1", "ReceiptHandle": "r-1", "Body": body},
        {"MessageId": "m-2", "ReceiptHandle": "r-2", "Body": record},
        {"MessageId": "m-3", "ReceiptHandle": "r-3", "Body": body},
    ]
    receive = {
        "QueueUrl": RULE_DLQ_URL,
        "MaxNumberOfMessages": 10,
        "WaitTimeSeconds": 0,
        "VisibilityTimeout": 900,
        "MessageAttributeNames": ["All"],
        "MessageSystemAttributeNames": ["SentTimestamp"],
    }
    with Stubber(sqs) as stub:
        stub.add_response("receive_message", {"Messages": received}, receive)
        stub.add_response("send_message", {"MessageId": "t-1"}, {"QueueUrl": TRIGGER_URL, "MessageBody": body})
        stub.add_response("delete_message", {}, {"QueueUrl": RULE_DLQ_URL, "ReceiptHandle": "r-1"})
        # An invocation record: its event is sent, not the record.
        stub.add_response(
            "send_message", {"MessageId": "t-2"}, {"QueueUrl": TRIGGER_URL, "MessageBody": json.dumps(event("e-2"))}
        )
        stub.add_response("delete_message", {}, {"QueueUrl": RULE_DLQ_URL, "ReceiptHandle": "r-2"})
        # The third send fails: its message is not deleted, only made visible again.
        stub.add_client_error("send_message", "KMS.AccessDeniedException", "denied")
        stub.add_response("receive_message", {}, receive | {"MaxNumberOfMessages": 10})
        stub.add_response(
            "change_message_visibility_batch",
            {"Successful": [{"Id": "0"}], "Failed": []},
            {"QueueUrl": RULE_DLQ_URL, "Entries": [{"Id": "0", "ReceiptHandle": "r-3", "VisibilityTimeout": 0}]},
        )

        report = redrive.send_to_trigger_queue(sqs, redrive.RULE_DLQ, RULE_DLQ_URL, TRIGGER_URL, wait_s=0)

        stub.assert_no_pending_responses()
    assert [letter.action for letter in report.letters] == [
        "sent to the trigger queue, deleted",
        "sent to the trigger queue, deleted",
        "kept: send failed: SendMessage: KMS.AccessDeniedException: denied",
    ]


def test_a_failed_delete_after_the_send_is_reported() -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    body = json.dumps(event("e-1"))
    with Stubber(sqs) as stub:
        stub.add_response("receive_message", {"Messages": [{"MessageId": "m-1", "ReceiptHandle": "r-1", "Body": body}]})
        stub.add_response("send_message", {"MessageId": "t-1"})
        stub.add_client_error("delete_message", "AccessDenied", "no")
        stub.add_response("receive_message", {})
        stub.add_response("change_message_visibility_batch", {"Successful": [{"Id": "0"}], "Failed": []})

        report = redrive.send_to_trigger_queue(sqs, redrive.RULE_DLQ, RULE_DLQ_URL, TRIGGER_URL, wait_s=0)

        stub.assert_no_pending_responses()
    assert report.letters[0].action == "sent, but kept: delete failed: DeleteMessage: AccessDenied: no"
    assert report.letters[0].moved is False


def test_the_move_task_request_is_the_failed_start_queues_arn_and_no_destination() -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    report = redrive.QueueReport(redrive.FAILED_START)
    report.letters.append(
        redrive.Letter(redrive.FAILED_START, "m-1", redrive.read_dead_letter(json.dumps(event("e-1"))), None)
    )
    report.letters[0].action = "left for the move task"
    with Stubber(sqs) as stub:
        stub.add_response(
            "get_queue_attributes",
            {"Attributes": {"QueueArn": FAILED_ARN}},
            {"QueueUrl": FAILED_URL, "AttributeNames": ["QueueArn"]},
        )
        stub.add_response("start_message_move_task", {"TaskHandle": HANDLE}, {"SourceArn": FAILED_ARN})

        redrive.start_move_task(sqs, report, FAILED_URL, None)

        stub.assert_no_pending_responses()
    assert report.move_task == HANDLE
    assert report.letters[0].moved


def test_a_move_task_sqs_refuses_fails_the_command(session: boto3.Session, stack: DeadLetterStack) -> None:
    stack.failed_every_receive(event("e-2", stack.versions[1]))
    MoveTasks(session, refusal="There is already a task running.")

    run = _main(session, "--apply")

    assert run.code == 1
    assert (
        "failed-start: no move task started: StartMessageMoveTask: AWS.SimpleQueueService.UnsupportedOperation: "
        "There is already a task running."
    ) in run.out
    assert len(stack.bodies(stack.failed_start)) == 1


def test_status_lists_the_failed_start_queues_move_tasks(session: boto3.Session, stack: DeadLetterStack) -> None:
    tasks = [
        {
            "TaskHandle": HANDLE,
            "Status": "RUNNING",
            "SourceArn": stack.arn(stack.failed_start),
            "ApproximateNumberOfMessagesMoved": 3,
            "ApproximateNumberOfMessagesToMove": 10,
            "StartedTimestamp": 1796580000000,
        },
        {
            "Status": "FAILED",
            "SourceArn": stack.arn(stack.failed_start),
            "ApproximateNumberOfMessagesMoved": 0,
            "ApproximateNumberOfMessagesToMove": 2,
            "FailureReason": "AWS.SimpleQueueService.NonExistentQueue",
            "StartedTimestamp": 1796570000000,
        },
    ]
    moves = MoveTasks(session, tasks)

    run = _main(session, "--status")

    assert run.code == 0, run.err
    assert moves.listed == [{"SourceArn": stack.arn(stack.failed_start), "MaxResults": 10}]
    assert run.out.splitlines() == [
        "failed-start: move tasks, newest first",
        f"RUNNING  started 2026-12-06 18:00:00 UTC  moved 3 of 10  handle {HANDLE}",
        "FAILED  started 2026-12-06 15:13:20 UTC  moved 0 of 2  failure: AWS.SimpleQueueService.NonExistentQueue",
    ]


def test_status_without_tasks_says_so(session: boto3.Session, stack: DeadLetterStack) -> None:
    MoveTasks(session, [])

    assert _main(session, "--status") == Run(0, "failed-start: no move task yet.\n", "")


@pytest.mark.parametrize("mode", [[], ["--apply"]], ids=["dry-run", "apply"])
def test_a_queue_that_cannot_be_read_is_never_nothing_to_do(
    session: boto3.Session, stack: DeadLetterStack, mode: list[str]
) -> None:
    run = _main(session, *mode, "--rule-dlq-url", URL + "gone")

    assert run.code == 2
    assert "Nothing to redrive" not in run.out
    assert "rule-dlq: not read" in run.out
    assert "rule-dlq: could not be read: ReceiveMessage: AWS.SimpleQueueService.NonExistentQueue" in run.err


def test_empty_queues_are_nothing_to_redrive(session: boto3.Session, stack: DeadLetterStack) -> None:
    for mode in ([], ["--apply"]):
        run = _main(session, *mode)

        assert run.code == 0
        assert run.out.splitlines()[1:] == [
            "rule-dlq: empty",
            "failed-start: empty",
            "Nothing to redrive: both queues are empty.",
        ]


def test_apply_needs_the_trigger_queue_the_dry_run_does_not(session: boto3.Session) -> None:
    stack = DeadLetterStack(session, trigger_queue=False)
    stack.undeliverable(event("e-1", stack.versions[1]))

    dry = _main(session)
    applied = _main(session, "--apply")

    assert dry.code == 0
    assert "would start my-website-pipeline" in dry.out
    assert applied == Run(
        2,
        "",
        f"Cannot redrive: stack '{STACK}' has no output TriggerQueueUrl: it was deployed before the trigger queue; "
        "run `make deploy`, then redrive\n",
    )
    assert len(stack.bodies(stack.rule_dlq)) == 1


def test_without_the_functions_settings_the_listing_still_comes(session: boto3.Session, stack: DeadLetterStack) -> None:
    stack.undeliverable(event("e-1", stack.versions[1]))

    run = _main(session, "--function-name", "not-there")

    assert run.code == 0
    assert "? (the function's settings could not be read)" in run.out
    assert run.err.startswith("No preview: GetFunctionConfiguration: ResourceNotFoundException")


def test_main_refuses_a_stack_that_is_not_this_project(session: boto3.Session) -> None:
    other = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}
    session.client("cloudformation").create_stack(StackName="other", TemplateBody=json.dumps(other))

    run = _main(session, "--stack-name", "other")

    assert run == Run(
        2,
        "",
        "Cannot redrive: stack 'other' has no output(s) RuleDeadLetterQueueUrl, FailedStartQueueUrl, "
        "TriggerFunctionName: it is not this project's stack; pass STACK=name of the trigger stack\n",
    )


def test_a_message_is_looked_at_once_per_run_even_when_it_reappears(
    session: boto3.Session, stack: DeadLetterStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a message visible again at once, as after a long run
    stack.sqs.send_message(QueueUrl=stack.rule_dlq, MessageBody="garbage")
    monkeypatch.setattr(redrive, "_HIDE_S", 0)

    report = redrive.survey(stack.sqs, redrive.RULE_DLQ, stack.rule_dlq, wait_s=0)

    assert len(report.letters) == 1


def test_the_function_is_the_stacks(session: boto3.Session, stack: DeadLetterStack) -> None:
    stack.undeliverable(event("e-1", stack.versions[1]))

    assert f'"now" is what {FUNCTION} would do' in _main(session).out


def test_no_move_task_starts_on_a_queue_it_did_not_look_through(session: boto3.Session, stack: DeadLetterStack) -> None:
    stack.failed_every_receive(event("e-1", stack.versions[1]))
    stack.failed_every_receive(event("e-2", stack.versions[1]))
    moves = MoveTasks(session)

    run = _main(session, "--apply", "--max-messages", "1")

    assert run.code == 1
    assert moves.started == []
    assert "failed-start: at least 1 message(s)" in run.out
    assert "no move task started: it stopped looking at 1 message(s) (--max-messages)" in run.out


def test_the_dry_run_lists_the_central_rule_dlq_like_the_rule_dlq(
    session: boto3.Session, central: DeadLetterStack
) -> None:
    # GIVEN v2 current; the central bus rule could not deliver a forwarded event of v2; one of v1 failed
    v1, v2 = central.versions
    central.undeliverable_from_the_central_bus(forwarded("e-1", v2))
    central.failed_every_receive(forwarded("e-2", v1))
    before = _contents(central)
    moves = MoveTasks(session)

    # WHEN
    run = _main(session, later=LATER)

    # THEN the central rule's queue has its own line and row, previewed as the function would decide today
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[1:4] == [
        "rule-dlq: empty",
        "central-rule-dlq: 1 message(s), oldest 2 h 5 min",
        "failed-start: 1 message(s), oldest 2 h 5 min",
    ]
    (row,) = [line for line in lines[5:] if line.startswith("central-rule-dlq")]
    assert f"2 h 5 min  my-website.zip@{v2}  SDK_CLIENT_ERROR Not authorized" in row
    assert row.endswith("would start my-website-pipeline")
    # AND nothing moved
    assert _contents(central) == before
    assert moves.started == []


def test_apply_sends_the_central_rule_dlqs_events_unchanged_and_deletes_each_after_its_send(
    session: boto3.Session, central: DeadLetterStack
) -> None:
    # GIVEN an event in each rule DLQ
    undelivered, from_central = event("e-1", central.versions[1]), forwarded("e-2", central.versions[1])
    central.undeliverable(undelivered)
    central.undeliverable_from_the_central_bus(from_central)
    calls = _sqs_calls(session)

    # WHEN
    run = _main(session, "--apply")

    # THEN both events are in the trigger queue as EventBridge put them, and neither DLQ keeps them
    assert run.code == 0, run.out + run.err
    assert central.bodies(central.trigger) == sorted([json.dumps(undelivered), json.dumps(from_central)])
    assert central.bodies(central.rule_dlq) == []
    assert central.bodies(str(central.central_rule_dlq)) == []
    assert run.out.splitlines()[0] == (
        "Redrive to the trigger queue: rule-dlq and central-rule-dlq by send then delete, "
        "failed-start by an SQS move task."
    )
    (row,) = [line for line in run.out.splitlines() if line.startswith("central-rule-dlq ")]
    assert row.endswith("sent to the trigger queue, deleted")
    # AND the central queue's message was deleted only after its send to the trigger queue
    central_queue = str(central.central_rule_dlq).rsplit("/", 1)[-1]
    redrive_calls = [call for call in calls if call[0] in {"SendMessage", "DeleteMessage"}]
    assert redrive_calls[-2:] == [
        ("SendMessage", f"{STACK}-TriggerQueue"),
        ("DeleteMessage", central_queue),
    ]


def test_a_failed_send_keeps_the_central_rule_dlqs_message(session: boto3.Session, central: DeadLetterStack) -> None:
    central.undeliverable_from_the_central_bus(forwarded("e-1"))
    before = _contents(central)
    calls = _sqs_calls(session)

    run = _main(session, "--apply", "--trigger-queue-url", URL + "gone")

    assert run.code == 1
    assert _contents(central) == before
    (row,) = [line for line in run.out.splitlines() if line.startswith("central-rule-dlq ")]
    assert "kept: send failed: SendMessage: AWS.SimpleQueueService.NonExistentQueue" in row
    assert "DeleteMessage" not in [operation for operation, _ in calls]


def test_empty_queues_of_a_central_bucket_stack_are_nothing_to_redrive(
    session: boto3.Session, central: DeadLetterStack
) -> None:
    for mode in ([], ["--apply"]):
        run = _main(session, *mode)

        assert run.code == 0
        assert run.out.splitlines()[1:] == [
            "rule-dlq: empty",
            "central-rule-dlq: empty",
            "failed-start: empty",
            "Nothing to redrive: the 3 queues are empty.",
        ]


def test_the_central_rule_dlq_can_be_named_without_a_stack(session: boto3.Session, central: DeadLetterStack) -> None:
    central.undeliverable_from_the_central_bus(forwarded("e-1"))
    session.client("cloudformation").delete_stack(StackName=STACK)
    urls = {
        "--rule-dlq-url": central.rule_dlq,
        "--central-rule-dlq-url": str(central.central_rule_dlq),
        "--failed-start-url": central.failed_start,
        "--trigger-queue-url": central.trigger,
    }

    run = _main(session, "--apply", *(item for pair in urls.items() for item in pair))

    assert run.code == 0, run.out + run.err
    assert central.bodies(central.trigger) == [json.dumps(forwarded("e-1"))]
