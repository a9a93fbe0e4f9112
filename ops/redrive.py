"""Redrive the stack's dead letters back into the trigger queue, where the function takes them as it takes any event.

Two queues keep events the function did not handle (three with a central artifact bucket):
- the rule's dead-letter queue (RuleDeadLetterQueueUrl): EventBridge could not deliver the event to the trigger
  queue. The message body is the event itself; the attributes ERROR_CODE / ERROR_MESSAGE say why.
- the central bus rule's dead-letter queue (CentralRuleDeadLetterQueueUrl, only with SourceBucketAccount): the same,
  for the events the bucket's account forwarded to the stack's own bus.
- the failed-start queue (FailedStartQueueUrl): the function failed on the event at every receive from the trigger
  queue, so SQS moved the message there (the trigger queue's RedrivePolicy). The body is the event. A stack
  deployed before the trigger queue sent Lambda invocation records there instead: the event is `requestPayload`.

Without --apply nothing changes: each kept event is listed with what the function would do with it now (see
ops.event_preview). With --apply:
- the failed-start queue goes back to the trigger queue by an SQS move task (StartMessageMoveTask without a
  destination: back to the queue the messages came from), after its invocation records were sent there one by one;
- the rule DLQs' events are sent to the trigger queue (a move task starts only from the dead-letter queue of another
  SQS queue; these are EventBridge's), each message deleted only after its send succeeded.
A message of unknown shape stays, and while one is in the failed-start queue no move task starts (it would move it
too). An event sent twice starts nothing twice: the function's idempotency token and its history lookup see to it.

    python -m ops.redrive                      # dry run: what each queue keeps, what each event would do now
    python -m ops.redrive --apply              # redrive
    python -m ops.redrive --status             # the failed-start queue's move tasks

The stack, region and profile are the ones `sam deploy` used (samconfig.toml, see ops.stack), unless given.
A failure to reach the stack is one line on stderr saying what is wrong and what to do, and exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ops.aws_problems import explain
from ops.deploy_config import DEFAULT_ENV, SAMCONFIG, ConfigError
from ops.event_preview import PreviewUnavailable, function_settings, preview, s3_current_versions
from ops.stack import StackLocation, locate, stack_outputs

RULE_DLQ = "rule-dlq"
CENTRAL_RULE_DLQ = "central-rule-dlq"
FAILED_START = "failed-start"
EXIT_NOT_ALL_MOVED = 1
EXIT_CANNOT_REDRIVE = 2
EVENT = "eventbridge-event"
RECORD = "invocation-record"
UNKNOWN = "unknown"
# Received messages stay hidden while the run works through the queue; kept ones are released at the end.
_HIDE_S = 900
_MAX_CELL = 60
_OUTPUTS = {
    RULE_DLQ: ("RuleDeadLetterQueueUrl", "--rule-dlq-url"),
    CENTRAL_RULE_DLQ: ("CentralRuleDeadLetterQueueUrl", "--central-rule-dlq-url"),
    FAILED_START: ("FailedStartQueueUrl", "--failed-start-url"),
    "trigger": ("TriggerQueueUrl", "--trigger-queue-url"),
    "function": ("TriggerFunctionName", "--function-name"),
}


@dataclass(frozen=True)
class DeadLetter:
    """One message read from a dead-letter queue: the event it carries, or why it carries none."""

    shape: str  # EVENT, RECORD or UNKNOWN
    event: dict[str, Any] | None
    previous_error: str


@dataclass
class Letter:
    """A message as this run saw it, and what became of it."""

    queue: str
    message_id: str
    letter: DeadLetter
    sent_at: float | None
    now: str = ""  # dry run: what the function would do with the event now
    action: str = ""  # --apply: what happened to the message
    moved: bool = False


@dataclass
class QueueReport:
    name: str
    letters: list[Letter] = field(default_factory=list)
    problem: str | None = None  # the queue could not be read (or not to the end)
    full: bool = False  # stopped at --max-messages: more may be waiting
    move_task: str | None = None  # the handle of the move task this run started
    move_problem: str | None = None  # why no move task started although one was needed


def read_dead_letter(body: str, attributes: dict[str, Any] | None = None) -> DeadLetter:
    """Tell the message shapes apart and take the original event out of each."""
    try:
        document = json.loads(body)
    except json.JSONDecodeError:
        return DeadLetter(UNKNOWN, None, "body is not JSON")
    if not isinstance(document, dict):
        return DeadLetter(UNKNOWN, None, f"body is a JSON {type(document).__name__}, not an object")
    if isinstance(document.get("requestContext"), dict) and "requestPayload" in document:
        payload = document["requestPayload"]
        if not isinstance(payload, dict):
            return DeadLetter(UNKNOWN, None, "invocation record whose requestPayload is not an object")
        return DeadLetter(RECORD, payload, _record_error(document))
    if all(name in document for name in ("source", "detail-type", "detail")):
        return DeadLetter(EVENT, document, _attributes_error(attributes or {}))
    return DeadLetter(UNKNOWN, None, "neither an EventBridge event nor a Lambda invocation record")


def _record_error(record: dict[str, Any]) -> str:
    context = record["requestContext"]
    response = record.get("responsePayload")
    parts = [str(context.get("condition", "?"))]
    if isinstance(response, dict):
        parts.append(": ".join(str(response[name]) for name in ("errorType", "errorMessage") if name in response))
    return " ".join(part for part in parts if part)


def _attributes_error(attributes: dict[str, Any]) -> str:
    def value(name: str) -> str:
        attribute = attributes.get(name)
        return str(attribute.get("StringValue", "")) if isinstance(attribute, dict) else ""

    # No ERROR_CODE: SQS moved it from the trigger queue after the function failed on each receive.
    found = " ".join(part for part in (value("ERROR_CODE"), value("ERROR_MESSAGE")) if part)
    return found or "the function failed on each receive (see its ERROR log)"


def survey(sqs: Any, name: str, url: str, *, max_messages: int = 100, wait_s: int = 1) -> QueueReport:
    """Every message of one queue, read and made visible again: nothing is deleted or moved."""
    report = QueueReport(name)
    try:
        with _QueueReader(sqs, url, max_messages, wait_s) as reader:
            report.letters.extend(_letter(name, message) for message in reader.messages())
            report.full = reader.full
    except (ClientError, BotoCoreError) as error:
        report.problem = _problem(error)
    return report


def send_to_trigger_queue(
    sqs: Any, name: str, url: str, trigger_url: str, *, max_messages: int = 100, wait_s: int = 1
) -> QueueReport:
    """Each event (invocation records unwrapped) sent to the trigger queue, its message deleted once sent.

    Bare events of the failed-start queue are left for its move task, which keeps their attributes.
    """
    report = QueueReport(name)
    try:
        with _QueueReader(sqs, url, max_messages, wait_s) as reader:
            for message in reader.messages():
                letter = _letter(name, message)
                report.letters.append(letter)
                if letter.letter.event is None:
                    letter.action = f"kept: unknown shape ({letter.letter.previous_error})"
                elif name == FAILED_START and letter.letter.shape == EVENT:
                    letter.action = "left for the move task"
                else:
                    _send_then_delete(sqs, reader, message, letter, trigger_url)
            report.full = reader.full
    except (ClientError, BotoCoreError) as error:
        report.problem = _problem(error)
    return report


def _send_then_delete(sqs: Any, reader: _QueueReader, message: dict[str, Any], letter: Letter, trigger: str) -> None:
    # The rule DLQ's body is the event exactly as EventBridge put it: sent unchanged.
    body = message["Body"] if letter.letter.shape == EVENT else json.dumps(letter.letter.event)
    try:
        sqs.send_message(QueueUrl=trigger, MessageBody=body)
    except (ClientError, BotoCoreError) as error:
        letter.action = f"kept: send failed: {_problem(error)}"
        return
    try:
        reader.delete(message)
    except (ClientError, BotoCoreError) as error:
        # Sent already: the next run sends it again, and the function's token makes that start nothing new.
        letter.action = f"sent, but kept: delete failed: {_problem(error)}"
        return
    letter.action = "sent to the trigger queue, deleted"
    letter.moved = True


def start_move_task(sqs: Any, report: QueueReport, url: str, max_per_second: int | None) -> None:
    """The failed-start queue back to the trigger queue, by SQS itself, when what is left may all go there."""
    waiting = [letter for letter in report.letters if letter.action == "left for the move task"]
    if report.problem or not waiting:
        return
    unknown = [letter for letter in report.letters if letter.letter.event is None]
    if unknown:
        report.move_problem = (
            f"no move task started: {len(unknown)} message(s) of unknown shape would be moved with the events; "
            "look at them in the SQS console, delete them, and run again"
        )
        return
    if report.full:
        report.move_problem = (
            f"no move task started: it stopped looking at {len(report.letters)} message(s) (--max-messages) and "
            "the rest may hold a message a move task must not take; run again with a larger --max-messages"
        )
        return
    try:
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        params: dict[str, Any] = {"SourceArn": arn}
        if max_per_second is not None:
            params["MaxNumberOfMessagesPerSecond"] = max_per_second
        report.move_task = str(sqs.start_message_move_task(**params)["TaskHandle"])
    except (ClientError, BotoCoreError) as error:
        report.move_problem = f"no move task started: {_problem(error)}"
        return
    for letter in waiting:
        letter.action = "moving to the trigger queue"
        letter.moved = True


def move_tasks(sqs: Any, url: str) -> list[dict[str, Any]]:
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    tasks: list[dict[str, Any]] = sqs.list_message_move_tasks(SourceArn=arn, MaxResults=10).get("Results", [])
    return tasks


def _letter(queue: str, message: dict[str, Any]) -> Letter:
    sent_ms = message.get("Attributes", {}).get("SentTimestamp")
    return Letter(
        queue=queue,
        message_id=message["MessageId"],
        letter=read_dead_letter(message["Body"], message.get("MessageAttributes")),
        sent_at=int(sent_ms) / 1000 if sent_ms else None,
    )


def _problem(error: ClientError | BotoCoreError) -> str:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{error.operation_name}: {details.get('Code', '?')}: {details.get('Message', '')}".rstrip(": ")
    return f"{type(error).__name__}: {error}"


class _QueueReader:
    """Messages of one queue, each at most once per run; whatever is not deleted is visible again at the end."""

    def __init__(self, sqs: Any, url: str, limit: int, wait_s: int) -> None:
        self._sqs, self._url, self._limit, self._wait_s = sqs, url, limit, wait_s
        self._seen: set[str] = set()
        self._held: dict[str, str] = {}  # message id -> receipt handle, for messages still hidden by this run
        self.full = False

    def __enter__(self) -> _QueueReader:
        return self

    def __exit__(self, *_: object) -> None:
        self._release()

    def messages(self) -> Iterator[dict[str, Any]]:
        # Bounded by receives too, so a queue that keeps handing back the same messages still ends the run.
        for _ in range(self._limit):
            if len(self._seen) >= self._limit:
                break
            response = self._sqs.receive_message(
                QueueUrl=self._url,
                MaxNumberOfMessages=min(10, self._limit - len(self._seen)),
                WaitTimeSeconds=self._wait_s,
                VisibilityTimeout=_HIDE_S,
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["SentTimestamp"],
            )
            fresh = [message for message in response.get("Messages", []) if message["MessageId"] not in self._seen]
            # Nothing new: the queue is drained, or only holds what this run has already looked at.
            if not fresh:
                return
            for message in fresh:
                self._seen.add(message["MessageId"])
                self._held[message["MessageId"]] = message["ReceiptHandle"]
                yield message
        # Stopped at the limit, not at an empty receive: more messages may wait.
        self.full = len(self._seen) >= self._limit

    def delete(self, message: dict[str, Any]) -> None:
        self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"])
        self._held.pop(message["MessageId"], None)

    def _release(self) -> None:
        handles = list(self._held.values())
        for start in range(0, len(handles), 10):
            entries = [
                {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for index, handle in enumerate(handles[start : start + 10])
            ]
            self._sqs.change_message_visibility_batch(QueueUrl=self._url, Entries=entries)
        self._held.clear()


def preview_all(reports: Sequence[QueueReport], settings_of: Callable[[], Any], current: Any) -> str | None:
    """Fill in each event's "now"; the reason when the function's settings could not be read."""
    letters = [letter for report in reports for letter in report.letters]
    if not any(letter.letter.event is not None for letter in letters):
        return None
    try:
        settings = settings_of()
    except (ClientError, BotoCoreError, PreviewUnavailable) as error:
        for letter in letters:
            letter.now = "? (the function's settings could not be read)"
        return str(error) if isinstance(error, PreviewUnavailable) else _problem(error)
    for letter in letters:
        event = letter.letter.event
        letter.now = "stays: unknown shape" if event is None else preview(event, settings, current)
    return None


def format_table(letters: Sequence[Letter], *, now: float, last: str) -> str:
    header = ("queue", "message", "age", "event", "previous error", "now" if last == "now" else "action")
    rows = [header]
    for letter in letters:
        rows.append(
            (
                letter.queue,
                letter.message_id[:8],
                "?" if letter.sent_at is None else age(now - letter.sent_at),
                _describe_event(letter.letter.event),
                letter.letter.previous_error,
                letter.now if last == "now" else letter.action,
            )
        )
    # The last column is not cut: it is the answer the operator reads.
    cells = [[*(_cell(value) for value in row[:-1]), " ".join(row[-1].split())] for row in rows]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header) - 1)]
    return "\n".join(
        "  ".join([*(value.ljust(width) for value, width in zip(row, widths, strict=False)), row[-1]]).rstrip()
        for row in cells
    )


def age(seconds: float) -> str:
    """Whole units, coarse enough to read at a glance: 40 s, 12 min, 3 h 5 min, 2 d 4 h."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, hours, days = whole // 60, whole // 3600, whole // 86400
    if hours == 0:
        return f"{minutes} min"
    if days == 0:
        return f"{hours} h {minutes % 60} min"
    return f"{days} d {hours % 24} h"


def _describe_event(event: dict[str, Any] | None) -> str:
    if event is None:
        return "-"
    detail = event.get("detail")
    obj = detail.get("object") if isinstance(detail, dict) else None
    key, version = (obj.get("key"), obj.get("version-id")) if isinstance(obj, dict) else (None, None)
    if key is None:
        return f"{event.get('detail-type', '?')} {event.get('id', '')}".strip()
    return f"{key}@{version}" if version else str(key)


def _cell(value: str) -> str:
    # One line per message, however long or multi-line an error message is.
    flat = " ".join(str(value).split())
    return flat if len(flat) <= _MAX_CELL else flat[: _MAX_CELL - 1] + "…"


class CannotRedrive(Exception):
    """Nothing was read or changed: the stack or the arguments say why."""


def main(
    argv: Sequence[str] | None = None,
    *,
    session_factory: Callable[[], Any] | None = None,
    samconfig: Path = SAMCONFIG,
    environ: Mapping[str, str] = os.environ,
    out: Any = None,
    err: Any = None,
    clock: Callable[[], float] = time.time,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    args = _parser().parse_args(argv)
    try:
        location = locate(
            args.stack_name or None, args.region or None, args.config_env, environ=environ, samconfig=samconfig
        )
    except ConfigError as problem:
        print(f"Cannot redrive: {problem}", file=err)
        return EXIT_CANNOT_REDRIVE
    failure = None
    try:
        session = (session_factory or location.session)()
        wanted = [FAILED_START] if args.status else [RULE_DLQ, FAILED_START, "trigger" if args.apply else "function"]
        # Only a stack deployed with SourceBucketAccount has the central bus rule and its queue.
        optional = [] if args.status else [CENTRAL_RULE_DLQ]
        targets = _targets(args, session, location, wanted, optional)
        sqs = session.client("sqs")
        tasks = move_tasks(sqs, targets[FAILED_START]) if args.status else None
    except (ClientError, BotoCoreError) as error:
        failure = explain(error, location)
    except CannotRedrive as error:
        failure = str(error)
    if failure is not None:
        print(f"Cannot redrive: {failure}", file=err)
        return EXIT_CANNOT_REDRIVE
    if tasks is not None:
        return _print_status(tasks, out)
    console = _Console(out, err, clock())
    try:
        return _apply(args, sqs, targets, console) if args.apply else _dry_run(args, session, sqs, targets, console)
    except KeyboardInterrupt:
        print("Interrupted; messages not yet handled become visible again after their visibility timeout.", file=err)
        return 130


@dataclass(frozen=True)
class _Console:
    out: Any
    err: Any
    now: float


def _dry_run(args: argparse.Namespace, session: Any, sqs: Any, targets: dict[str, str], console: _Console) -> int:
    reports = [
        survey(sqs, name, targets[name], max_messages=args.max_messages, wait_s=args.wait) for name in _queues(targets)
    ]
    function = targets["function"]
    unavailable = preview_all(
        reports,
        lambda: function_settings(session.client("lambda"), function),
        s3_current_versions(session.client("s3")),
    )
    print(
        f'Dry run: nothing moved or deleted (ARGS=--apply redrives). "now" is what {function} would do with '
        "each event today.",
        file=console.out,
    )
    _print_queues(reports, console, last="now")
    if unavailable:
        print(f"No preview: {unavailable}", file=console.err)
    return EXIT_CANNOT_REDRIVE if any(report.problem for report in reports) else 0


def _queues(targets: dict[str, str]) -> list[str]:
    return [name for name in (RULE_DLQ, CENTRAL_RULE_DLQ, FAILED_START) if name in targets]


def _apply(args: argparse.Namespace, sqs: Any, targets: dict[str, str], console: _Console) -> int:
    trigger, out = targets["trigger"], console.out
    reports = [
        send_to_trigger_queue(sqs, name, targets[name], trigger, max_messages=args.max_messages, wait_s=args.wait)
        for name in _queues(targets)
    ]
    failed = reports[-1]
    # After the reader released what it held: a move task moves only visible messages.
    start_move_task(sqs, failed, targets[FAILED_START], args.max_per_second)
    sent = " and ".join(report.name for report in reports[:-1])
    print(f"Redrive to the trigger queue: {sent} by send then delete, failed-start by an SQS move task.", file=out)
    _print_queues(reports, console, last="action")
    if failed.move_task:
        print(
            f"failed-start: move task started (handle {failed.move_task}); `make redrive ARGS=--status` shows it.",
            file=out,
        )
    if failed.move_problem:
        print(f"failed-start: {failed.move_problem}", file=out)
    if any(report.problem for report in reports):
        return EXIT_CANNOT_REDRIVE
    left = [letter for report in reports for letter in report.letters if not letter.moved]
    return EXIT_NOT_ALL_MOVED if left or failed.move_problem else 0


def _print_queues(reports: Sequence[QueueReport], console: _Console, *, last: str) -> None:
    out, err, now = console.out, console.err, console.now
    for report in reports:
        if report.problem:
            print(f"{report.name}: could not be read: {report.problem}", file=err)
        print(f"{report.name}: {_summary(report, now)}", file=out)
    letters = [letter for report in reports for letter in report.letters]
    if letters:
        print(format_table(letters, now=now, last=last), file=out)
    elif not any(report.problem for report in reports):
        every = "both queues are" if len(reports) == 2 else f"the {len(reports)} queues are"
        print(f"Nothing to redrive: {every} empty.", file=out)


def _summary(report: QueueReport, now: float) -> str:
    if report.problem and not report.letters:
        return "not read"
    if not report.letters:
        return "empty"
    count = f"{'at least ' if report.full else ''}{len(report.letters)} message(s)"
    times = [letter.sent_at for letter in report.letters if letter.sent_at is not None]
    return f"{count}, oldest {age(now - min(times))}" if times else count


def _print_status(tasks: list[dict[str, Any]], out: Any) -> int:
    if not tasks:
        print("failed-start: no move task yet.", file=out)
        return 0
    print("failed-start: move tasks, newest first", file=out)
    for task in tasks:
        started = task.get("StartedTimestamp")
        when = datetime.fromtimestamp(int(started) / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if started else "?"
        line = (
            f"{task.get('Status', '?')}  started {when}  moved {task.get('ApproximateNumberOfMessagesMoved', 0)} "
            f"of {task.get('ApproximateNumberOfMessagesToMove', '?')}"
        )
        if task.get("TaskHandle"):
            line += f"  handle {task['TaskHandle']}"
        if task.get("FailureReason"):
            line += f"  failure: {task['FailureReason']}"
        print(line, file=out)
    return 0


def _targets(
    args: argparse.Namespace, session: Any, location: StackLocation, wanted: list[str], optional: list[str]
) -> dict[str, str]:
    """Queue URLs and function name: the options given, the rest from the stack's outputs; an optional one only
    when given or when the stack has its output."""
    given = {name: getattr(args, _OUTPUTS[name][1].removeprefix("--").replace("-", "_")) for name in wanted + optional}
    if all(given[name] for name in wanted):
        return {name: str(value) for name, value in given.items() if value}
    if not location.stack_name:
        raise CannotRedrive(
            f"no stack name in {args.config_env!r} of samconfig.toml: deploy with `make deploy` (it saves the name "
            "there), or pass STACK=name"
        )
    outputs = stack_outputs(session.client("cloudformation"), location.stack_name)
    missing = [_OUTPUTS[name][0] for name in wanted if not given[name] and _OUTPUTS[name][0] not in outputs]
    if missing == ["TriggerQueueUrl"]:
        raise CannotRedrive(
            f"stack {location.stack_name!r} has no output TriggerQueueUrl: it was deployed before the trigger queue; "
            "run `make deploy`, then redrive"
        )
    if missing:
        raise CannotRedrive(
            f"stack {location.stack_name!r} has no output(s) {', '.join(missing)}: it is not this project's stack; "
            "pass STACK=name of the trigger stack"
        )
    present = [name for name in optional if given[name] or _OUTPUTS[name][0] in outputs]
    return {name: str(given[name] or outputs[_OUTPUTS[name][0]]) for name in wanted + present}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make redrive",
        description="List the events kept in the stack's dead-letter queues, and send them back to the trigger queue.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--apply", action="store_true", help="redrive to the trigger queue (default: dry run)")
    mode.add_argument("--status", action="store_true", help="list the failed-start queue's move tasks")
    parser.add_argument(
        "--stack-name", default=None, help="stack to read queue URLs and function name from (default: samconfig's)"
    )
    parser.add_argument(
        "--region", default=None, help="default: samconfig.toml's, else AWS_REGION / AWS_DEFAULT_REGION / profile"
    )
    parser.add_argument("--config-env", default=DEFAULT_ENV, help="samconfig.toml environment (default: default)")
    parser.add_argument("--rule-dlq-url", help="the rule's dead-letter queue instead of the stack's")
    parser.add_argument(
        "--central-rule-dlq-url", help="the central bus rule's dead-letter queue instead of the stack's (if any)"
    )
    parser.add_argument("--failed-start-url", help="the failed-start queue instead of the stack's")
    parser.add_argument("--trigger-queue-url", help="the trigger queue instead of the stack's")
    parser.add_argument("--function-name", help="the function whose settings the dry run uses, instead of the stack's")
    parser.add_argument("--max-messages", type=int, default=100, help="at most this many messages per queue")
    parser.add_argument("--max-per-second", type=int, default=None, help="move task rate (default: SQS chooses)")
    parser.add_argument("--wait", type=int, default=1, help="SQS long-poll seconds per receive (0-20)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
