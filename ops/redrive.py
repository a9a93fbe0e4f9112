"""Redrive the stack's dead letters: re-invoke the function on each kept event, delete only what it handled.

Two queues keep events the function did not handle:
- the rule's dead-letter queue (RuleDeadLetterQueueUrl): EventBridge could not deliver the event. The message
  body is the event itself; the attributes ERROR_CODE / ERROR_MESSAGE say why.
- the on-failure destination (FailedStartQueueUrl): the function ran and failed on every attempt. The body is
  Lambda's invocation record; the event is its `requestPayload`, the error its `responsePayload`.

Each event is sent to the function synchronously (RequestResponse), so the answer is known before the
message is touched. A message is deleted only when the function returned without a function error and
with status `started` (pipelines started, or found already started: by the idempotency token, or in the
pipeline's execution history for an old event) or `ignored` (not an event to act on, or a version that a
newer upload or a delete replaced: `superseded`, `object_deleted`; sending it again gives the same answer).
Anything else stays: a function error, `dry_run` (nothing was started), an unknown status, a message
whose shape is not one of the two above. Without --apply nothing is invoked or deleted.

    python -m ops.redrive                      # dry run: list what is in both queues
    python -m ops.redrive --apply              # redrive
    python -m ops.redrive --queue-url URL --function-name NAME --apply

The stack, region and profile are the ones `sam deploy` used (samconfig.toml, see ops.stack), unless given.
A failure to reach the stack is one line on stderr saying what is wrong and what to do, and exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ops.aws_problems import explain
from ops.deploy_config import DEFAULT_ENV, SAMCONFIG, ConfigError
from ops.stack import StackLocation, locate, stack_outputs

RULE_DLQ = "rule-dlq"
FAILED_START = "failed-start"
EXIT_CANNOT_REDRIVE = 2
# Received messages stay hidden while the run works through the queue; kept ones are released at the end.
_HIDE_S = 900
_MAX_CELL = 60


@dataclass(frozen=True)
class DeadLetter:
    """One message read from a dead-letter queue: the event it carries, or why it carries none."""

    shape: str  # "eventbridge-event", "invocation-record" or "unknown"
    event: dict[str, Any] | None
    previous_error: str


@dataclass(frozen=True)
class InvokeResult:
    function_error: str | None
    payload: Any


@dataclass
class Outcome:
    queue: str
    message_id: str
    letter: DeadLetter
    action: str = "kept"  # "deleted", "kept" or "would redrive"
    result: str = ""


class Invoker(Protocol):
    def __call__(self, function_name: str, event: dict[str, Any]) -> InvokeResult: ...


@dataclass
class QueueSource:
    name: str
    url: str


@dataclass
class RedriveReport:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def kept(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.action != "deleted"]


def read_dead_letter(body: str, attributes: dict[str, Any] | None = None) -> DeadLetter:
    """Tell the two message shapes apart and take the original event out of either."""
    try:
        document = json.loads(body)
    except json.JSONDecodeError:
        return DeadLetter("unknown", None, "body is not JSON")
    if not isinstance(document, dict):
        return DeadLetter("unknown", None, f"body is a JSON {type(document).__name__}, not an object")
    if isinstance(document.get("requestContext"), dict) and "requestPayload" in document:
        payload = document["requestPayload"]
        if not isinstance(payload, dict):
            return DeadLetter("unknown", None, "invocation record whose requestPayload is not an object")
        return DeadLetter("invocation-record", payload, _record_error(document))
    if all(name in document for name in ("source", "detail-type", "detail")):
        return DeadLetter("eventbridge-event", document, _attributes_error(attributes or {}))
    return DeadLetter("unknown", None, "neither an EventBridge event nor a Lambda invocation record")


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

    return " ".join(part for part in (value("ERROR_CODE"), value("ERROR_MESSAGE")) if part) or "?"


def judge(result: InvokeResult) -> tuple[bool, str]:
    """(handled, what to print) for the function's answer; see the module docstring for why."""
    if result.function_error:
        payload = result.payload if isinstance(result.payload, dict) else {}
        detail = ": ".join(str(payload[name]) for name in ("errorType", "errorMessage") if name in payload)
        return False, f"function error ({result.function_error}) {detail}".strip()
    status = result.payload.get("status") if isinstance(result.payload, dict) else None
    if status == "ignored":
        # superseded and object_deleted too: a newer upload (or the delete) settled what this event asked for.
        return True, f"ignored ({result.payload.get('reasonCode')})"
    if status == "started":
        return True, _started_summary(result.payload)
    return False, f"status {status!r} does not mean handled"


def _started_summary(payload: dict[str, Any]) -> str:
    """Which pipelines started now, which had already run this version, which were withheld and why."""
    parts = []
    for execution in payload.get("executions", []):
        pipeline = execution.get("request", {}).get("name", "?")
        already = " already started" if execution.get("alreadyStarted") else ""
        parts.append(f"{pipeline}{already} {execution.get('pipelineExecutionId', '?')}")
    parts.extend(f"{skip.get('pipeline')} {skip.get('reasonCode')}" for skip in payload.get("skipped", []))
    return "started" + (f" ({'; '.join(parts)})" if parts else "")


def redrive(
    sqs: Any,
    queues: Sequence[QueueSource],
    function_name: str,
    invoke: Invoker,
    *,
    apply: bool,
    max_messages: int = 100,
    wait_s: int = 1,
) -> RedriveReport:
    report = RedriveReport()
    for queue in queues:
        with _QueueReader(sqs, queue.url, max_messages, wait_s) as reader:
            for message in reader.messages():
                report.outcomes.append(_redrive_one(queue.name, message, reader, function_name, invoke, apply=apply))
    return report


def _redrive_one(
    queue: str, message: dict[str, Any], reader: _QueueReader, function_name: str, invoke: Invoker, *, apply: bool
) -> Outcome:
    letter = read_dead_letter(message["Body"], message.get("MessageAttributes"))
    outcome = Outcome(queue, message["MessageId"], letter)
    if letter.event is None:
        outcome.result = "left in the queue: unknown message shape"
        return outcome
    if not apply:
        outcome.action = "would redrive"
        return outcome
    try:
        result = invoke(function_name, letter.event)
    except (ClientError, BotoCoreError) as error:
        outcome.result = f"invoke failed: {error}"
        return outcome
    handled, outcome.result = judge(result)
    if handled:
        reader.delete(message)
        outcome.action = "deleted"
    return outcome


class _QueueReader:
    """Messages of one queue, each at most once per run; whatever is not deleted is visible again at the end."""

    def __init__(self, sqs: Any, url: str, limit: int, wait_s: int) -> None:
        self._sqs, self._url, self._limit, self._wait_s = sqs, url, limit, wait_s
        self._seen: set[str] = set()
        self._held: dict[str, str] = {}  # message id -> receipt handle, for messages still hidden by this run

    def __enter__(self) -> _QueueReader:
        return self

    def __exit__(self, *_: object) -> None:
        self._release()

    def messages(self) -> Iterator[dict[str, Any]]:
        # Bounded by receives too, so a queue that keeps handing back the same messages still ends the run.
        for _ in range(self._limit):
            if len(self._seen) >= self._limit:
                return
            response = self._sqs.receive_message(
                QueueUrl=self._url,
                MaxNumberOfMessages=min(10, self._limit - len(self._seen)),
                WaitTimeSeconds=self._wait_s,
                VisibilityTimeout=_HIDE_S,
                MessageAttributeNames=["All"],
            )
            fresh = [message for message in response.get("Messages", []) if message["MessageId"] not in self._seen]
            # Nothing new: the queue is drained, or only holds what this run has already looked at.
            if not fresh:
                return
            for message in fresh:
                self._seen.add(message["MessageId"])
                self._held[message["MessageId"]] = message["ReceiptHandle"]
                yield message

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


def lambda_invoker(client: Any) -> Invoker:
    """The real invoke: synchronous, so the function's answer decides what happens to the message."""

    def invoke(function_name: str, event: dict[str, Any]) -> InvokeResult:
        response = client.invoke(
            FunctionName=function_name,
            InvocationType="RequestResponse",
            Payload=json.dumps(event).encode("utf-8"),
        )
        raw = response["Payload"].read()
        try:
            payload = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            payload = raw.decode("utf-8", errors="replace")
        return InvokeResult(function_error=response.get("FunctionError"), payload=payload)

    return invoke


def format_table(report: RedriveReport) -> str:
    header = ("queue", "message", "shape", "event", "previous error", "action", "result")
    rows = [header]
    for outcome in report.outcomes:
        rows.append(
            (
                outcome.queue,
                outcome.message_id[:8],
                outcome.letter.shape,
                _describe_event(outcome.letter.event),
                outcome.letter.previous_error,
                outcome.action,
                outcome.result,
            )
        )
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]
    return "\n".join("  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)) for row in cells)


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
    try:
        session = (session_factory or location.session)()
        queues, function_name = _targets(args, session, location)
        report = _redrive_with(session, args, queues, function_name)
    except (ClientError, BotoCoreError) as error:
        print(f"Cannot redrive: {explain(error, location)}", file=err)
        return EXIT_CANNOT_REDRIVE
    except CannotRedrive as problem:
        print(f"Cannot redrive: {problem}", file=err)
        return EXIT_CANNOT_REDRIVE
    except KeyboardInterrupt:
        print("Interrupted; messages not yet handled become visible again after their visibility timeout.", file=err)
        return 130
    _print_report(report, args, queues, function_name, out)
    return 1 if args.apply and report.kept else 0


def _redrive_with(
    session: Any, args: argparse.Namespace, queues: list[QueueSource], function_name: str
) -> RedriveReport:
    sqs = session.client("sqs")
    # Never retry an invoke on a read timeout: the function may still be running it.
    lambda_client = session.client("lambda", config=Config(read_timeout=120, retries={"total_max_attempts": 1}))
    return redrive(
        sqs,
        queues,
        function_name,
        lambda_invoker(lambda_client),
        apply=args.apply,
        max_messages=args.max_messages,
        wait_s=args.wait,
    )


def _print_report(
    report: RedriveReport, args: argparse.Namespace, queues: list[QueueSource], function_name: str, out: Any
) -> None:
    mode = "apply" if args.apply else "dry run (nothing invoked or deleted; --apply to redrive)"
    print(f"Redrive of {', '.join(q.name for q in queues)} to {function_name}: {mode}", file=out)
    print(format_table(report) if report.outcomes else "Both queues are empty.", file=out)
    deleted = len(report.outcomes) - len(report.kept)
    print(f"{len(report.outcomes)} message(s): {deleted} deleted, {len(report.kept)} left in the queue.", file=out)


def _targets(args: argparse.Namespace, session: Any, location: StackLocation) -> tuple[list[QueueSource], str]:
    if args.queue_url and args.function_name:
        return [QueueSource("queue", url) for url in args.queue_url], args.function_name
    if not location.stack_name:
        raise CannotRedrive(
            f"no stack name in {args.config_env!r} of samconfig.toml: deploy with `make deploy` (it saves the name "
            "there), or pass STACK=name"
        )
    outputs = stack_outputs(session.client("cloudformation"), location.stack_name)
    missing = [
        name for name in ("RuleDeadLetterQueueUrl", "FailedStartQueueUrl", "TriggerFunctionName") if name not in outputs
    ]
    if missing:
        raise CannotRedrive(
            f"stack {location.stack_name!r} has no output(s) {', '.join(missing)}: it is not this project's stack; "
            "pass STACK=name of the trigger stack"
        )
    queues = [QueueSource(name, url) for name, url in _stack_queues(args, outputs)]
    return queues, args.function_name or outputs["TriggerFunctionName"]


def _stack_queues(args: argparse.Namespace, outputs: dict[str, str]) -> list[tuple[str, str]]:
    if args.queue_url:
        return [("queue", url) for url in args.queue_url]
    return [(RULE_DLQ, outputs["RuleDeadLetterQueueUrl"]), (FAILED_START, outputs["FailedStartQueueUrl"])]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make redrive",
        description="Re-invoke the trigger function on the events kept in the stack's dead-letter queues.",
    )
    parser.add_argument("--apply", action="store_true", help="invoke and delete handled messages (default: dry run)")
    parser.add_argument(
        "--stack-name", default=None, help="stack to read queue URLs and function name from (default: samconfig's)"
    )
    parser.add_argument(
        "--region", default=None, help="default: samconfig.toml's, else AWS_REGION / AWS_DEFAULT_REGION / profile"
    )
    parser.add_argument("--config-env", default=DEFAULT_ENV, help="samconfig.toml environment (default: default)")
    parser.add_argument("--queue-url", action="append", help="a queue to redrive instead of the stack's two (repeat)")
    parser.add_argument("--function-name", help="function to invoke instead of the stack's")
    parser.add_argument("--max-messages", type=int, default=100, help="at most this many messages per queue")
    parser.add_argument("--wait", type=int, default=1, help="SQS long-poll seconds per receive (0-20)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
