"""The AWS calls `make migrate` makes: reads for scan and plan, and the two writes of apply and undo.

Each call goes through `_call` / `_pages`, which turn AccessDenied into one line naming the IAM action, and
a missing pipeline into `PipelineNotFound`. Everything returned is plain data for the pure modules.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ops.migration.event_rules import DEFAULT_BUS, ENABLED, EventRule, parse_pattern
from ops.migration.start_modes import BucketFacts
from ops.migration.trails import Trail
from ops.migration.trigger_stacks import FUNCTION_NAME_OUTPUT, TriggerStack, trigger_stack

_ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException"})
_NO_BUCKET = frozenset({"NoSuchBucket", "404", "NotFound"})
# The request parameter that names the resource, for saying what access was refused to.
_RESOURCE_PARAMETERS = ("name", "Name", "Bucket", "TrailName", "FunctionName", "Rule", "TargetArn", "pipeline")
# Where the IAM action is not named like the API operation.
_IAM_ACTION_NAMES = {
    "GetBucketNotificationConfiguration": "GetBucketNotification",
    "PutBucketNotificationConfiguration": "PutBucketNotification",
}


class MigrationError(Exception):
    """Something a person can act on; the message is one line that says what and where."""


class AccessDenied(MigrationError):
    pass


class PipelineNotFound(MigrationError):
    pass


@dataclass(frozen=True)
class PipelineRecord:
    structure: dict[str, Any]
    arn: str


@dataclass
class AwsAccount:
    region: str
    codepipeline: Any
    events: Any
    s3: Any
    cloudtrail: Any
    cloudformation: Any
    lambda_client: Any
    sts: Any

    @classmethod
    def from_session(cls, session: Any) -> AwsAccount:
        return cls(
            region=session.region_name,
            codepipeline=session.client("codepipeline"),
            events=session.client("events"),
            s3=session.client("s3"),
            cloudtrail=session.client("cloudtrail"),
            cloudformation=session.client("cloudformation"),
            lambda_client=session.client("lambda"),
            sts=session.client("sts"),
        )

    # ---------------------------------------------------------------- pipelines

    def pipeline_names(self) -> list[str]:
        return [p["name"] for page in self._pages(self.codepipeline, "list_pipelines") for p in page["pipelines"]]

    def pipeline(self, name: str) -> PipelineRecord:
        try:
            response = self._call(self.codepipeline, "get_pipeline", name=name)
        except ClientError as error:
            if _code(error) == "PipelineNotFoundException":
                raise PipelineNotFound(f"pipeline {name!r} not found in {self.region}") from None
            raise
        return PipelineRecord(response["pipeline"], response["metadata"]["pipelineArn"])

    def update_pipeline(self, structure: dict[str, Any]) -> dict[str, Any]:
        updated: dict[str, Any] = self._call(self.codepipeline, "update_pipeline", pipeline=structure)["pipeline"]
        return updated

    # ---------------------------------------------------------------- EventBridge

    def rules_targeting(self, target_arn: str) -> tuple[EventRule, ...]:
        names = [
            name
            for page in self._pages(self.events, "list_rule_names_by_target", TargetArn=target_arn)
            for name in page["RuleNames"]
        ]
        return tuple(self.rule(name) for name in names)

    def rule(self, name: str, event_bus: str = DEFAULT_BUS) -> EventRule:
        described = self._call(self.events, "describe_rule", Name=name, EventBusName=event_bus)
        targets = tuple(
            target["Arn"]
            for page in self._pages(self.events, "list_targets_by_rule", Rule=name, EventBusName=event_bus)
            for target in page["Targets"]
        )
        return EventRule(name, described["State"], parse_pattern(described.get("EventPattern")), targets, event_bus)

    def rule_state(self, name: str, event_bus: str = DEFAULT_BUS) -> str | None:
        """The rule's state, or None when it no longer exists."""
        try:
            state: str = self._call(self.events, "describe_rule", Name=name, EventBusName=event_bus)["State"]
        except ClientError as error:
            if _code(error) == "ResourceNotFoundException":
                return None
            raise
        return state

    def rules(self) -> tuple[EventRule, ...]:
        """Every rule on the default bus, without targets: who else listens to CloudTrail's S3 events."""
        return tuple(
            EventRule(rule["Name"], rule["State"], parse_pattern(rule.get("EventPattern")), ())
            for page in self._pages(self.events, "list_rules", EventBusName=DEFAULT_BUS)
            for rule in page["Rules"]
        )

    def set_rule_state(self, name: str, event_bus: str, state: str) -> None:
        operation = "enable_rule" if state == ENABLED else "disable_rule"
        self._call(self.events, operation, Name=name, EventBusName=event_bus)

    # ---------------------------------------------------------------- CloudTrail

    def trails(self) -> tuple[Trail, ...]:
        """Trails that log in this region (multi-region trails of other home regions included)."""
        found = []
        for trail in self._call(self.cloudtrail, "describe_trails", includeShadowTrails=True)["trailList"]:
            selectors = self._call(self.cloudtrail, "get_event_selectors", TrailName=trail["TrailARN"])
            status = self._call(self.cloudtrail, "get_trail_status", Name=trail["TrailARN"])
            found.append(
                Trail(
                    name=trail["Name"],
                    logging=bool(status.get("IsLogging")),
                    event_selectors=tuple(selectors.get("EventSelectors") or ()),
                    advanced_event_selectors=tuple(selectors.get("AdvancedEventSelectors") or ()),
                )
            )
        return tuple(found)

    # ---------------------------------------------------------------- S3

    def account_id(self) -> str:
        identity: str = self._call(self.sts, "get_caller_identity")["Account"]
        return identity

    def bucket_facts(self, bucket: str, account_id: str) -> BucketFacts:
        """Read with ExpectedBucketOwner: a bucket of another account answers AccessDenied, said in `problem`."""
        owner = {"Bucket": bucket, "ExpectedBucketOwner": account_id}
        try:
            versioning = self._call(self.s3, "get_bucket_versioning", **owner).get("Status", "Never enabled")
            notifications = self._call(self.s3, "get_bucket_notification_configuration", **owner)
        except AccessDenied as denied:
            return BucketFacts(
                bucket, None, None, f"{denied} (or the bucket belongs to another account)", other_account=True
            )
        except ClientError as error:
            if _code(error) in _NO_BUCKET:
                return BucketFacts(bucket, None, None, f"bucket {bucket} does not exist")
            raise
        return BucketFacts(bucket, "EventBridgeConfiguration" in notifications, versioning)

    # ---------------------------------------------------------------- trigger stacks

    def trigger_stacks(self) -> tuple[TriggerStack, ...]:
        found = []
        for page in self._pages(self.cloudformation, "describe_stacks"):
            for stack in page["Stacks"]:
                outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
                if FUNCTION_NAME_OUTPUT not in outputs:
                    continue
                parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
                found.append(self._trigger_stack(stack["StackName"], outputs[FUNCTION_NAME_OUTPUT], parameters))
        return tuple(found)

    def _trigger_stack(self, name: str, function_name: str, parameters: dict[str, str]) -> TriggerStack:
        try:
            configuration = self._call(self.lambda_client, "get_function_configuration", FunctionName=function_name)
        except ClientError as error:
            return TriggerStack(name, function_name, None, f"function {function_name}: {_code(error)}", parameters)
        environment = configuration.get("Environment", {}).get("Variables", {})
        return trigger_stack(name, function_name, environment, parameters)

    # ---------------------------------------------------------------- calls

    def _call(self, client: Any, operation: str, **params: Any) -> Any:
        try:
            return getattr(client, operation)(**params)
        except ClientError as error:
            raise _access_denied(client, error, params) or error from None

    def _pages(self, client: Any, operation: str, **params: Any) -> Iterator[Any]:
        try:
            yield from client.get_paginator(operation).paginate(**params)
        except ClientError as error:
            raise _access_denied(client, error, params) or error from None


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _access_denied(client: Any, error: ClientError, params: dict[str, Any]) -> AccessDenied | None:
    if _code(error) not in _ACCESS_DENIED:
        return None
    service = client.meta.service_model.signing_name
    action = f"{service}:{_IAM_ACTION_NAMES.get(error.operation_name, error.operation_name)}"
    named = [params[name] for name in _RESOURCE_PARAMETERS if name in params]
    # UpdatePipeline carries the whole structure: its name is the resource.
    resource = next((str(v.get("name") if isinstance(v, dict) else v) for v in named), None)
    on = f" on {resource}" if resource else ""
    return AccessDenied(f"AccessDenied: {action}{on} was refused; allow it for the identity that runs make migrate")
