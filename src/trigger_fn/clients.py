"""The function's AWS clients: one of each per execution environment, each made on first use, never at import.

Tests hand the handler their own AwsClients (moto, Stubber, a retry policy that does not sleep).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from trigger_fn.retries import RetryPolicy, StartPacer

if TYPE_CHECKING:
    from mypy_boto3_codepipeline import CodePipelineClient
    from mypy_boto3_s3 import S3Client

# botocore's retries off (trigger_fn.retries has the one loop); short timeouts leave room for that loop.
_CLIENT_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=3, read_timeout=10)


class AwsClients:
    def __init__(
        self,
        codepipeline: CodePipelineClient | None = None,
        *,
        s3: S3Client | None = None,
        retry: RetryPolicy | None = None,
        start_interval_s: float = 0.0,
    ) -> None:
        self._codepipeline = codepipeline
        self._s3 = s3
        self.retry = retry or RetryPolicy()
        # One per execution environment, like the clients: the spacing holds across warm invocations.
        self.start_pacer = StartPacer(start_interval_s, self.retry)

    @property
    def codepipeline(self) -> CodePipelineClient:
        # Honours AWS_ENDPOINT_URL_CODEPIPELINE, which points it at an emulator in the local demo.
        if self._codepipeline is None:
            self._codepipeline = boto3.client("codepipeline", config=_CLIENT_CONFIG)
        return self._codepipeline

    @property
    def s3(self) -> S3Client:
        # Made on the first versioned upload that a latestOnly route must check.
        if self._s3 is None:
            self._s3 = boto3.client("s3", config=_CLIENT_CONFIG)
        return self._s3
