"""The uploads, the routes and how EventBridge delivers each upload's event: all drawn from one seed.

Keys are `team-NN/service-KKK.zip`, one team per pipeline: route `team-NN/*.zip` starts `pipeline-NN`. Every fifth
pipeline is an audit pipeline (`latestOnly: false`: every version builds); the others build only the key's current
version. A share of uploads goes to `scratch/...`, which no route matches. Keys are drawn with a skew (a few keys
take many uploads in quick succession, as a busy service's builds do), upload times uniformly over the window.

Each upload's event is delivered once after EventBridge's delay; some are delayed more (reordered behind newer
uploads of the same key), some delivered a second time (at-least-once), some a second time hours later.
"""

from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trigger_fn.settings import Settings, load_settings

BUCKET = "my-artifact-bucket"
SAMPLE_EVENT = Path(__file__).resolve().parents[2] / "events" / "put-object.json"
# 2026-11-20T14:00:00Z: the virtual clock's zero, a date the sample events use.
EPOCH = 1795183200.0


@dataclass(frozen=True)
class Workload:
    uploads: int = 10_000
    window_s: float = 60.0
    keys: int = 500
    pipelines: int = 50
    seed: int = 20261206
    # Every n-th pipeline builds every version (latestOnly false).
    audit_every: int = 5
    unrouted_share: float = 0.02
    # Zipf-like skew of uploads over keys (0: uniform).
    key_skew: float = 0.8
    # EventBridge: a base delay, a share delayed further (reordered), duplicates soon and hours later.
    delivery_delay_s: float = 0.3
    reordered_share: float = 0.05
    reorder_delay_s: float = 10.0
    duplicate_share: float = 0.03
    duplicate_delay_s: float = 30.0
    late_share: float = 0.005
    late_delay_s: tuple[float, float] = (3600.0, 6 * 3600.0)


@dataclass(frozen=True)
class Upload:
    number: int
    key: str
    version_id: str
    at: float
    event: dict[str, Any]
    # Pipelines whose route matches, each with its route's latestOnly.
    routes: tuple[tuple[str, bool], ...]


@dataclass(frozen=True)
class Delivery:
    upload: Upload
    at: float
    kind: str  # "first", "reordered", "duplicate" or "late"


@dataclass
class Plan:
    workload: Workload
    settings: Settings
    routes_json: str
    uploads: list[Upload] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)

    @property
    def pipelines(self) -> list[str]:
        return [route.pipeline for route in self.settings.routes]


def routes(workload: Workload) -> list[dict[str, Any]]:
    return [
        {
            "key": f"team-{number:02d}/*.zip",
            "pipeline": f"pipeline-{number:02d}",
            "latestOnly": number % workload.audit_every != workload.audit_every - 1,
        }
        for number in range(workload.pipelines)
    ]


def plan(workload: Workload) -> Plan:
    rng = random.Random(workload.seed)  # noqa: S311 - a reproducible workload, not security
    routes_json = json.dumps(routes(workload))
    settings = load_settings({"SOURCE_BUCKET": BUCKET, "ROUTES": routes_json})
    template = json.loads(SAMPLE_EVENT.read_text(encoding="utf-8"))
    weights = [1 / (rank + 1) ** workload.key_skew for rank in range(workload.keys)]
    keys = [f"team-{number % workload.pipelines:02d}/service-{number:03d}.zip" for number in range(workload.keys)]
    rng.shuffle(keys)
    times = sorted(EPOCH + rng.uniform(0, workload.window_s) for _ in range(workload.uploads))
    result = Plan(workload, settings, routes_json)
    for number, at in enumerate(times):
        if rng.random() < workload.unrouted_share:
            key = f"scratch/notes-{number}.txt"
        else:
            key = rng.choices(keys, weights=weights)[0]
        version_id = f"{rng.getrandbits(96):024x}.v"
        event = _event(template, rng, key, version_id, at, sequencer=number + 1)
        matched = tuple((route.pipeline, route.latest_only) for route in settings.routes if route.matches(key))
        upload = Upload(number, key, version_id, at, event, matched)
        result.uploads.append(upload)
        result.deliveries.extend(_deliveries(upload, workload, rng))
    result.deliveries.sort(key=lambda delivery: delivery.at)
    return result


def _deliveries(upload: Upload, workload: Workload, rng: random.Random) -> list[Delivery]:
    first = upload.at + rng.expovariate(1 / workload.delivery_delay_s)
    kind = "first"
    if rng.random() < workload.reordered_share:
        first += rng.uniform(0, workload.reorder_delay_s)
        kind = "reordered"
    deliveries = [Delivery(upload, first, kind)]
    if rng.random() < workload.duplicate_share:
        deliveries.append(Delivery(upload, first + rng.uniform(0, workload.duplicate_delay_s), "duplicate"))
    if rng.random() < workload.late_share:
        deliveries.append(Delivery(upload, upload.at + rng.uniform(*workload.late_delay_s), "late"))
    return deliveries


def _event(
    template: dict[str, Any], rng: random.Random, key: str, version_id: str, at: float, *, sequencer: int
) -> dict[str, Any]:
    event = copy.deepcopy(template)
    event["id"] = f"{rng.getrandbits(128):032x}"
    event["time"] = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    obj = event["detail"]["object"]
    obj["key"] = key
    obj["version-id"] = version_id
    # S3's sequencer grows with each event of a key; one counter for all keys keeps that.
    obj["sequencer"] = f"{sequencer:018X}"
    obj["etag"] = f"{rng.getrandbits(128):032x}"
    return event
