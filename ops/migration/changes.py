"""What apply changes and how undo restores it, as data: checks, the changes, the undo record (pure).

The undo record is a JSON document holding the pipeline structure before and after (without `version`, which
every update bumps) and each rule's state before and after. Undo puts back `before` only where the account
still shows `after`, so it never overwrites a change someone made since.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ops.migration.event_rules import DISABLED, EventRule
from ops.migration.pipelines import comparable, differences, without_polling
from ops.migration.start_modes import PipelineStatus
from ops.migration.trails import Trail, selectors_logging

UNDO_RECORD_KIND = "s3-pipeline-trigger migrate undo record"
UNDO_RECORD_FORMAT = 1


class UndoConflict(ValueError):
    """The account no longer shows what apply left; undo would overwrite someone's change."""


@dataclass(frozen=True)
class RuleChange:
    name: str
    event_bus: str
    before: str
    after: str


@dataclass(frozen=True)
class Changes:
    pipeline: str
    before: dict[str, Any]
    after: dict[str, Any]
    switched_actions: tuple[str, ...]
    rules: tuple[RuleChange, ...]

    @property
    def pipeline_changes(self) -> bool:
        return comparable(self.before) != comparable(self.after)

    @property
    def nothing(self) -> bool:
        return not self.pipeline_changes and not self.rules


@dataclass(frozen=True)
class UndoRecord:
    region: str
    pipeline: str
    before: dict[str, Any]
    after: dict[str, Any]
    rules: tuple[RuleChange, ...]


@dataclass(frozen=True)
class Restore:
    """What undo writes: the structure (None when it is already as before) and the rule states to set."""

    structure: dict[str, Any] | None
    rules: tuple[RuleChange, ...]

    @property
    def nothing(self) -> bool:
        return self.structure is None and not self.rules


def refusals(status: PipelineStatus) -> list[str]:
    """Why apply must not switch this pipeline yet; empty when the trigger is ready to take over."""
    found = []
    for s in status.sources:
        if not s.trigger_stacks:
            found.append(
                f"no deployed trigger stack covers {s.source.action} (s3://{s.source.bucket}/{s.source.key}): "
                f"deploy the plan's stack first (make migrate PIPELINE={status.name})"
            )
        elif s.bucket.other_account and any(t.parameters.get("SourceBucketAccount") for t in s.trigger_stacks):
            # A central bucket: its account's source-account.yaml turns EventBridge on there, out of sight from here.
            continue
        elif s.bucket.problem:
            found.append(s.bucket.problem)
        elif not s.bucket.eventbridge:
            found.append(
                f"s3://{s.source.bucket} has EventBridge notifications off, so the trigger would never hear of an "
                "upload: deploy the plan's stack (it turns them on), or turn them on in the bucket's properties"
            )
    for rule in status.cloudtrail_rules:
        others = [target for target in rule.targets if target != status.arn]
        if others:
            found.append(
                f"rule {rule.name} also targets {', '.join(others)}: disabling it would stop those too; "
                f"remove the pipeline from its targets by hand instead, then run apply again"
            )
    return found


def changes(status: PipelineStatus) -> Changes:
    polling = [s.source for s in status.sources if s.source.polling]
    return Changes(
        pipeline=status.name,
        before=status.structure,
        after=without_polling(status.structure, polling),
        switched_actions=tuple(source.action for source in polling),
        rules=tuple(RuleChange(r.name, r.event_bus, r.state, DISABLED) for r in status.cloudtrail_rules),
    )


def undo_record(change: Changes, region: str, applied_at: str) -> dict[str, Any]:
    return {
        "kind": UNDO_RECORD_KIND,
        "format": UNDO_RECORD_FORMAT,
        "region": region,
        "pipeline": change.pipeline,
        "appliedAt": applied_at,
        "pipelineBefore": comparable(change.before),
        "pipelineAfter": comparable(change.after),
        "rules": [
            {"name": r.name, "eventBusName": r.event_bus, "stateBefore": r.before, "stateAfter": r.after}
            for r in change.rules
        ],
    }


def read_undo_record(document: Any) -> UndoRecord:
    if not isinstance(document, Mapping) or document.get("kind") != UNDO_RECORD_KIND:
        raise ValueError("not an undo record written by make migrate")
    if document.get("format") != UNDO_RECORD_FORMAT:
        raise ValueError(f"undo record format {document.get('format')!r}; this version reads {UNDO_RECORD_FORMAT}")
    try:
        rules = tuple(
            RuleChange(str(r["name"]), str(r["eventBusName"]), str(r["stateBefore"]), str(r["stateAfter"]))
            for r in document["rules"]
        )
        return UndoRecord(
            str(document["region"]),
            str(document["pipeline"]),
            dict(document["pipelineBefore"]),
            dict(document["pipelineAfter"]),
            rules,
        )
    except (KeyError, TypeError) as error:
        raise ValueError(f"undo record is missing or has a malformed field: {error}") from None


def restore(record: UndoRecord, current: Mapping[str, Any], rule_states: Mapping[str, str | None]) -> Restore:
    """Raises UndoConflict, naming what differs, when the account shows neither `after` nor `before`."""
    now = comparable(current)
    if now == record.before:
        structure = None
    elif now == record.after:
        # The current version number, as any read-modify-write of the pipeline sends.
        structure = {**record.before, "version": current.get("version")}
    else:
        changed = ", ".join(differences(record.after, now)[:5])
        raise UndoConflict(f"pipeline {record.pipeline} changed since apply ({changed}); undo would overwrite that")
    to_set = []
    for rule in record.rules:
        state = rule_states.get(rule.name)
        if state == rule.after and rule.after != rule.before:
            to_set.append(RuleChange(rule.name, rule.event_bus, rule.after, rule.before))
        elif state != rule.before:
            raise UndoConflict(f"rule {rule.name} is {state or 'gone'}, neither {rule.after} nor {rule.before}")
    return Restore(structure, tuple(to_set))


def trail_notes(
    status: PipelineStatus, trails: Sequence[Trail], rules: Iterable[EventRule], disabled: Iterable[str]
) -> list[str]:
    """For each selector that logs a source's key: the enabled CloudTrail rules that still rely on it, if any."""
    gone = set(disabled)
    remaining = [rule for rule in rules if rule.cloudtrail_s3 and rule.enabled and rule.name not in gone]
    trail_by_name = {trail.name: trail for trail in trails}
    notes = []
    for s in status.sources:
        for selector in s.trails:
            trail = trail_by_name[selector.trail]
            users = [rule.name for rule in remaining if _may_rely_on(rule, trail, selector.selector)]
            use = (
                f"still used by rule(s) {', '.join(users)}"
                if users
                else "no enabled CloudTrail rule here uses it any more: delete it yourself if nothing else needs it"
            )
            notes.append(
                f"trail {selector.trail} unchanged: selector {selector.selector} logs s3://{s.source.bucket}/"
                f"{s.source.key}; {use}"
            )
    return notes


def _may_rely_on(rule: EventRule, trail: Trail, selector: str) -> bool:
    objects = rule.literal_objects()
    if objects is None:
        # A bucket-wide or prefix rule: it may rely on the selector; say so rather than guess no.
        return True
    return any(
        covering.selector == selector for bucket, key in objects for covering in selectors_logging(trail, bucket, key)
    )
