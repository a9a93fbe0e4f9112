"""The QUEUED path: EventBridge's rule sends each event to TriggerQueue; an event source mapping hands batches over.

The queue (SQS standard): a message received is invisible for VisibilityTimeout; one received MaxReceiveCount times
and received again is moved to the dead-letter queue (FailedStartQueue) instead. The event source mapping: at most
MaximumConcurrency invocations at once, each poller long-polling (20 s) for up to BatchSize messages, no batching
window; with ReportBatchItemFailures the messages the function names stay in the queue (visible again when their
visibility timeout ends) and the rest are deleted in one DeleteMessageBatch; an error or a timeout leaves the
whole batch. Every SendMessage, ReceiveMessage (empty ones too) and DeleteMessageBatch is counted: SQS bills each.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.simulation.services import Invocations, World, invoke
from bench.simulation.workload import Delivery

from trigger_fn.clients import AwsClients
from trigger_fn.settings import start_interval

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:s3-pipeline-trigger-TriggerQueue-SIMULATED"
LONG_POLL_S = 20.0
SQS_LATENCY_S = 0.01


@dataclass(frozen=True)
class QueuedConfig:
    batch_size: int = 10
    maximum_concurrency: int = 2
    visibility_timeout_s: float = 180.0
    max_receive_count: int = 10
    # The template's MaxStartsPerSecond: each poller's environment paces its starts at MaxConcurrency / this.
    max_starts_per_s: float = 10.0


@dataclass
class Message:
    number: int
    delivery: Delivery
    body: str
    sent_at: float
    visible_at: float
    receives: int = 0
    first_received_at: float | None = None
    dead_at: float | None = None


@dataclass
class Requests:
    send: int = 0
    receive: int = 0
    empty_receive: int = 0
    delete_batch: int = 0
    # Messages handed over again after a failure or a timeout (not billed: counted to show retries happened).
    redelivered: int = 0
    most_receives: int = 0

    @property
    def total(self) -> int:
        return self.send + self.receive + self.delete_batch


@dataclass
class TriggerQueue:
    world: World
    config: QueuedConfig
    messages: dict[int, Message] = field(default_factory=dict)
    dead_letters: list[Message] = field(default_factory=list)
    requests: Requests = field(default_factory=Requests)
    wakers: list[Callable[[], None]] = field(default_factory=list)
    _numbers: int = 0

    def send(self, delivery: Delivery) -> None:
        """EventBridge's SendMessage to the queue: the event as the message body."""
        now = self.world.kernel.now()
        self._numbers += 1
        self.requests.send += 1
        body = json.dumps(delivery.upload.event)
        self.messages[self._numbers] = Message(self._numbers, delivery, body, now, now)
        for wake in self.wakers:
            wake()

    def receive(self) -> list[Message]:
        """One ReceiveMessage: up to BatchSize visible messages, oldest first, each now invisible."""
        now = self.world.kernel.now()
        self.requests.receive += 1
        batch: list[Message] = []
        for message in sorted(self.messages.values(), key=lambda m: (m.visible_at, m.number)):
            if message.visible_at > now or len(batch) == self.config.batch_size:
                break
            if message.receives >= self.config.max_receive_count:
                # The redrive policy: received maxReceiveCount times already, so it moves instead of coming back.
                del self.messages[message.number]
                message.dead_at = now
                self.dead_letters.append(message)
                continue
            message.receives += 1
            self.requests.redelivered += message.receives > 1
            self.requests.most_receives = max(self.requests.most_receives, message.receives)
            message.first_received_at = message.first_received_at or now
            message.visible_at = now + self.config.visibility_timeout_s
            batch.append(message)
        if not batch:
            self.requests.empty_receive += 1
        return batch

    def delete(self, messages: list[Message]) -> None:
        if messages:
            self.requests.delete_batch += 1
        for message in messages:
            self.messages.pop(message.number, None)

    def next_visible(self) -> float | None:
        return min((message.visible_at for message in self.messages.values()), default=None)


@dataclass
class QueuedPath:
    world: World
    config: QueuedConfig = field(default_factory=QueuedConfig)
    invocations: Invocations = field(default_factory=Invocations)
    settled_at: dict[int, float] = field(default_factory=dict)
    queue: TriggerQueue = field(init=False)
    # Deliveries EventBridge has yet to send: the pollers stop once none are left and the queue is empty.
    unsent: int = 0

    def __post_init__(self) -> None:
        self.queue = TriggerQueue(self.world, self.config)

    def deliver(self, delivery: Delivery) -> None:
        self.unsent -= 1
        self.queue.send(delivery)

    def start_pollers(self, at: float) -> None:
        for number in range(self.config.maximum_concurrency):
            self.world.kernel.spawn(at, self._poll, f"poller-{number + 1}")

    def _poll(self) -> None:
        kernel = self.world.kernel
        self.queue.wakers.append(kernel.waker())
        # One execution environment per poller: its clients, and so its start pacer, last across its batches.
        clients = self.world.environment_clients(
            start_interval(self.config.max_starts_per_s, self.config.maximum_concurrency)
        )
        while self.unsent > 0 or self.queue.messages:
            kernel.wait(SQS_LATENCY_S)
            batch = self.queue.receive()
            if not batch:
                upcoming = self.queue.next_visible()
                wait = LONG_POLL_S if upcoming is None else min(LONG_POLL_S, max(upcoming - kernel.now(), 0.0))
                kernel.park(wait)
                continue
            self._invoke(batch, clients)
        for message in self.queue.dead_letters:
            self.settled_at.setdefault(id(message.delivery), message.dead_at or kernel.now())

    def _invoke(self, batch: list[Message], clients: AwsClients) -> None:
        kernel = self.world.kernel
        event = {"Records": [_record(message) for message in batch]}
        try:
            result: Any = invoke(self.world, event, self.invocations, records=len(batch), clients=clients)
        except Exception:  # noqa: BLE001 - the whole batch stays in the queue, as with any invocation error
            return
        failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
        done = [message for message in batch if _message_id(message) not in failed]
        kernel.wait(SQS_LATENCY_S)
        self.queue.delete(done)
        for message in done:
            self.settled_at[id(message.delivery)] = kernel.now()


def _message_id(message: Message) -> str:
    return f"00000000-0000-4000-8000-{message.number:012d}"


def _record(message: Message) -> dict[str, Any]:
    """The record as Lambda's SQS event source hands it to the function."""
    return {
        "messageId": _message_id(message),
        "receiptHandle": f"AQEB{message.number:012d}{message.receives}",
        "body": message.body,
        "attributes": {
            "ApproximateReceiveCount": str(message.receives),
            "SentTimestamp": str(int(message.sent_at * 1000)),
            "SenderId": "AIDAEVENTBRIDGE",
            "ApproximateFirstReceiveTimestamp": str(int((message.first_received_at or message.sent_at) * 1000)),
        },
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "us-east-1",
    }
