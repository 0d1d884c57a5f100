"""The business page's writer against prometheus-client's: the same bytes, for a page of a
worker after a backlog and for label values that need escaping."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from benchmarks.data import backlog_events, messages_of
from benchmarks.scrape import mentions
from processor.domain.sla import SlaPolicyCache
from processor.metrics import exposition
from processor.metrics.collectors import BusinessCollector
from processor.metrics.exposition import TextWriter
from processor.settings import Settings
from processor.stream.deadletters import TopicDeadLetters
from processor.stream.pipeline import Pipeline
from processor.stream.tables import Tables
from processor.tools.backtest.offline import MemoryDedup, NoHealth


class Fixed(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


def reference(families: list[Metric]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Fixed(families))
    return generate_latest(registry)


def odd_families() -> list[Metric]:
    counter = CounterMetricFamily("socialcare_x", 'Help with \\ and\nnewline "quoted".',
                                  labels=("brand", "channel"))  # fmt: skip
    counter.add_metric(['Acme "Care"', "back\\slash"], 3.0)
    counter.add_metric(["multi\nline", "twitter"], 1e-7)
    counter.add_metric(["big", "twitter"], 123456789.0)
    gauge = GaugeMetricFamily("socialcare_y", "A gauge.", labels=())
    gauge.add_metric([], float("nan"))
    bare = GaugeMetricFamily("socialcare_z", "No labels, a value.", value=-2.5)
    histogram = HistogramMetricFamily("socialcare_h", "A histogram.", labels=("brand",))
    histogram.add_metric(["é"], [("0.5", 1.0), ("1.0", 3.0), ("+Inf", 4.0)], 7.25)
    return [counter, gauge, bare, histogram]


def test_odd_label_values_and_values_are_written_as_prometheus_client_writes_them() -> None:
    writer = TextWriter()
    assert writer.text(odd_families()) == reference(odd_families())
    # Again from the kept label strings.
    assert writer.text(odd_families()) == reference(odd_families())


def test_a_full_label_cache_starts_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exposition, "MAX_LABEL_STRINGS", 2)
    writer = TextWriter()
    assert writer.text(odd_families()) == reference(odd_families())
    assert len(writer._labels) <= 2


def test_the_page_of_a_worker_after_a_backlog_is_the_same() -> None:
    settings = Settings.model_validate({"clock": "event", "partitions": 4})

    async def nowhere(partition: int, key: bytes | None, value: bytes) -> None: ...

    async def processed() -> Pipeline:
        pipeline = Pipeline(
            settings, tables=Tables.in_memory(), policies=SlaPolicyCache(), dedup=MemoryDedup(),
            health=NoHealth(), dead_letters=TopicDeadLetters(nowhere, NoHealth()),
        )  # fmt: skip
        pipeline.assign(set(range(4)))
        documents = mentions(500, 1.0) + backlog_events(4000, seed=3)
        documents.sort(key=lambda document: str(document["occurred_at"]))
        messages = messages_of(documents, settings, 4)
        for first in range(0, len(messages), 500):
            await pipeline.handle_batch(messages[first : first + 500])
        return pipeline

    collector = BusinessCollector(asyncio.run(processed()).view)
    families = list(collector.collect())
    expected = reference(families)
    assert expected.count(b"\n") > 2000  # histograms, windows, backlog and forecast series
    assert TextWriter().text(families) == expected
