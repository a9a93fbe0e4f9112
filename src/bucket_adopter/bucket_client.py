"""S3 adapters: read and write one bucket's notification configuration and tags, errors turned into one exception."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Required, TypedDict, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bucket_adopter.adoption import Target
from bucket_adopter.notifications import configuration_from_response

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import NotificationConfigurationTypeDef, TagTypeDef

NO_SUCH_BUCKET = "NoSuchBucket"
# GetBucketTagging's answer for a bucket without tags (the API reference names the second spelling).
_NO_TAGS = frozenset({"NoSuchTagSet", "NoSuchTagSetError"})


class BucketCallFailed(Exception):
    """An S3 call failed; the message is fit for CloudFormation's status reason."""

    def __init__(self, operation: str, bucket: str, code: str, message: str) -> None:
        self.operation = operation
        self.bucket = bucket
        self.code = code
        super().__init__(f"{operation} on bucket {bucket!r} failed: {code}: {message}")


@dataclass
class BucketNotifications:
    client: S3Client

    def read(self, target: Target) -> dict[str, Any]:
        try:
            response = self.client.get_bucket_notification_configuration(**_bucket_params(target))
        except (ClientError, BotoCoreError) as error:
            raise _failed("GetBucketNotificationConfiguration", target, error) from error
        return configuration_from_response(cast("dict[str, Any]", response))

    def write(self, target: Target, configuration: dict[str, Any]) -> None:
        try:
            self.client.put_bucket_notification_configuration(
                **_bucket_params(target),
                NotificationConfiguration=cast("NotificationConfigurationTypeDef", configuration),
                # The queues, topics and functions written back are the owner's, unchanged: a test message
                # to each (and failing the whole write if one of them is broken) is not this stack's business.
                SkipDestinationValidation=True,
            )
        except (ClientError, BotoCoreError) as error:
            raise _failed("PutBucketNotificationConfiguration", target, error) from error


@dataclass
class BucketTags:
    client: S3Client

    def read(self, target: Target) -> list[dict[str, str]]:
        try:
            response = self.client.get_bucket_tagging(**_bucket_params(target))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _NO_TAGS:
                return []
            raise _failed("GetBucketTagging", target, error) from error
        except BotoCoreError as error:
            raise _failed("GetBucketTagging", target, error) from error
        return [{"Key": tag["Key"], "Value": tag["Value"]} for tag in response["TagSet"]]

    def write(self, target: Target, tags: list[dict[str, str]]) -> None:
        """PutBucketTagging replaces the whole set; no tag left is DeleteBucketTagging (same s3:PutBucketTagging)."""
        try:
            if tags:
                self.client.put_bucket_tagging(
                    **_bucket_params(target), Tagging={"TagSet": cast("list[TagTypeDef]", tags)}
                )
            else:
                self.client.delete_bucket_tagging(**_bucket_params(target))
        except (ClientError, BotoCoreError) as error:
            raise _failed("PutBucketTagging" if tags else "DeleteBucketTagging", target, error) from error


def make_client() -> S3Client:
    # Bounded calls, so the handler answers CloudFormation well before the function's timeout.
    config = Config(retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=5, read_timeout=15)
    return boto3.client("s3", config=config)


# Typed, so that mypy checks the bucket parameters against each S3 call's own.
class _BucketParams(TypedDict, total=False):
    Bucket: Required[str]
    ExpectedBucketOwner: str


def _bucket_params(target: Target) -> _BucketParams:
    params: _BucketParams = {"Bucket": target.bucket}
    if target.expected_owner is not None:
        params["ExpectedBucketOwner"] = target.expected_owner
    return params


def _failed(operation: str, target: Target, error: Exception) -> BucketCallFailed:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return BucketCallFailed(
            operation, target.bucket, str(details.get("Code", "Unknown")), str(details.get("Message", ""))
        )
    return BucketCallFailed(operation, target.bucket, type(error).__name__, str(error))
