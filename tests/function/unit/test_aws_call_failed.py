"""The one failure the function raises to keep an event: its fields, and the words people search logs for."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from trigger_fn.retries import AwsCallFailed, RetryPolicy, call_with_retries

NO_WAIT = RetryPolicy(sleep=lambda _: None, jitter=lambda low, high: 0.0)


def _refused(code: str, message: str, status: int = 400) -> ClientError:
    response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "Operation")  # type: ignore[arg-type]


def _always(error: Exception) -> object:
    raise error


def test_a_transient_error_that_outlasts_the_retries_names_operation_target_code_kind_and_attempts() -> None:
    error = _refused("ConflictException", "another start holds the pipeline", 409)

    with pytest.raises(AwsCallFailed) as raised:
        call_with_retries(
            lambda: _always(error), NO_WAIT, "StartPipelineExecution", "p", transient_codes={"ConflictException"}
        )

    failure = raised.value
    assert (failure.operation, failure.target, failure.code, failure.transient, failure.attempts) == (
        "StartPipelineExecution",
        "p",
        "ConflictException",
        True,
        4,
    )
    assert failure.message == "another start holds the pipeline"
    assert str(failure) == (
        "StartPipelineExecution(p) failed with ConflictException (transient, 4 attempt(s)): "
        "another start holds the pipeline"
    )
    assert failure.__cause__ is error


def test_a_permanent_error_fails_at_once_in_the_same_words() -> None:
    with pytest.raises(AwsCallFailed) as raised:
        call_with_retries(
            lambda: _always(_refused("AccessDeniedException", "no")), NO_WAIT, "ListPipelineExecutions", "p"
        )

    assert (
        str(raised.value) == "ListPipelineExecutions(p) failed with AccessDeniedException (permanent, 1 attempt(s)): no"
    )


def test_a_consequence_and_an_explanation_word_what_the_failure_means() -> None:
    def explain(code: str) -> str | None:
        return "AccessDenied: the role needs s3:GetObject" if code == "403" else None

    with pytest.raises(AwsCallFailed) as denied:
        call_with_retries(
            lambda: _always(_refused("403", "", 403)),
            NO_WAIT,
            "HeadObject",
            "s3://b/k",
            consequence="so its current version is unknown",
            explain=explain,
        )
    with pytest.raises(AwsCallFailed) as other:
        call_with_retries(
            lambda: _always(_refused("InvalidRequest", "bad")),
            NO_WAIT,
            "HeadObject",
            "s3://b/k",
            consequence="so its current version is unknown",
            explain=explain,
        )

    assert str(denied.value) == (
        "HeadObject(s3://b/k) failed, so its current version is unknown: AccessDenied: the role needs s3:GetObject"
    )
    assert str(other.value) == (
        "HeadObject(s3://b/k) failed, so its current version is unknown: InvalidRequest (permanent, 1 attempt(s)): bad"
    )
