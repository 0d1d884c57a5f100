"""docs/metrics.md documents every metric family the worker and the webhook export."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from processor.ingest.webhook import WebhookMetrics
from processor.metrics import families as f
from processor.metrics.health import HealthMetrics

DOC = (Path(__file__).resolve().parents[3] / "docs" / "metrics.md").read_text()


def exported_names() -> set[str]:
    """Every declared family, as PromQL names it (counters with `_total`)."""
    return {
        family.sample("count").removesuffix("_count") if family.kind == "histogram"
        else family.sample()
        for family in f.all_families()
    }  # fmt: skip


def test_the_processes_export_exactly_the_declared_health_families() -> None:
    registry = CollectorRegistry()
    HealthMetrics(registry)
    declared = {(family.name, family.kind, family.labels) for family in f.HEALTH_FAMILIES}
    for metric in registry.collect():
        labels = {name for sample in metric.samples for name in sample.labels} - {"le"}
        assert (metric.name, metric.type, tuple(sorted(labels))) in {
            (name, kind, tuple(sorted(names))) for name, kind, names in declared
        }, metric.name
    for metric in WebhookMetrics().registry.collect():
        if not metric.name.startswith(f.PREFIX):
            continue  # the stock process, platform and GC collectors (docs: Standard collectors)
        if metric.type != "histogram":
            assert f.family(metric.name.removeprefix(f.PREFIX)).kind == metric.type


def test_every_exported_family_is_documented() -> None:
    names = exported_names()
    assert len(names) > 50
    missing = sorted(name for name in names if f"`{name}`" not in DOC)
    assert missing == []
