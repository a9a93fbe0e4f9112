"""Lambda entry point: S3 `Object Created` events in, pipelines started on those exact versions out.

The queue's batches (TriggerQueue) go to trigger_fn.batch; one plain EventBridge event (sam local invoke, make
invoke) to trigger_fn.trigger.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from trigger_fn.batch import handle_batch
from trigger_fn.clients import AwsClients
from trigger_fn.observability import logger, metrics, tracer
from trigger_fn.queue_records import is_queue_batch
from trigger_fn.settings import load_settings
from trigger_fn.trigger import handle_event

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

# Read at init so a bad setting fails the cold start, naming the variable, before any event is taken.
SETTINGS = load_settings(os.environ)
# No client is made here: each is made on the first event that needs it.
CLIENTS = AwsClients(start_interval_s=SETTINGS.start_interval_s)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: Any, context: LambdaContext, clients: AwsClients | None = None) -> dict[str, Any]:
    def remaining_s() -> float:
        return context.get_remaining_time_in_millis() / 1000

    batch = is_queue_batch(event)
    # What clear_state=True and correlation_paths.EVENT_BRIDGE did, for less: the keys an earlier event appended are
    # reset (None is left out of log lines), and the EventBridge event's `id` is read directly. A batch has no one
    # correlation id: each record sets its event's.
    correlation_id = None if batch or not isinstance(event, dict) else event.get("id")
    logger.append_keys(correlation_id=correlation_id, message_id=None, bucket=None, key=None, version_id=None)
    if batch:
        return handle_batch(event, SETTINGS, clients or CLIENTS, remaining_s=remaining_s)
    return handle_event(event, SETTINGS, clients or CLIENTS, remaining_s=remaining_s)
