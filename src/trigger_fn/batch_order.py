"""The order of one batch's starts: per bucket and key, oldest version first, and which ones a newer one supersedes.

S3 sequencers of one key grow with each write; they differ in length, so they compare left-padded with zeros.
"""

from __future__ import annotations

from typing import NamedTuple

from trigger_fn.plan import Ignore, Start


class Queued(NamedTuple):
    message_id: str
    # The record's place in the batch.
    position: int
    plan: Start


def newest_per_key(queued: list[Queued]) -> dict[tuple[str, str], str]:
    """Per (bucket, key), the largest comparable sequencer of the batch's pinned uploads."""
    newest: dict[tuple[str, str], str] = {}
    for item in queued:
        order = _order(item.plan)
        where = (item.plan.upload.bucket, item.plan.upload.key)
        if order is not None and _later(order, newest.get(where)):
            newest[where] = order
    return newest


def without_superseded(plan: Start, newest: dict[tuple[str, str], str]) -> tuple[Start, Ignore | None]:
    """The plan without its latestOnly requests when a newer version of the key is in the batch, and why
    (None when it is the key's newest here)."""
    order = _order(plan)
    upload = plan.upload
    newer = newest.get((upload.bucket, upload.key))
    if order is None or newer is None or not _later(newer, order):
        return plan, None
    kept = tuple(request for request in plan.requests if not request.latest_only)
    reason = (
        f"s3://{upload.bucket}/{upload.key} version {upload.version_id}: a newer version ({newer.split(chr(0), 1)[1]}) "
        "was uploaded in the same batch; the newer upload builds"
    )
    return plan._replace(requests=kept), Ignore("superseded", reason)


def oldest_first(queued: list[Queued]) -> list[Queued]:
    """In arrival order, except that each key's versions are taken in sequencer order, oldest first."""
    first_seen: dict[tuple[str, str], int] = {}
    for item in queued:
        first_seen.setdefault((item.plan.upload.bucket, item.plan.upload.key), item.position)

    def place(item: Queued) -> tuple[int, str, int]:
        where = (item.plan.upload.bucket, item.plan.upload.key)
        return first_seen[where], _order(item.plan) or "", item.position

    return sorted(queued, key=place)


def _order(plan: Start) -> str | None:
    """The upload's sequencer, left-padded to compare as S3 says (then "\\0" and the version), or None when the
    upload cannot be placed (no version pin or no sequencer)."""
    upload = plan.upload
    if upload.version_id is None or upload.sequencer is None:
        return None
    # S3 sequencers differ in length: left-pad with zeros, then compare as strings (same key only).
    return f"{upload.sequencer.upper():0>64}\0{upload.version_id}"


def _later(order: str, other: str | None) -> bool:
    return other is None or order.split("\0", 1)[0] > other.split("\0", 1)[0]
