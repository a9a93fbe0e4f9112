"""AWS errors as an operator reads them: one line with the problem and the fix, never a traceback.

The operator tools (`make start`, `make redrive`, `make check-alarms`, `make deploy`) print `explain(error, location)`
and exit non-zero. The fixes name the make variables (STACK=, REGION=), which every operator target accepts.
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    SSOError,
)
from botocore.exceptions import ConnectionError as EndpointUnreachable

from ops.stack import StackLocation

_EXPIRED = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})
_REJECTED = frozenset(
    {"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "InvalidAccessKeyId"}
)
_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "AuthorizationError", "UnauthorizedOperation"})
_SIGN_IN = "sign in (`aws configure`, `aws sso login --profile NAME`) or set AWS_PROFILE"


def explain(error: BotoCoreError | ClientError, location: StackLocation) -> str:
    if isinstance(error, ClientError):
        return _client_error(error, location)
    for kinds, fix in _LOCAL_PROBLEMS:
        if isinstance(error, kinds):
            return fix.format(error=error, location=location)
    return f"{type(error).__name__}: {error}"


# botocore's own errors (nothing reached AWS): the kind, then the line to print.
_LOCAL_PROBLEMS: tuple[tuple[type[BotoCoreError] | tuple[type[BotoCoreError], ...], str], ...] = (
    ((NoCredentialsError, PartialCredentialsError), "no usable AWS credentials ({error}): " + _SIGN_IN),
    (SSOError, "your AWS SSO session is not valid ({error}): run `aws sso login` and try again"),
    (
        ProfileNotFound,
        "{error} (AWS_PROFILE, or profile in samconfig.toml): use a profile from `aws configure list-profiles`",
    ),
    (NoRegionError, "no AWS region: pass REGION=name, or set AWS_DEFAULT_REGION or a region in your AWS profile"),
    (
        EndpointUnreachable,
        "{error} (region {location.region}, from {location.region_from}): check the region and your network",
    ),
)


def _client_error(error: ClientError, location: StackLocation) -> str:
    details = error.response.get("Error", {})
    code = str(details.get("Code", "Unknown"))
    message = str(details.get("Message", ""))
    operation = error.operation_name
    if code in _EXPIRED:
        return f"your AWS credentials have expired ({code}): {_SIGN_IN}"
    if code in _REJECTED:
        return f"AWS rejected your credentials ({code} on {operation}): {_SIGN_IN}"
    if code in _DENIED:
        return f"{operation} was denied ({code}: {message}): your AWS identity needs that permission"
    if operation == "DescribeStacks" and code == "ValidationError" and "does not exist" in message:
        return (
            f"stack {location.stack_name!r} does not exist in {location.region} "
            f"(stack name from {location.stack_from}, region from {location.region_from}): "
            "deploy it with `make deploy`, or pass STACK=name REGION=region"
        )
    return f"{operation} failed: {code}: {message}"
