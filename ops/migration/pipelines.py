"""The S3 source actions of a pipeline structure (as GetPipeline returns it), and edits to them (pure)."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_S3_SOURCE_TYPE = {"category": "Source", "owner": "AWS", "provider": "S3"}
POLL_FOR_SOURCE_CHANGES = "PollForSourceChanges"


@dataclass(frozen=True)
class S3Source:
    """One S3 source action: where it reads and whether CodePipeline polls it."""

    stage: str
    action: str
    bucket: str
    key: str
    # CodePipeline polls when PollForSourceChanges is "true" or absent.
    polling: bool
    allow_key_override: bool
    # Set only for an action that runs in another region than the pipeline.
    region: str | None = None
    # Set only for an action that assumes its own role (often: a bucket in another account).
    role_arn: str | None = None

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def s3_sources(structure: Mapping[str, Any]) -> tuple[S3Source, ...]:
    found = []
    for stage in structure.get("stages", []):
        for action in stage.get("actions", []):
            if not _is_s3_source(action):
                continue
            configuration = action.get("configuration", {})
            found.append(
                S3Source(
                    stage=stage["name"],
                    action=action["name"],
                    bucket=configuration.get("S3Bucket", ""),
                    key=configuration.get("S3ObjectKey", ""),
                    polling=_flag(configuration.get(POLL_FOR_SOURCE_CHANGES), default=True),
                    allow_key_override=_flag(configuration.get("AllowOverrideForS3ObjectKey"), default=False),
                    region=action.get("region"),
                    role_arn=action.get("roleArn"),
                )
            )
    return tuple(found)


def source_providers(structure: Mapping[str, Any]) -> tuple[str, ...]:
    """The providers of every source action, for saying what a pipeline without an S3 source has instead."""
    return tuple(
        action.get("actionTypeId", {}).get("provider", "?")
        for stage in structure.get("stages", [])
        for action in stage.get("actions", [])
        if action.get("actionTypeId", {}).get("category") == "Source"
    )


def without_polling(structure: Mapping[str, Any], sources: Iterable[S3Source]) -> dict[str, Any]:
    """A copy with PollForSourceChanges "false" on exactly these actions; every other field as it was."""
    targets = {(source.stage, source.action) for source in sources}
    changed = copy.deepcopy(dict(structure))
    for stage in changed.get("stages", []):
        for action in stage.get("actions", []):
            if (stage["name"], action["name"]) in targets and _is_s3_source(action):
                action.setdefault("configuration", {})[POLL_FOR_SOURCE_CHANGES] = "false"
    return changed


def comparable(structure: Mapping[str, Any]) -> dict[str, Any]:
    """The structure without `version`, which every UpdatePipeline bumps whatever else changed."""
    return {name: value for name, value in structure.items() if name != "version"}


def structure_digest(structure: Mapping[str, Any]) -> str:
    """A fingerprint of what the pipeline does: the same structure gives the same digest on any machine."""
    canonical = json.dumps(comparable(structure), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def differences(before: Any, after: Any, path: str = "") -> list[str]:
    """Where two JSON documents differ, as readable paths (stages[0].actions[1].configuration.S3ObjectKey)."""
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for name in sorted(set(before) | set(after), key=str):
            where = f"{path}.{name}" if path else str(name)
            if name not in before or name not in after:
                found.append(where)
            else:
                found.extend(differences(before[name], after[name], where))
        return found
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [
            item
            for index, pair in enumerate(zip(before, after, strict=True))
            for item in differences(*pair, f"{path}[{index}]")
        ]
    return [] if before == after else [path or "(whole document)"]


def _is_s3_source(action: Mapping[str, Any]) -> bool:
    type_id = action.get("actionTypeId", {})
    return all(type_id.get(field) == value for field, value in _S3_SOURCE_TYPE.items())


def _flag(value: Any, *, default: bool) -> bool:
    if value is None:
        return default
    return str(value).strip().lower() == "true"
