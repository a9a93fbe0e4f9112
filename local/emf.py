"""The function's metrics, read back from the EMF records it prints (log lines with an `_aws` key)."""

from __future__ import annotations

from typing import Any


def emf_metrics(records: list[dict[str, Any]]) -> list[tuple[str, dict[str, str], float]]:
    """(metric name, dimensions, value) once per dimension set of every metric, as CloudWatch counts them."""
    found = []
    for record in records:
        for directive in record.get("_aws", {}).get("CloudWatchMetrics", []):
            for names in directive["Dimensions"] or [[]]:
                # A dimension named in a set but missing from the record is invalid EMF: let it raise.
                dimensions = {name: str(record[name]) for name in names}
                for metric in directive["Metrics"]:
                    values = record[metric["Name"]]
                    found.append(
                        (metric["Name"], dimensions, float(sum(values) if isinstance(values, list) else values))
                    )
    return found
