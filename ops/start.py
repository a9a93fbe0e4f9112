"""Start the pipeline on one S3 object now, with exactly the request the deployed function would send.

The routes come from the deployed function's own environment (Lambda GetFunctionConfiguration), the
revisions and the idempotency token from the function's own code (trigger_fn.start_requests). So a manual
start of the key's current version repeats the function's clientRequestToken, which CodePipeline uses to
recognise a repeated request. A version that is not the current one is a rollback: it gets a token of its
own (trigger_fn.tokens.rollback_token), so it starts a new execution even of a version built before.
A route with `pipelineAccount` starts its pipeline in that account, as the function does: through the starter role
the function's environment names (PIPELINE_STARTER_ROLE_NAME in that account), assumed with your own credentials.

    make start KEY=my-website.zip [VERSION=version-id] [STACK=stack-name] [REGION=region] [ARGS=--dry-run]
    PYTHONPATH=src python -m ops.start --key my-website.zip [--version V] [--stack-name S]
        [--function-name F] [--region R] [--config-env E] [--dry-run]

The stack, region and profile are the ones `sam deploy` used (samconfig.toml, see ops.stack), unless given.
Without a version, the object's newest version is used (S3 HeadObject). AWS_ENDPOINT_URL (and the
per-service AWS_ENDPOINT_URL_<SERVICE>) point every call at a local emulator instead of AWS.
Every failure is one line on stderr saying what is wrong and what to do, and a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ops.aws_problems import explain
from ops.deploy_config import DEFAULT_ENV, SAMCONFIG, ConfigError
from ops.function_settings import deployed_settings
from ops.stack import StackLocation, locate, stack_outputs
from trigger_fn.clients import assumed_client
from trigger_fn.object_versions import current_version
from trigger_fn.pipeline_client import start_execution
from trigger_fn.retries import AwsCallFailed, RetryPolicy
from trigger_fn.route_config import SettingsError
from trigger_fn.run import stale_reason
from trigger_fn.s3_event import NULL_VERSION_ID, S3ObjectCreated
from trigger_fn.settings import Settings
from trigger_fn.start_requests import StartRequest, plan_starts
from trigger_fn.tokens import rollback_token

FUNCTION_NAME_OUTPUT = "TriggerFunctionName"
_CODEPIPELINE_ENDPOINT = "AWS_ENDPOINT_URL_CODEPIPELINE"
_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NoSuchVersion", "NotFound"})
_FORBIDDEN_CODES = frozenset({"403", "AccessDenied", "Forbidden"})
# Shows in the pipeline account's CloudTrail as a person's start (the function's session is "s3-pipeline-trigger").
STARTER_SESSION_NAME = "s3-pipeline-trigger-make-start"
_CODEPIPELINE_CONFIG = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=20)
EXIT_OK = 0
EXIT_START_FAILED = 1
EXIT_CANNOT_START = 2


class CannotStart(Exception):
    """Nothing was sent: the stack, the function's settings or the object say why."""


@dataclass(frozen=True)
class DeployedFunction:
    name: str
    environment: dict[str, str]


def function_name_from_stack(cloudformation: Any, location: StackLocation) -> str:
    stack_name = str(location.stack_name)
    outputs = stack_outputs(cloudformation, stack_name)
    if FUNCTION_NAME_OUTPUT not in outputs:
        raise CannotStart(
            f"stack {stack_name!r} has no output {FUNCTION_NAME_OUTPUT}: it is not this project's stack; "
            "pass STACK=name of the trigger stack"
        )
    return outputs[FUNCTION_NAME_OUTPUT]


def deployed_function(lambda_client: Any, function_name: str) -> DeployedFunction:
    configuration = lambda_client.get_function_configuration(FunctionName=function_name)
    environment = configuration.get("Environment", {}).get("Variables", {})
    return DeployedFunction(name=function_name, environment=dict(environment))


def settings_of(function: DeployedFunction) -> Settings:
    try:
        return deployed_settings(function.environment)
    except SettingsError as error:
        raise CannotStart(f"function {function.name!r} has invalid settings: {error}") from error


def object_upload(s3: Any, bucket: str, key: str, version_id: str | None) -> S3ObjectCreated:
    """The object version as the function would have seen it in its `Object Created` event."""
    params = {"Bucket": bucket, "Key": key}
    if version_id is not None:
        params["VersionId"] = version_id
    try:
        head = s3.head_object(**params)
    except ClientError as error:
        raise CannotStart(_head_object_problem(error, bucket, key, version_id)) from error
    found_version = head.get("VersionId")
    return S3ObjectCreated(
        # Not an S3 event: the token uses the version, or for an unversioned object its ETag and size.
        event_id="",
        bucket=bucket,
        key=key,
        version_id=None if found_version in (None, NULL_VERSION_ID) else found_version,
        etag=head.get("ETag", "").strip('"') or None,
        size=head.get("ContentLength"),
        # Only S3 events carry these: a route's `sequencer` or `reason` variable is left out rather than made up.
        sequencer=None,
        reason=None,
    )


def rollback_warning(s3: Any, upload: S3ObjectCreated) -> str | None:
    """What to tell a person who starts a version that is not the key's current one (the function would not).

    The function's own check decides: its S3 adapter asks for the current version, `stale_reason` judges it.
    """
    if upload.version_id is None:
        return None
    try:
        current = current_version(s3, upload.bucket, upload.key, RetryPolicy())
    except AwsCallFailed as failure:
        raise CannotStart(str(failure)) from failure
    reason = stale_reason(upload, current)
    if reason is None:
        return None
    where = f"s3://{upload.bucket}/{upload.key}"
    if current.version_id is None:
        return f"Rollback: {where} has no current version (deleted); you are starting version {upload.version_id}."
    return (
        f"Rollback: version {upload.version_id} is not the current version of {where} ({current.version_id} is); "
        "the pipeline will build the older artifact. The function itself would not start it."
    )


def start_requests(settings: Settings, upload: S3ObjectCreated) -> tuple[StartRequest, ...]:
    """The requests the function would send for this object: its routes, its revisions, its tokens, its roles."""
    requests = plan_starts(settings, upload)
    if not requests:
        patterns = ", ".join(sorted({route.key for route in settings.routes}))
        raise CannotStart(f"key {upload.key!r} matches no route of the function (routes: {patterns})")
    return requests


def rollback_requests(
    requests: tuple[StartRequest, ...], upload: S3ObjectCreated, requested_at: float
) -> tuple[StartRequest, ...]:
    """The function's requests with a rollback token each: a new execution per run, one per run's retries."""
    return tuple(
        request._replace(client_request_token=rollback_token(request.pipeline, upload, requested_at))
        for request in requests
    )


def codepipeline_endpoint(own_environment: Mapping[str, str], function: DeployedFunction) -> str | None:
    """Yours if set, else the function's: on the local emulators the function's points at moto's server."""
    return own_environment.get(_CODEPIPELINE_ENDPOINT) or function.environment.get(_CODEPIPELINE_ENDPOINT) or None


def assumed_codepipeline(session: Any, role_arn: str, endpoint: str | None) -> Any:
    """A CodePipeline client of the pipeline's account: the starter role, assumed with the caller's credentials."""
    return assumed_client(
        role_arn,
        session.client("sts"),
        session_name=STARTER_SESSION_NAME,
        make_client=session.client,
        endpoint_url=endpoint,
        config=_CODEPIPELINE_CONFIG,
    ).client


def _assume_role_problem(error: ClientError | BotoCoreError, role_arn: str) -> str:
    text = _error_text(error) if isinstance(error, ClientError) else f"{type(error).__name__}: {error}"
    return (
        f"AssumeRole {role_arn} failed ({text}): your AWS identity needs sts:AssumeRole on that role, and the "
        "role's trust policy must name your identity too (pipeline-account.yaml's names the function's role, "
        "and yours once its OperatorRoleArns lists it)"
    )


def run(
    args: argparse.Namespace,
    session: Any,
    *,
    location: StackLocation | None = None,
    codepipeline: Any = None,
    assume: Callable[[str], Any] | None = None,
    environ: Mapping[str, str] = os.environ,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    clock: Callable[[], float] = time.time,
) -> int:
    location = location or StackLocation(args.stack_name, "--stack-name", session.region_name, "the session", None)
    try:
        function_name = args.function_name or function_name_from_stack(session.client("cloudformation"), location)
        function = deployed_function(session.client("lambda"), function_name)
        settings = settings_of(function)
        s3 = session.client("s3")
        upload = object_upload(s3, settings.source_bucket, args.key, args.version)
        requests = start_requests(settings, upload)
        rollback = rollback_warning(s3, upload) if args.version else None
        if rollback:
            # Read once: the token must stay the same through this run's retries.
            requests = rollback_requests(requests, upload, requested_at=clock())
    except (ClientError, BotoCoreError) as error:
        print(f"Cannot start: {explain(error, location)}", file=err)
        return EXIT_CANNOT_START
    except CannotStart as problem:
        print(f"Cannot start: {problem}", file=err)
        return EXIT_CANNOT_START

    if upload.version_id is None:
        print(f"s3://{upload.bucket}/{upload.key} has no version id: the pipeline reads the newest object.", file=err)
    if rollback:
        print(rollback, file=err)
        print(
            "Rollback token: made from the time of the request, so each run starts a new execution, "
            "even of a version that ran before.",
            file=err,
        )
    dry_run = args.dry_run or settings.dry_run
    if settings.dry_run and not args.dry_run:
        print(f"Function {function.name} runs with DRY_RUN=true: not sending, as it would not.", file=err)
    endpoint = codepipeline_endpoint(environ, function)
    if codepipeline is None and not dry_run:
        if endpoint and not environ.get(_CODEPIPELINE_ENDPOINT):
            print(f"CodePipeline endpoint {endpoint} (from the function's environment)", file=err)
        codepipeline = session.client("codepipeline", endpoint_url=endpoint, config=_CODEPIPELINE_CONFIG)
    starters = _Starters(codepipeline, assume or (lambda role_arn: assumed_codepipeline(session, role_arn, endpoint)))
    failed = False
    for request in requests:
        print(_heading(request), file=out)
        print(json.dumps(request.as_api_params(), indent=2), file=out)
        if dry_run:
            print("Dry run: not sent.", file=out)
            continue
        try:
            execution_id = start_execution(
                starters.client_for(request.role_arn), request.as_api_params(), RetryPolicy()
            )
        except (ClientError, BotoCoreError) as error:
            print(f"Not started: {request.pipeline}: {_assume_role_problem(error, str(request.role_arn))}", file=err)
            failed = True
            continue
        except AwsCallFailed as failure:
            print(f"Not started: {failure}", file=err)
            failed = True
            continue
        print(f"pipelineExecutionId: {execution_id}", file=out)
    return EXIT_START_FAILED if failed else EXIT_OK


def _heading(request: StartRequest) -> str:
    if request.role_arn is None:
        return f"StartPipelineExecution for pipeline {request.pipeline}:"
    account = request.role_arn.split(":")[4]
    return f"StartPipelineExecution for pipeline {request.pipeline} in account {account}, as {request.role_arn}:"


class _Starters:
    """The client each start goes through: the caller's own, or one per starter role, assumed once per run."""

    def __init__(self, own: Any, assume: Callable[[str], Any]) -> None:
        self._own, self._assume = own, assume
        self._by_role: dict[str, Any] = {}

    def client_for(self, role_arn: str | None) -> Any:
        """Raises ClientError or BotoCoreError only from AssumeRole: the start itself is start_execution's."""
        if role_arn is None:
            return self._own
        if role_arn not in self._by_role:
            self._by_role[role_arn] = self._assume(role_arn)
        return self._by_role[role_arn]


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make start",
        description="Start the pipeline on one S3 object now, exactly as the deployed trigger function would.",
    )
    parser.add_argument("--key", required=True, help="object key in the stack's source bucket")
    parser.add_argument("--version", default=None, help="S3 version id (default: the newest version)")
    parser.add_argument(
        "--stack-name",
        default=None,
        help="stack whose TriggerFunctionName output names the function (default: the one `sam deploy` used)",
    )
    parser.add_argument("--function-name", default=None, help="read the settings of this function instead")
    parser.add_argument(
        "--region", default=None, help="default: samconfig.toml's, else AWS_REGION / AWS_DEFAULT_REGION / profile"
    )
    parser.add_argument("--config-env", default=DEFAULT_ENV, help="samconfig.toml environment (default: default)")
    parser.add_argument("--dry-run", action="store_true", help="print the request without sending it")
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    samconfig: Path = SAMCONFIG,
    environ: Mapping[str, str] = os.environ,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    args = parser().parse_args(argv)
    # Empty values from make (VERSION=, STACK=) mean "not given".
    args.version = args.version or None
    try:
        location = locate(
            args.stack_name or None, args.region or None, args.config_env, environ=environ, samconfig=samconfig
        )
    except ConfigError as problem:
        print(f"Cannot start: {problem}", file=err)
        return EXIT_CANNOT_START
    if not args.function_name and not location.stack_name:
        print(
            f"Cannot start: no stack name in {args.config_env!r} of samconfig.toml: deploy with `make deploy` "
            "(it saves the name there), or pass STACK=name",
            file=err,
        )
        return EXIT_CANNOT_START
    args.stack_name = location.stack_name
    try:
        session = location.session()
        return run(args, session, location=location, environ=environ, out=out, err=err)
    except BotoCoreError as error:
        print(f"Cannot start: {explain(error, location)}", file=err)
        return EXIT_CANNOT_START
    except KeyboardInterrupt:
        print("Interrupted.", file=err)
        return 130


def _head_object_problem(error: ClientError, bucket: str, key: str, version_id: str | None) -> str:
    where = f"s3://{bucket}/{key}" + (f" version {version_id}" if version_id else "")
    headers = error.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    if headers.get("x-amz-delete-marker") == "true":
        return f"{where} is deleted (its newest version is a delete marker); pass VERSION= to start an older one"
    code = str(error.response.get("Error", {}).get("Code"))
    if code in _NOT_FOUND_CODES:
        return f"{where} does not exist"
    if code in _FORBIDDEN_CODES:
        return f"{where}: HeadObject was denied ({code}): your AWS identity needs s3:GetObject and s3:GetObjectVersion"
    return f"{where}: {_error_text(error)}"


def _error_text(error: ClientError) -> str:
    details = error.response.get("Error", {})
    return f"{details.get('Code', 'Unknown')}: {details.get('Message', '')}"


if __name__ == "__main__":
    sys.exit(main())
