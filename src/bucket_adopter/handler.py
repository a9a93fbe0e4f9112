"""Lambda entry point of the custom resource that adopts an existing bucket for S3 → EventBridge.

Create/Update turn EventBridge notifications on (read, merge, write back: the bucket's queue, topic
and Lambda notifications stay as they are); Delete turns them off only if they were off before the
stack came. CloudFormation always gets an answer: on success, on any error, and shortly before the
function would time out.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import CloudFormationCustomResourceEvent

from bucket_adopter.adoption import (
    Adoption,
    InvalidProperties,
    UnknownRequestType,
    not_adopted_id,
    parse_physical_id,
    plan_adopt,
    plan_release,
    plan_update,
    target_from_properties,
)
from bucket_adopter.bucket_client import NO_SUCH_BUCKET, BucketCallFailed, BucketNotifications, make_client
from bucket_adopter.cfn_response import Request, Responder, put_response

if TYPE_CHECKING:
    from collections.abc import Callable

    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()


class Invocation(Protocol):
    """What the request handling needs of the Lambda context."""

    @property
    def log_stream_name(self) -> str: ...

    def get_remaining_time_in_millis(self) -> int: ...


# Answer FAILED this long before the function's timeout if the work has not finished by then.
TIMEOUT_MARGIN_S = 5.0


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    handle_request(event, context, _notifications())


def handle_request(
    event: dict[str, Any],
    context: Invocation,
    notifications: BucketNotifications,
    send: Callable[[str, bytes], None] = put_response,
) -> None:
    """Never raises for a failed request (Lambda would retry it): CloudFormation is told FAILED instead.

    Raises only when the answer itself cannot be delivered, so that Lambda's retry can deliver one.
    """
    cfn_event = CloudFormationCustomResourceEvent(event)
    request = Request(
        request_type=cfn_event.request_type,
        response_url=cfn_event.response_url,
        stack_id=cfn_event.stack_id,
        request_id=cfn_event.request_id,
        logical_resource_id=cfn_event.logical_resource_id,
    )
    logger.append_keys(request_type=request.request_type, logical_resource_id=request.logical_resource_id)
    # Until the work says otherwise, a failure keeps CloudFormation's physical id (a Create has none yet).
    fallback_id = cfn_event.physical_resource_id or not_adopted_id(request.request_id)
    responder = Responder(request, send=send)
    deadline = threading.Timer(
        max(0.0, context.get_remaining_time_in_millis() / 1000 - TIMEOUT_MARGIN_S),
        _fail_on_timeout,
        args=(responder, fallback_id, context.log_stream_name),
    )
    deadline.daemon = True
    deadline.start()
    try:
        adoption = _carry_out(cfn_event, notifications)
    except (InvalidProperties, UnknownRequestType, BucketCallFailed) as error:
        logger.error("Request failed", extra={"error": str(error)})
        responder.fail(fallback_id, f"{error} (log stream {context.log_stream_name})")
        return
    except Exception as error:  # never leave CloudFormation waiting, whatever went wrong
        logger.exception("Request failed unexpectedly")
        responder.fail(
            fallback_id, f"unexpected {type(error).__name__}: {error} (log stream {context.log_stream_name})"
        )
        return
    finally:
        deadline.cancel()
    if request.request_type == "Delete" or adoption is None:
        # A Delete must answer with the physical id it was given.
        responder.succeed(fallback_id, adoption.attributes if adoption else {})
    else:
        responder.succeed(adoption.physical_id, adoption.attributes)


def _carry_out(event: CloudFormationCustomResourceEvent, notifications: BucketNotifications) -> Adoption | None:
    """Do what the request asks; return the adoption to report (None: a Delete with nothing recorded)."""
    if event.request_type == "Delete":
        return _release(event, notifications)
    target = target_from_properties(event.resource_properties)
    current = notifications.read(target)
    if event.request_type == "Create":
        change = plan_adopt(target.bucket, current)
    elif event.request_type == "Update":
        change = plan_update(parse_physical_id(event.physical_resource_id), target.bucket, current)
    else:
        raise UnknownRequestType(f"RequestType {event.request_type!r} is not Create, Update or Delete")
    if change.write is not None:
        notifications.write(target, change.write)
    logger.info(
        "Bucket adopted",
        extra={
            "bucket": target.bucket,
            "eventbridge_was_on": change.adoption.was_on,
            "wrote_configuration": change.write is not None,
        },
    )
    return change.adoption


def _release(event: CloudFormationCustomResourceEvent, notifications: BucketNotifications) -> Adoption | None:
    adoption = parse_physical_id(event.physical_resource_id)
    if adoption is None:
        logger.info("Nothing was adopted under this physical id; nothing to undo")
        return None
    if adoption.was_on:
        logger.info("EventBridge was on before the stack came; leaving it on", extra={"bucket": adoption.bucket})
        return adoption
    # The owner may differ from the template's now; the physical id names the bucket that was adopted.
    target = target_from_properties({**event.resource_properties, "BucketName": adoption.bucket})
    try:
        current = notifications.read(target)
        configuration = plan_release(adoption, current)
        if configuration is not None:
            notifications.write(target, configuration)
    except BucketCallFailed as error:
        if error.code != NO_SUCH_BUCKET:
            raise
        logger.info("Bucket no longer exists; nothing to undo", extra={"bucket": adoption.bucket})
        return adoption
    logger.info("Bucket released", extra={"bucket": adoption.bucket, "wrote_configuration": configuration is not None})
    return adoption


def _fail_on_timeout(responder: Responder, physical_id: str, log_stream: str) -> None:
    logger.error("Out of time before the work finished; answering FAILED")
    responder.fail(physical_id, f"timed out before the bucket's notifications could be set (log stream {log_stream})")


@cache
def _notifications() -> BucketNotifications:
    # One client per execution environment, made on first use.
    return BucketNotifications(make_client())
