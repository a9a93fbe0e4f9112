"""Lambda entry point of the custom resource that adopts an existing bucket for S3 → EventBridge.

Create/Update add the stack to the bucket's adopter record (its tags), then turn EventBridge
notifications on (read, merge, write back: the bucket's queue, topic and Lambda notifications stay as
they are). Delete takes the stack out of the record and turns EventBridge off only when no adopter is
left and it was off before the first one came. CloudFormation always gets an answer: on success, on any
error, and shortly before the function would time out.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import CloudFormationCustomResourceEvent

from bucket_adopter.adopter_record import TagLimitReached
from bucket_adopter.adoption import (
    AdoptedBucket,
    Adopter,
    Adoption,
    InvalidProperties,
    Target,
    UnknownRequestType,
    bucket_to_adopt,
    not_adopted_id,
    parse_physical_id,
    plan_adopt,
    plan_release,
    plan_turn_off,
    target_from_properties,
)
from bucket_adopter.bucket_client import (
    NO_SUCH_BUCKET,
    BucketCallFailed,
    BucketNotifications,
    BucketTags,
    make_client,
)
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
    handle_request(event, context, *_s3_adapters())


def handle_request(
    event: dict[str, Any],
    context: Invocation,
    notifications: BucketNotifications,
    tags: BucketTags,
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
        adoption = _carry_out(cfn_event, notifications, tags)
    except (InvalidProperties, UnknownRequestType, TagLimitReached, BucketCallFailed) as error:
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
    if adoption is None:
        # A Delete must answer with the physical id it was given.
        responder.succeed(fallback_id, {})
    else:
        responder.succeed(adoption.physical_id, adoption.attributes)


def _carry_out(
    event: CloudFormationCustomResourceEvent, notifications: BucketNotifications, tags: BucketTags
) -> Adoption | None:
    """Do what the request asks; return the adoption to report (None: a Delete)."""
    adopter = Adopter.of(event.stack_id, event.logical_resource_id)
    if event.request_type == "Delete":
        _release(event, adopter, notifications, tags)
        return None
    target = target_from_properties(event.resource_properties)
    if event.request_type == "Create":
        adopted = bucket_to_adopt(None, target.bucket)
    elif event.request_type == "Update":
        adopted = bucket_to_adopt(parse_physical_id(event.physical_resource_id), target.bucket)
    else:
        raise UnknownRequestType(f"RequestType {event.request_type!r} is not Create, Update or Delete")
    plan = plan_adopt(adopted, adopter, notifications.read(target), tags.read(target))
    # The record first: a retry after EventBridge is on then finds itself recorded with the true before-fact.
    if plan.tags is not None:
        tags.write(target, plan.tags)
    if plan.notifications is not None:
        notifications.write(target, plan.notifications)
    logger.info(
        "Bucket adopted",
        extra={
            "bucket": target.bucket,
            "adopter": adopter.id,
            "eventbridge_was_on": plan.adoption.was_on,
            "wrote_record": plan.tags is not None,
            "wrote_configuration": plan.notifications is not None,
        },
    )
    return plan.adoption


def _release(
    event: CloudFormationCustomResourceEvent, adopter: Adopter, notifications: BucketNotifications, tags: BucketTags
) -> None:
    adopted = parse_physical_id(event.physical_resource_id)
    if adopted is None:
        logger.info("Nothing was adopted under this physical id; nothing to undo")
        return
    # The owner may differ from the template's now; the physical id names the bucket that was adopted.
    target = target_from_properties({**event.resource_properties, "BucketName": adopted.bucket})
    try:
        _release_bucket(target, adopted, adopter, notifications, tags)
    except BucketCallFailed as error:
        if error.code != NO_SUCH_BUCKET:
            raise
        logger.info("Bucket no longer exists; nothing to undo", extra={"bucket": adopted.bucket})


def _release_bucket(
    target: Target, adopted: AdoptedBucket, adopter: Adopter, notifications: BucketNotifications, tags: BucketTags
) -> None:
    plan = plan_release(adopted, adopter, tags.read(target))
    configuration = plan_turn_off(notifications.read(target)) if plan.turn_off else None
    # EventBridge off before the record goes: a Delete retried in between still finds itself the last adopter.
    if configuration is not None:
        notifications.write(target, configuration)
    if plan.tags is not None:
        tags.write(target, plan.tags)
    logger.info(
        "Bucket released",
        extra={
            "bucket": target.bucket,
            "adopter": adopter.id,
            "why": plan.why,
            "wrote_configuration": configuration is not None,
            "wrote_record": plan.tags is not None,
        },
    )


def _fail_on_timeout(responder: Responder, physical_id: str, log_stream: str) -> None:
    logger.error("Out of time before the work finished; answering FAILED")
    responder.fail(physical_id, f"timed out before the bucket's notifications could be set (log stream {log_stream})")


@cache
def _s3_adapters() -> tuple[BucketNotifications, BucketTags]:
    # One client per execution environment, made on first use.
    client = make_client()
    return BucketNotifications(client), BucketTags(client)
