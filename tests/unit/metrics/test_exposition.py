"""The business page's writer against prometheus-client's: the same bytes as
`generate_latest` writes for the same families as prometheus-client's (`to_metric`), for a
page of a worker after a backlog and for label and sample values that need care."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from benchmarks.data import backlog_events, messages_of
from benchmarks.scrape import mentions
from processor.domain.sla import SlaPolicyCache
from processor.metrics import exposition
from processor.metrics.collectors import BusinessCollector
from processor.metrics.exposition import PageFamily, TextWriter
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


def reference(families: list[PageFamily]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Fixed([family.to_metric() for family in families]))
    return generate_latest(registry)


def odd_families() -> list[PageFamily]:
    counter = PageFamily("socialcare_x", 'Help with \\ and\nnewline "quoted".', "counter",
                         ("brand", "channel"))  # fmt: skip
    counter.add(('Acme "Care"', "back\\slash"), 3.0)
    counter.add(("multi\nline", "twitter"), 1e-7)
    counter.add(("big", "twitter"), 123456789.0)
    counter.add(("zero", "twitter"), 0.0)
    counter.add(("minus zero", "twitter"), -0.0)  # its own text, not 0.0's
    counter.add(("an int", "twitter"), 3)
    gauge = PageFamily("socialcare_y", "A gauge.", "gauge", ())
    gauge.add((), float("nan"))
    gauge.add((), float("inf"))
    bare = PageFamily("socialcare_z", "No labels, a value.", "gauge", ())
    bare.add((), -2.5)
    histogram = PageFamily("socialcare_h", "A histogram.", "histogram", ("brand", "zone"))
    histogram.add_histogram(("é", "a"), [("0.5", 1.0), ("1.0", 3.0), ("+Inf", 4.0)], 7.25)
    histogram.add_histogram(("é", "b"), [("0.5", 0.0), ("1.0", 0.0), ("+Inf", 0.0)], 0.0)
    below_zero = PageFamily("socialcare_n", "Negative bounds.", "histogram", ())
    below_zero.add_histogram((), [("-1.0", 2.0), ("+Inf", 5.0)], -3.0)  # no _count, _sum
    return [counter, gauge, bare, histogram, below_zero]


def test_odd_label_values_and_values_are_written_as_prometheus_client_writes_them() -> None:
    writer = TextWriter()
    assert writer.text(odd_families()) == reference(odd_families())
    # Again from the kept label strings.
    assert writer.text(odd_families()) == reference(odd_families())


def test_a_full_label_cache_starts_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exposition, "MAX_LABEL_STRINGS", 2)
    monkeypatch.setattr(exposition, "MAX_VALUE_STRINGS", 2)
    writer = TextWriter()
    assert writer.text(odd_families()) == reference(odd_families())
    assert writer.text(odd_families()) == reference(odd_families())
    assert writer._kept <= 3 and len(writer._values) <= 2


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
    families = collector.page()
    expected = reference(families)
    assert expected.count(b"\n") > 2000  # histograms, windows, backlog and forecast series
    writer = TextWriter()
    assert writer.text(families) == expected
    assert writer.text(collector.page()) == expected  # from the kept prefixes and values
    # What a registry reads (`?name[]=`) is the same families.
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    assert generate_latest(registry) == expected
