"""What scan and plan print: a table a person reads in seconds, a plan to follow, and JSON for machines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ops.migration.plan import DEPLOY_SETTINGS, Deployment, Plan, central_buckets
from ops.migration.samconfig import environment_block
from ops.migration.start_modes import APPLY_PENDING, MIGRATED, NOT_STARTED, TO_MIGRATE, PipelineStatus, SourceStatus

_COLUMNS = ("PIPELINE", "ACTION", "SOURCE", "STARTED BY", "EVENTBRIDGE", "VERSIONING", "TRAILS")
_NEXT = {
    TO_MIGRATE: "to migrate (make migrate PIPELINE=name prints the plan)",
    APPLY_PENDING: "trigger deployed, old way still on: they start twice (make migrate PIPELINE=name ARGS=--apply)",
    NOT_STARTED: "started by nothing on upload",
    MIGRATED: "migrated",
}


def scan_table(region: str, statuses: Sequence[PipelineStatus]) -> str:
    if not statuses:
        return f"No pipeline in {region} has an S3 source action."
    rows = [
        (status.name if index == 0 else "", *_source_cells(source))
        for status in statuses
        for index, source in enumerate(status.sources)
    ]
    widths = [max(len(row[column]) for row in (_COLUMNS, *rows)) for column in range(len(_COLUMNS))]
    lines = [f"S3-source pipelines in {region}: {len(statuses)}", ""]
    lines.extend(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (_COLUMNS, *rows)
    )
    lines.append("")
    for verdict, label in _NEXT.items():
        names = [status.name for status in statuses if status.verdict == verdict]
        if names:
            lines.append(f"{label}: {', '.join(names)}")
    lines.extend(_notes(statuses))
    return "\n".join(lines)


def scan_json(region: str, statuses: Sequence[PipelineStatus]) -> dict[str, Any]:
    return {
        "region": region,
        "pipelines": [
            {
                "name": status.name,
                "arn": status.arn,
                "state": status.verdict,
                "sources": [_source_json(source) for source in status.sources],
                "cloudTrailRules": [rule.name for rule in status.cloudtrail_rules],
                "disabledCloudTrailRules": [rule.name for rule in status.disabled_cloudtrail_rules],
                "otherRules": [rule.name for rule in status.other_rules],
            }
            for status in statuses
        ],
    }


def plan_text(status: PipelineStatus, plan: Plan) -> str:
    lines = [f"Plan for {plan.pipeline} in {plan.region} (structure digest {plan.digest[:16]})", "", "Today"]
    for source in status.sources:
        lines.extend(_today(source))
    steps = _steps(status, plan)
    for number, step in enumerate(steps, start=1):
        lines += ["", f"{number}. {step[0]}", *step[1:]]
    if plan.nothing_to_do:
        lines += ["", f"Nothing to do: {plan.pipeline} is started only by the trigger."]
    if plan.blockers:
        lines += ["", "Cannot move (apply refuses until this is fixed)"]
        lines.extend(f"  - {problem}" for problem in plan.blockers)
    if plan.warnings:
        lines += ["", "Warnings"]
        lines.extend(f"  - {warning}" for warning in plan.warnings)
    return "\n".join(lines)


def _steps(status: PipelineStatus, plan: Plan) -> list[list[str]]:
    """Each step: its first line, then indented detail lines (a samconfig block stands on its own)."""
    steps = []
    for deployment in plan.deployments:
        if deployment.up_to_date:
            steps.append(
                [
                    f"Stack {deployment.stack_name} already covers it. Its samconfig.toml environment:",
                    "",
                    _samconfig(deployment, plan.region),
                ]
            )
            continue
        steps.append(["Add this environment to samconfig.toml:", "", _samconfig(deployment, plan.region)])
        steps.append(
            [
                f"sam build && sam deploy --config-env {deployment.environment}",
                *(f"   {line}" for line in _what_deploy_does(deployment, status)),
            ]
        )
        if deployment.bucket in central_buckets(status):
            steps.append(_source_account_step(deployment))
    if any(s.bucket.eventbridge is False for s in status.sources) and not plan.nothing_to_do:
        steps.append(["Wait five minutes: S3 can take that long to send events once EventBridge is turned on."])
    if plan.polling_to_stop or plan.rules_to_disable:
        apply = [
            f'make migrate PIPELINE={plan.pipeline} ARGS="--apply --expect-digest {plan.digest[:16]}"',
            "   Until then an upload can start the pipeline twice: once by the trigger, once the old way.",
        ]
        if plan.polling_to_stop:
            actions = ", ".join(source.action for source in plan.polling_to_stop)
            apply.append(f"   - sets PollForSourceChanges false on {actions}; nothing else in the pipeline changes")
        apply.extend(f"   - disables rule {name} (never deletes it)" for name in plan.rules_to_disable)
        trails = sorted({selector.trail for s in status.sources for selector in s.trails})
        if trails:
            apply.append(f"   - leaves trail{'s' if len(trails) > 1 else ''} {', '.join(trails)} unchanged")
        apply.append('   - writes an undo record and prints its path: make migrate ARGS="--undo FILE" puts it all back')
        steps.append(apply)
    return steps


def plan_json(plan: Plan) -> dict[str, Any]:
    return {
        "pipeline": plan.pipeline,
        "region": plan.region,
        "digest": plan.digest,
        "deployments": [
            {
                "bucket": d.bucket,
                "stackName": d.stack_name,
                "existingStack": d.existing_stack,
                "upToDate": d.up_to_date,
                "parameters": dict(d.parameters),
                "samconfig": _samconfig(d, plan.region),
            }
            for d in plan.deployments
        ],
        "apply": {
            "pollingToStop": [source.action for source in plan.polling_to_stop],
            "rulesToDisable": list(plan.rules_to_disable),
        },
        "blockers": list(plan.blockers),
        "warnings": list(plan.warnings),
    }


def _samconfig(deployment: Deployment, region: str) -> str:
    settings: dict[str, str | bool] = {"stack_name": deployment.stack_name, "region": region, **DEPLOY_SETTINGS}
    return environment_block(deployment.environment, settings, deployment.parameters)


def _source_account_step(deployment: Deployment) -> list[str]:
    """A bucket of another account: its Object Created events reach this account only through source-account.yaml."""
    parameters = dict(deployment.parameters)
    key_filter = parameters.get("RoutesKeyFilter") or parameters.get("ObjectKey", "*")
    return [
        f"In the account that owns s3://{deployment.bucket}, the source-account stack (it sends its events here):",
        f"   sam build -t source-account.yaml && sam deploy -t source-account.yaml "
        f"--stack-name {deployment.stack_name}-source --capabilities CAPABILITY_IAM --resolve-s3 --parameter-overrides "
        f"SourceBucketName={deployment.bucket} 'KeyFilter={key_filter}' "
        f"TriggerEventBusArn=<CentralEventBusArn output of {deployment.stack_name}>",
        "   and add to the bucket's policy what make cross-account-policies prints "
        f"(FUNCTION_ROLE: the TriggerFunctionRoleArn output of {deployment.stack_name})",
    ]


def _what_deploy_does(deployment: Deployment, status: PipelineStatus) -> list[str]:
    routed = ", ".join(f"{route.key} -> {route.pipeline}" for route in deployment.routes)
    if deployment.existing_stack:
        return [f"updates stack {deployment.existing_stack}: routes {routed}"]
    if deployment.bucket in central_buckets(status):
        return [f"a new stack for s3://{deployment.bucket} of another account: its own event bus", f"routes {routed}"]
    eventbridge_on = all(s.bucket.eventbridge for s in status.sources if s.source.bucket == deployment.bucket)
    bucket = (
        "its EventBridge notifications are already on"
        if eventbridge_on
        else "turns on its EventBridge notifications, keeping its other notifications"
    )
    return [f"a new stack adopting s3://{deployment.bucket}: {bucket}", f"routes {routed}"]


def _today(status: SourceStatus) -> list[str]:
    bucket = status.bucket
    facts = (
        bucket.problem
        if bucket.problem
        else f"EventBridge {'on' if bucket.eventbridge else 'off'}, versioning {bucket.versioning}"
    )
    lines = [
        f"  {status.source.action}: {status.source.location}",
        f"    started by: {' + '.join(status.started_by) or 'nothing'}",
        f"    bucket: {facts}",
    ]
    lines.extend(
        f"    logged by trail {selector.trail}{'' if selector.trail_logging else ' (not logging)'}: {selector.selector}"
        for selector in status.trails
    )
    return lines


def _source_cells(status: SourceStatus) -> tuple[str, ...]:
    bucket = status.bucket
    trails = ", ".join(dict.fromkeys(f"{s.trail}{'' if s.trail_logging else ' (not logging)'}" for s in status.trails))
    return (
        status.source.action,
        status.source.location,
        " + ".join(status.started_by) or "nothing",
        "?" if bucket.eventbridge is None else ("on" if bucket.eventbridge else "off"),
        "?" if bucket.versioning is None else ("on" if bucket.versioned else bucket.versioning.lower()),
        trails or "-",
    )


def _source_json(status: SourceStatus) -> dict[str, Any]:
    source, bucket = status.source, status.bucket
    return {
        "stage": source.stage,
        "action": source.action,
        "bucket": source.bucket,
        "key": source.key,
        "polling": source.polling,
        "startedBy": list(status.started_by),
        "cloudTrailRules": [rule.name for rule in status.cloudtrail_rules],
        "triggerStacks": [stack.name for stack in status.trigger_stacks],
        "bucketFacts": {"eventBridge": bucket.eventbridge, "versioning": bucket.versioning, "problem": bucket.problem},
        "trails": [{"trail": s.trail, "selector": s.selector, "logging": s.trail_logging} for s in status.trails],
    }


def _notes(statuses: Sequence[PipelineStatus]) -> list[str]:
    notes: list[str] = []
    for status in statuses:
        notes.extend(
            f"note: {status.name} is also the target of rule {r.name} (not CloudTrail S3; left alone)"
            for r in status.other_rules
        )
        notes.extend(
            f"note: {status.name}'s CloudTrail rule {r.name} matches none of its sources' keys, but starts it"
            for r in status.unmatched_cloudtrail_rules
        )
    return notes
