"""S3 adapter: which version of a key is current now (HeadObject without a version id).

Needs s3:GetObject on the key, and s3:ListBucket for it: only then does S3 answer 404 for a key with no
current object (a delete marker, or nothing left); without it, 403. A 400 is S3's answer for an object
encrypted with a customer-provided key (SSE-C), which no one may describe without that key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from botocore.exceptions import ClientError

from trigger_fn.retries import TRANSIENT_ERROR_CODES, RetryPolicy, call_with_retries

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# S3 asks callers to slow down with 503 SlowDown; a HEAD answer has no body, so only the status may be known.
S3_TRANSIENT_CODES = TRANSIENT_ERROR_CODES | {"SlowDown", "RequestTimeout", "503", "500"}
# A HEAD answer has no body: a 404 says only "no current object here" (a delete marker, or no versions left).
_NO_CURRENT_OBJECT = frozenset({"404", "NoSuchKey", "NotFound"})
_ACCESS_DENIED = frozenset({"403", "AccessDenied"})
_NEEDS_CUSTOMER_KEY = "400"


class CurrentVersion(NamedTuple):
    """What S3 says the key's current version is now; None: no current object (a delete marker, or gone)."""

    version_id: str | None
    # S3 would not describe the object without its customer-provided key (SSE-C): no version is known.
    needs_customer_key: bool = False


def current_version(
    client: S3Client,
    bucket: str,
    key: str,
    retry: RetryPolicy,
    remaining_s: Callable[[], float] | None = None,
) -> CurrentVersion:
    """The key's current version; AwsCallFailed (operation HeadObject) when S3 cannot say."""

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

    def explain(code: str) -> str | None:
        if code not in _ACCESS_DENIED:
            return None
        # Without s3:ListBucket for the key, S3 also answers 403 for a key that has no current object.
        return (
            f"AccessDenied: the function's role needs s3:GetObject on arn:aws:s3:::{bucket}/{key}, and "
            f"s3:ListBucket on arn:aws:s3:::{bucket} with s3:prefix matching the key (else S3 answers 403, "
            "not 404, when the key has no current object); a bucket policy may also deny it"
        )

    response = call_with_retries(
        head,
        retry,
        "HeadObject",
        f"s3://{bucket}/{key}",
        remaining_s=remaining_s,
        transient_codes=S3_TRANSIENT_CODES,
        consequence="so its current version is unknown",
        explain=explain,
    )
    if isinstance(response, CurrentVersion):
        return response
    # An unversioned (or suspended) bucket's objects have the version id "null", or none at all.
    return CurrentVersion(version_id=response.get("VersionId") or "null")
