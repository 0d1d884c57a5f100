"""docs/metrics.md documents every metric family the worker and the webhook export."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from processor.export import HealthMetrics
from processor.metrics import BUSINESS_FAMILIES, PREFIX, WINDOWED_SERIES
from processor.webhook import WebhookMetrics

DOC = (Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text()


def exported_names() -> set[str]:
    names = set()
    for family in (*BUSINESS_FAMILIES, *WINDOWED_SERIES.values()):
        suffix = "_total" if family.kind == "counter" else ""
        names.add(PREFIX + family.name + suffix)
    registry = CollectorRegistry()
    HealthMetrics(registry)
    for metric in registry.collect():
        names.add(metric.name + ("_total" if metric.type == "counter" else ""))
    for metric in WebhookMetrics().registry.collect():
        names.add(metric.name + ("_total" if metric.type == "counter" else ""))
    names.add(PREFIX + "team_staffing_cost_per_hour")
    names.add(PREFIX + "consumer_lag_records")
    return names


def test_every_exported_family_is_documented() -> None:
    names = exported_names()
    assert len(names) > 50
    missing = sorted(name for name in names if f"`{name}`" not in DOC)
    assert missing == []
