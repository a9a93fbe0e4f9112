"""S3 adapter: which version of a key is current now (HeadObject without a version id).

Needs s3:GetObject on the key, and s3:ListBucket for it: only then does S3 answer 404 for a key with no
current object (a delete marker, or nothing left); without it, 403. A 400 is S3's answer for an object
encrypted with a customer-provided key (SSE-C), which no one may describe without that key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from trigger_fn.decisions import CurrentVersion
from trigger_fn.retries import TRANSIENT_ERROR_CODES, CallFailed, RetryPolicy, call_with_retries

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# S3 asks callers to slow down with 503 SlowDown; a HEAD answer has no body, so only the status may be known.
S3_TRANSIENT_CODES = TRANSIENT_ERROR_CODES | {"SlowDown", "RequestTimeout", "503", "500"}
# A HEAD answer has no body: a 404 says only "no current object here" (a delete marker, or no versions left).
_NO_CURRENT_OBJECT = frozenset({"404", "NoSuchKey", "NotFound"})
_ACCESS_DENIED = frozenset({"403", "AccessDenied"})
_NEEDS_CUSTOMER_KEY = "400"


class VersionCheckFailed(Exception):
    """S3 could not say which version is current; nothing may start, the event must be kept."""

    def __init__(self, bucket: str, key: str, failure: CallFailed) -> None:
        self.code = failure.code
        self.transient = failure.transient
        self.attempts = failure.attempts
        where = f"s3://{bucket}/{key}"
        if failure.code in _ACCESS_DENIED:
            # Without s3:ListBucket for the key, S3 also answers 403 for a key that has no current object.
            detail = (
                f"AccessDenied: the function's role needs s3:GetObject on arn:aws:s3:::{bucket}/{key}, and "
                f"s3:ListBucket on arn:aws:s3:::{bucket} with s3:prefix matching the key (else S3 answers 403, "
                "not 404, when the key has no current object); a bucket policy may also deny it"
            )
        else:
            kind = "transient" if failure.transient else "permanent"
            detail = f"{failure.code} ({kind}, {failure.attempts} attempt(s)): {failure.message}"
        super().__init__(f"HeadObject({where}) failed, so its current version is unknown: {detail}")


def current_version(
    client: S3Client,
    bucket: str,
    key: str,
    retry: RetryPolicy,
    remaining_s: Callable[[], float] | None = None,
) -> CurrentVersion:
    def head() -> dict[str, Any] | CurrentVersion:
        try:
            return dict(client.head_object(Bucket=bucket, Key=key))
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code"))
            if code in _NO_CURRENT_OBJECT:
                return CurrentVersion(version_id=None)
            if code == _NEEDS_CUSTOMER_KEY:
                return CurrentVersion(version_id=None, needs_customer_key=True)
            raise

    try:
        response = call_with_retries(head, retry, remaining_s, S3_TRANSIENT_CODES)
    except CallFailed as failure:
        raise VersionCheckFailed(bucket, key, failure) from failure
    if isinstance(response, CurrentVersion):
        return response
    # An unversioned (or suspended) bucket's objects have the version id "null", or none at all.
    return CurrentVersion(version_id=response.get("VersionId") or "null")
