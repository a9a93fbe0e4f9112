"""The S3 adapter: the exact HeadObject, what "no current object" looks like, and its failures named."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber

from local.aws_models.s3 import FakeS3
from trigger_fn.object_versions import CurrentVersion, current_version
from trigger_fn.retries import AwsCallFailed, RetryPolicy

BUCKET = "my-artifact-bucket"
KEY = "releases/my site.zip"
# Without a VersionId: HeadObject then answers for the key's current version, and needs only s3:GetObject.
EXPECTED_PARAMS = {"Bucket": BUCKET, "Key": KEY}


@pytest.fixture
def s3() -> Iterator[tuple[object, Stubber]]:
    client = boto3.client("s3", region_name="eu-west-1")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def _check(client: object, sleeps: list[float] | None = None) -> CurrentVersion:
    retry = RetryPolicy(sleep=(sleeps if sleeps is not None else []).append, jitter=lambda low, high: high)
    return current_version(client, BUCKET, KEY, retry)  # type: ignore[arg-type]


def test_asks_for_the_current_version_of_exactly_the_key(s3: tuple[object, Stubber]) -> None:
    client, stub = s3
    stub.add_response("head_object", {"VersionId": "v2.abc"}, EXPECTED_PARAMS)

    assert _check(client) == CurrentVersion("v2.abc")


def test_an_unversioned_object_is_the_null_version(s3: tuple[object, Stubber]) -> None:
    client, stub = s3
    stub.add_response("head_object", {"ContentLength": 3}, EXPECTED_PARAMS)

    assert _check(client) == CurrentVersion("null")


@pytest.mark.parametrize("code", ["404", "NoSuchKey"])
def test_no_current_object_is_a_deleted_object(s3: tuple[object, Stubber], code: str) -> None:
    client, stub = s3
    stub.add_client_error(
        "head_object",
        service_error_code=code,
        http_status_code=404,
        response_meta={"HTTPHeaders": {"x-amz-delete-marker": "true"}},
        expected_params=EXPECTED_PARAMS,
    )

    assert _check(client) == CurrentVersion(None)


@pytest.mark.parametrize(("code", "status"), [("503", 503), ("SlowDown", 503), ("500", 500), ("InternalError", 500)])
def test_throttling_and_server_errors_are_retried(s3: tuple[object, Stubber], code: str, status: int) -> None:
    client, stub = s3
    stub.add_client_error("head_object", service_error_code=code, http_status_code=status)
    stub.add_client_error("head_object", service_error_code=code, http_status_code=status)
    stub.add_response("head_object", {"VersionId": "v2.abc"}, EXPECTED_PARAMS)
    sleeps: list[float] = []

    assert _check(client, sleeps) == CurrentVersion("v2.abc")
    assert sleeps == [0.2, 0.4]


def test_connection_errors_are_retried() -> None:
    s3 = FakeS3()
    s3.put(BUCKET, KEY, version_id="v2.abc")
    s3.fail_next("connection-lost", "connection-reset")

    assert _check(s3) == CurrentVersion("v2.abc")
    assert s3.requests == [EXPECTED_PARAMS] * 3


def test_a_check_that_keeps_failing_raises_transient(s3: tuple[object, Stubber]) -> None:
    client, stub = s3
    for _ in range(4):
        stub.add_client_error("head_object", service_error_code="503", http_status_code=503)

    with pytest.raises(AwsCallFailed) as raised:
        _check(client)

    assert (raised.value.code, raised.value.transient, raised.value.attempts) == ("503", True, 4)
    assert f"HeadObject(s3://{BUCKET}/{KEY}) failed, so its current version is unknown" in str(raised.value)


@pytest.mark.parametrize("code", ["403", "AccessDenied"])
def test_access_denied_raises_at_once_naming_the_permission_and_the_key(s3: tuple[object, Stubber], code: str) -> None:
    client, stub = s3
    stub.add_client_error("head_object", service_error_code=code, http_status_code=403)
    sleeps: list[float] = []

    with pytest.raises(AwsCallFailed) as raised:
        _check(client, sleeps)

    assert (raised.value.transient, raised.value.attempts, sleeps) == (False, 1, [])
    assert f"needs s3:GetObject on arn:aws:s3:::{BUCKET}/{KEY}" in str(raised.value)
