"""Every AWS failure an operator tool can meet, as the one line it prints: the problem, then the fix."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
    UnauthorizedSSOTokenError,
)

from ops.aws_problems import explain
from ops.stack import StackLocation

LOCATION = StackLocation(
    "my-release-trigger", "samconfig.toml [default]", "us-east-2", "samconfig.toml [default]", None
)
SIGN_IN = "sign in (`aws configure`, `aws sso login --profile NAME`) or set AWS_PROFILE"


def client_error(code: str, message: str, operation: str = "DescribeStacks") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            client_error("ValidationError", "Stack with id my-release-trigger does not exist"),
            "stack 'my-release-trigger' does not exist in us-east-2 (stack name from samconfig.toml [default], "
            "region from samconfig.toml [default]): deploy it with `make deploy`, or pass STACK=name REGION=region",
        ),
        (
            client_error("ExpiredToken", "The security token included in the request is expired"),
            f"your AWS credentials have expired (ExpiredToken): {SIGN_IN}",
        ),
        (
            client_error("InvalidClientTokenId", "The security token included in the request is invalid."),
            f"AWS rejected your credentials (InvalidClientTokenId on DescribeStacks): {SIGN_IN}",
        ),
        (
            client_error("AccessDenied", "User: arn:aws:iam::1:user/ci is not authorized", "ListStackResources"),
            "ListStackResources was denied (AccessDenied: User: arn:aws:iam::1:user/ci is not authorized): "
            "your AWS identity needs that permission",
        ),
        (
            client_error("ThrottlingException", "Rate exceeded", "GetFunctionConfiguration"),
            "GetFunctionConfiguration failed: ThrottlingException: Rate exceeded",
        ),
        (NoCredentialsError(), f"no usable AWS credentials (Unable to locate credentials): {SIGN_IN}"),
        (
            UnauthorizedSSOTokenError(),
            "your AWS SSO session is not valid (The SSO session associated with this profile has expired or is "
            "otherwise invalid. To refresh this SSO session run aws sso login with the corresponding profile.): "
            "run `aws sso login` and try again",
        ),
        (
            ProfileNotFound(profile="releases"),
            "The config profile (releases) could not be found (AWS_PROFILE, or profile in samconfig.toml): "
            "use a profile from `aws configure list-profiles`",
        ),
        (
            NoRegionError(),
            "no AWS region: pass REGION=name, or set AWS_DEFAULT_REGION or a region in your AWS profile",
        ),
        (
            EndpointConnectionError(endpoint_url="https://cloudformation.us-east-2.amazonaws.com/"),
            'Could not connect to the endpoint URL: "https://cloudformation.us-east-2.amazonaws.com/" '
            "(region us-east-2, from samconfig.toml [default]): check the region and your network",
        ),
    ],
    ids=[
        "no-such-stack",
        "expired",
        "rejected",
        "denied",
        "other-aws-error",
        "no-credentials",
        "sso-expired",
        "no-profile",
        "no-region",
        "unreachable",
    ],
)
def test_one_line_with_the_problem_and_the_fix(error: Exception, line: str) -> None:
    explained = explain(error, LOCATION)  # type: ignore[arg-type]

    assert explained == line
    assert "\n" not in explained
