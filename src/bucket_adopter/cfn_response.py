"""Answers CloudFormation exactly once per request, by PUT of a JSON document to the pre-signed ResponseURL."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger

SUCCESS = "SUCCESS"
FAILED = "FAILED"
# CloudFormation refuses response bodies over 4,096 bytes; the reason is what gets cut.
MAX_BODY_BYTES = 4096
_SEND_ATTEMPTS = 3
_CUT_MARK = "..."

logger = Logger(child=True)


@dataclass(frozen=True)
class Request:
    """The fields of a custom resource request that the answer must echo."""

    request_type: str
    response_url: str
    stack_id: str
    request_id: str
    logical_resource_id: str


def response_body(
    request: Request, status: str, physical_id: str, reason: str = "", data: dict[str, str] | None = None
) -> bytes:
    document: dict[str, Any] = {
        "Status": status,
        "Reason": reason,
        "PhysicalResourceId": physical_id,
        "StackId": request.stack_id,
        "RequestId": request.request_id,
        "LogicalResourceId": request.logical_resource_id,
        "Data": data or {},
    }
    body = json.dumps(document).encode("utf-8")
    if len(body) > MAX_BODY_BYTES:
        document["Reason"] = _cut_to_fit(reason, MAX_BODY_BYTES - (len(body) - _json_len(reason)))
        body = json.dumps(document).encode("utf-8")
    return body


def _cut_to_fit(text: str, budget: int) -> str:
    """The longest start of `text`, marked as cut, whose JSON string form fits in `budget` bytes."""
    shortest, longest = 0, len(text)
    while shortest < longest:
        middle = (shortest + longest + 1) // 2
        if _json_len(text[:middle] + _CUT_MARK) <= budget:
            shortest = middle
        else:
            longest = middle - 1
    return text[:shortest] + _CUT_MARK if _json_len(text[:shortest] + _CUT_MARK) <= budget else ""


def _json_len(text: str) -> int:
    return len(json.dumps(text).encode("utf-8"))


def put_response(url: str, body: bytes, timeout_s: float = 10.0) -> None:
    # An empty Content-Type: the pre-signed URL was signed without one.
    request = urllib.request.Request(  # noqa: S310 - the URL is CloudFormation's pre-signed https URL
        url, data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - same URL
        response.read()


@dataclass
class Responder:
    """Sends the first answer and drops every later one (the timeout guard and the handler may race)."""

    request: Request
    send: Callable[[str, bytes], None] = put_response
    sleep: Callable[[float], None] = time.sleep
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _answered: bool = field(default=False, init=False)

    def succeed(self, physical_id: str, data: dict[str, str]) -> bool:
        return self._answer(SUCCESS, physical_id, "", data)

    def fail(self, physical_id: str, reason: str) -> bool:
        return self._answer(FAILED, physical_id, reason or "failed without a message", None)

    def _answer(self, status: str, physical_id: str, reason: str, data: dict[str, str] | None) -> bool:
        with self._lock:
            if self._answered:
                logger.info("Already answered CloudFormation; dropping a later answer", extra={"status": status})
                return False
            self._answered = True
            body = response_body(self.request, status, physical_id, reason, data)
            for attempt in range(1, _SEND_ATTEMPTS + 1):
                try:
                    self.send(self.request.response_url, body)
                except OSError as error:  # urllib's URLError and HTTPError are OSErrors
                    logger.warning("Sending the response failed", extra={"attempt": attempt, "error": str(error)})
                    if attempt == _SEND_ATTEMPTS:
                        raise
                    self.sleep(attempt)
                    continue
                break
            # The URL is a credential for the answer: log the outcome, never the URL.
            logger.info(
                "Answered CloudFormation",
                extra={"status": status, "physical_resource_id": physical_id, "reason": reason},
            )
            return True
