"""The function's AWS clients: one of each per execution environment, each made on first use, never at import.

Tests hand the handler their own AwsClients (moto, Stubber, a retry policy that does not sleep).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import boto3
from botocore.config import Config

from trigger_fn.pacing import StartPacer
from trigger_fn.retries import RetryPolicy

if TYPE_CHECKING:
    from mypy_boto3_codepipeline import CodePipelineClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sts import STSClient

# botocore's retries off (trigger_fn.retries has the one loop); short timeouts leave room for that loop.
_CLIENT_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=3, read_timeout=10)
# Shows in the pipeline account's CloudTrail as the session that started the execution.
SESSION_NAME = "s3-pipeline-trigger"
# Assumed again this long before the credentials expire (AssumeRole's default lifetime is an hour).
REFRESH_BEFORE_EXPIRY_S = 300


class AwsClients:
    def __init__(
        self,
        codepipeline: CodePipelineClient | None = None,
        *,
        s3: S3Client | None = None,
        retry: RetryPolicy | None = None,
        start_interval_s: float = 0.0,
        sts: STSClient | None = None,
        assumed_codepipeline: Callable[[str], AssumedClient] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._codepipeline = codepipeline
        self._s3 = s3
        self._sts = sts
        self.retry = retry or RetryPolicy()
        # One per execution environment, like the clients: the spacing holds across warm invocations.
        self.start_pacer = StartPacer(start_interval_s, self.retry)
        # How a client for another account's pipelines is made (tests wrap it in their CodePipeline model).
        self._assumed = assumed_codepipeline or (lambda role_arn: assumed_client(role_arn, self.sts))
        self._clock = clock
        # One client per starter role, kept until its credentials are about to expire.
        self._by_role: dict[str, AssumedClient] = {}

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

    @property
    def sts(self) -> STSClient:
        # Made on the first start of a pipeline in another account.
        if self._sts is None:
            self._sts = boto3.client("sts", config=_CLIENT_CONFIG)
        return self._sts

    def codepipeline_as(self, role_arn: str | None) -> CodePipelineClient:
        """The client that starts a pipeline: the function's own, or one acting as another account's starter role."""
        if role_arn is None:
            return self.codepipeline
        cached = self._by_role.get(role_arn)
        if cached is None or cached.expires_at - self._clock() < REFRESH_BEFORE_EXPIRY_S:
            cached = self._by_role[role_arn] = self._assumed(role_arn)
        return cached.client


def assumed_client(
    role_arn: str,
    sts: STSClient,
    *,
    session_name: str = SESSION_NAME,
    make_client: Callable[..., Any] = boto3.client,
    endpoint_url: str | None = None,
    config: Config = _CLIENT_CONFIG,
) -> AssumedClient:
    """A CodePipeline client acting as `role_arn` until shortly before its credentials expire.

    `make start` makes its own the same way, from the caller's session and with its own session name.
    """
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
    client: CodePipelineClient = make_client(
        "codepipeline",
        endpoint_url=endpoint_url,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        config=config,
    )
    return AssumedClient(client, credentials["Expiration"].timestamp())


class AssumedClient(NamedTuple):
    client: CodePipelineClient
    # Epoch seconds when its credentials expire.
    expires_at: float
