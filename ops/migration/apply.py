"""apply and undo: the checks, then the writes, in an order that never leaves a pipeline started by nothing.

apply writes only after the trigger is confirmed to cover every S3 source (the stack deployed, the bucket's
EventBridge notifications on), and re-reads the pipeline right before writing: a pipeline that changed since
it was read (or since the plan, with --expect-digest) is refused. The undo record is written before the
first change, so an apply cut short can still be undone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from ops.migration.account import AwsAccount, MigrationError
from ops.migration.changes import (
    Restore,
    UndoConflict,
    changes,
    read_undo_record,
    refusals,
    restore,
    trail_notes,
    undo_record,
)
from ops.migration.event_rules import DISABLED
from ops.migration.pipelines import structure_digest
from ops.migration.survey import account_view, pipeline_status_of


class Refused(MigrationError):
    pass


def apply(
    account: AwsAccount,
    pipeline: str,
    undo_dir: Path,
    *,
    expect_digest: str | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[str]:
    view = account_view(account)
    status = pipeline_status_of(account, pipeline, view)
    digest = structure_digest(status.structure)
    if expect_digest and not digest.startswith(expect_digest.lower()):
        raise Refused(
            f"apply refused: pipeline {pipeline} changed since the plan (digest {digest[:16]}, plan had "
            f"{expect_digest}); run make migrate PIPELINE={pipeline} again and read the new plan"
        )
    problems = refusals(status)
    if problems:
        raise Refused(f"apply refused for {pipeline}: " + "; ".join(problems))
    change = changes(status)
    if change.nothing:
        return [
            f"Nothing to change: {pipeline} is started only by the trigger (no polling, no enabled CloudTrail rule)."
        ]

    current = account.pipeline(pipeline).structure
    if structure_digest(current) != digest:
        raise Refused(f"apply refused: pipeline {pipeline} changed while apply was reading it; nothing was changed")
    record_path = _write_undo_record(undo_dir, pipeline, undo_record(change, account.region, _stamp(now())))
    lines = [f"Undo record: {record_path}"]
    if change.pipeline_changes:
        account.update_pipeline({**change.after, "version": current.get("version")})
        lines.append(f"{pipeline}: PollForSourceChanges false on {', '.join(change.switched_actions)}")
    for rule in change.rules:
        account.set_rule_state(rule.name, rule.event_bus, DISABLED)
        lines.append(f"rule {rule.name}: disabled (not deleted)")
    lines.extend(trail_notes(status, view.trails, account.rules(), [rule.name for rule in change.rules]))
    lines.append(f'Undo: make migrate ARGS="--undo {record_path}"')
    return lines


def undo(account: AwsAccount, record_file: Path) -> list[str]:
    try:
        record = read_undo_record(json.loads(record_file.read_text(encoding="utf-8")))
    except OSError as error:
        raise MigrationError(f"cannot read undo record {record_file}: {error.strerror}") from None
    except ValueError as error:
        raise MigrationError(f"{record_file}: {error}") from None
    if record.region != account.region:
        raise MigrationError(f"{record_file} is for {record.region}; run it with AWS_REGION={record.region}")
    current = account.pipeline(record.pipeline).structure
    states = {rule.name: account.rule_state(rule.name, rule.event_bus) for rule in record.rules}
    try:
        plan: Restore = restore(record, current, states)
    except UndoConflict as conflict:
        raise Refused(f"undo refused: {conflict}") from None
    if plan.nothing:
        return [f"Nothing to undo: {record.pipeline} and its rules are as they were before apply."]
    lines = []
    if plan.structure is not None:
        account.update_pipeline(plan.structure)
        lines.append(f"{record.pipeline}: structure restored as before apply")
    for rule in plan.rules:
        account.set_rule_state(rule.name, rule.event_bus, rule.after)
        lines.append(f"rule {rule.name}: {rule.after.lower()} again")
    return lines


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_undo_record(directory: Path, pipeline: str, record: dict[str, object]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = str(record["appliedAt"]).replace("-", "").replace(":", "")
    text = json.dumps(record, indent=2, sort_keys=False) + "\n"
    for attempt in range(1, 100):
        path = directory / (f"{pipeline}-{stamp}" + (f"-{attempt}" if attempt > 1 else "") + ".json")
        try:
            with path.open("x", encoding="utf-8") as file:
                file.write(text)
        except FileExistsError:
            continue
        return path
    raise MigrationError(f"cannot name an undo record in {directory}: too many for {pipeline} this second")
