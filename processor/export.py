"""Prometheus export: business numbers read from table state, health from the process.

The business collector reads the aggregate tables at scrape time, for the partitions the
worker owns at that moment, so the sum over workers never counts a partition twice and
numbers survive restarts (they come back from the changelogs). Health metrics are
ordinary process-local prometheus-client instruments.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from processor.deadletters import DEADLETTER_REASONS
from processor.events import EVENT_TYPES
from processor.metrics import (
    BUSINESS_FAMILIES,
    HISTOGRAM_BOUNDS,
    PREFIX,
    WINDOWED_SERIES,
    WINDOWS,
    cumulative_buckets,
    split_series_id,
    sum_windows,
)
from processor.pipeline import Pipeline

# Event time to processing: from seconds (live) to years (a replay of history).
EVENT_LAG_BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 21600, 86400, 604800, 2592000, 31536000)
PIPELINE_LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
)  # fmt: skip


class HealthMetrics:
    """The worker's own health: throughput, dead letters, lag, errors."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.events_processed = Counter(
            "socialcare_events_processed",
            "Input events handled by this worker, by type and outcome "
            "(counted, duplicate, deadlettered).",
            ["type", "outcome"],
            registry=registry,
        )
        self.deadletters = Counter(
            "socialcare_deadletters",
            "Messages sent to the dead-letter topic, by reason.",
            ["reason"],
            registry=registry,
        )
        self.processing_errors = Counter(
            "socialcare_processing_errors",
            "Valid events whose processing raised an error (they are dead-lettered too).",
            registry=registry,
        )
        self.event_time_lag = Histogram(
            "socialcare_event_time_lag_seconds",
            "Wall clock at processing minus the event's occurred_at.",
            buckets=EVENT_LAG_BUCKETS,
            registry=registry,
        )
        self.pipeline_latency = Histogram(
            "socialcare_pipeline_latency_seconds",
            "Kafka record timestamp (produce time) to the end of processing of the event.",
            buckets=PIPELINE_LATENCY_BUCKETS,
            registry=registry,
        )
        self.last_event_time = Gauge(
            "socialcare_last_event_timestamp_seconds",
            "occurred_at of the latest event processed by this worker (POSIX seconds).",
            registry=registry,
        )
        self.owned_partitions = Gauge(
            "socialcare_owned_partitions",
            "Input partitions this worker owns and exports.",
            registry=registry,
        )
        self.sla_policy_version = Gauge(
            "socialcare_sla_policy_version",
            "Version of the SLA policy set in force on this worker (from Redis).",
            registry=registry,
        )
        self.sla_policy_reloads = Counter(
            "socialcare_sla_policy_reloads",
            "Times this worker loaded a changed SLA policy set from Redis.",
            registry=registry,
        )
        for event_type in (*EVENT_TYPES, "unknown"):
            for outcome in ("counted", "duplicate", "deadlettered"):
                self.events_processed.labels(event_type, outcome)
        for reason in DEADLETTER_REASONS:
            self.deadletters.labels(reason)
        self._latest = 0.0

    def processed(self, event_type: str, outcome: str) -> None:
        self.events_processed.labels(event_type, outcome).inc()

    def dead_lettered(self, reason: str) -> None:
        self.deadletters.labels(reason).inc()

    def processing_error(self) -> None:
        self.processing_errors.inc()

    def observe_event(self, event_time: float, produced_at: float | None) -> None:
        now = time.time()
        self.event_time_lag.observe(max(0.0, now - event_time))
        if produced_at is not None:
            self.pipeline_latency.observe(max(0.0, now - produced_at))
        if event_time > self._latest:
            self._latest = event_time
            self.last_event_time.set(event_time)


class ConsumerLagCollector(Collector):
    """Records not yet read in this worker's input partitions, per topic (a gauge).

    `lag()` returns None while partitions are in flux (rebalance, recovery): no sample then.
    """

    def __init__(self, lag: Callable[[], dict[str, int] | None]) -> None:
        self._lag = lag

    def describe(self) -> Iterable[Metric]:
        return [self._family()]

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        lags = self._lag()
        for topic, records in sorted((lags or {}).items()):
            family.add_metric([topic], records)
        yield family

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "socialcare_consumer_lag_records",
            "Records not yet read in the input partitions this worker owns, by topic.",
            labels=["topic"],
        )


class BusinessCollector(Collector):
    """Custom collector over the aggregate tables, for the partitions owned right now."""

    def __init__(self, pipeline: Pipeline, owned_partitions: Callable[[], set[int] | None]) -> None:
        self._pipeline = pipeline
        self._owned_partitions = owned_partitions

    def describe(self) -> Iterable[Metric]:
        return []  # the families depend on table content: no registration-time collect

    def collect(self) -> Iterator[Metric]:
        partitions = self._owned_partitions()
        if partitions is None:
            return  # rebalancing or recovering: no partial numbers
        yield from build_families(self._pipeline, partitions)


def build_families(pipeline: Pipeline, partitions: set[int]) -> list[Metric]:
    """Metric families summed over the given partitions."""
    families: dict[str, Metric] = {}
    for family in BUSINESS_FAMILIES:
        name = PREFIX + family.name
        if family.kind == "counter":
            families[family.name] = CounterMetricFamily(
                name, family.documentation, labels=family.labels
            )
        elif family.kind == "gauge":
            families[family.name] = GaugeMetricFamily(
                name, family.documentation, labels=family.labels
            )
        else:
            families[family.name] = HistogramMetricFamily(
                name, family.documentation, labels=family.labels
            )
    for stored_name, family in WINDOWED_SERIES.items():
        families[stored_name] = GaugeMetricFamily(
            PREFIX + family.name, family.documentation, labels=family.labels
        )

    merged: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for brand, channel, values in pipeline.owned_totals(partitions):
        into = merged[(brand, channel)]
        for series, value in values.items():
            into[series] = round(into[series] + value, 6)  # same sum in any partition order

    # Histogram series: (family, label values without `le`) -> bucket index -> count.
    histograms: dict[tuple[str, tuple[str, ...]], dict[int, float]] = defaultdict(dict)
    sums: dict[tuple[str, tuple[str, ...]], float] = defaultdict(float)
    for (brand, channel), values in sorted(merged.items()):
        for series, value in sorted(values.items()):
            name, extra = split_series_id(series)
            family_name, _, part = name.rpartition("_")
            if family_name in HISTOGRAM_BOUNDS:
                if part == "bucket":
                    key = (family_name, (brand, channel, *extra[:-1]))
                    histograms[key][int(extra[-1])] = value
                elif part == "sum":
                    sums[(family_name, (brand, channel, *extra))] = value
                continue  # `_count` is the +Inf bucket
            metric = families[name.removesuffix("_total")]
            metric.add_metric([brand, channel, *extra], value)  # type: ignore[attr-defined]
    for (family_name, label_values), counts in sorted(histograms.items()):
        families[family_name].add_metric(  # type: ignore[attr-defined]
            list(label_values),
            buckets=cumulative_buckets(counts, HISTOGRAM_BOUNDS[family_name]),
            sum_value=sums.get((family_name, label_values), 0.0),
        )

    for (brand, channel, age), count in sorted(pipeline.open_ages(partitions).items()):
        families["open_conversations_by_age"].add_metric([brand, channel, age], count)  # type: ignore[attr-defined]
    by_priority = families["open_conversations_by_priority"]
    for labels, count in sorted(pipeline.open_by_priority(partitions).items()):
        by_priority.add_metric(list(labels), count)  # type: ignore[attr-defined]

    # Windows end at each partition's own "now", then add up over partitions.
    per_partition: dict[int, list[tuple[float, float, dict[str, float]]]] = defaultdict(list)
    labels_of: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for partition, brand, channel, size, start, values in pipeline.owned_buckets(partitions):
        per_partition[partition].append((start, size, values))
        labels_of[partition].append((brand, channel))
    window_totals: dict[tuple[str, str, str, str], float] = defaultdict(float)
    for partition, buckets in per_partition.items():
        now = pipeline.window_now(partition)
        for (brand, channel), bucket in zip(labels_of[partition], buckets, strict=True):
            for window, values in sum_windows([bucket], now).items():
                for series, value in values.items():
                    window_totals[(brand, channel, window, series)] += value
    seen: set[tuple[str, str, str, str]] = set()
    for (brand, channel, window, series), value in sorted(window_totals.items()):
        name, extra = split_series_id(series)
        families[name].add_metric([brand, channel, *extra, window], value)  # type: ignore[attr-defined]
        seen.add((brand, channel, window, series))
    # Every window of a known series is exported, zero when empty, so that alerts on
    # "no breaches in the last 5m" see a 0 instead of an absent series.
    for brand, channel, window, series in {
        (brand, channel, window, series)
        for (brand, channel, _, series) in seen
        for window in WINDOWS
    } - seen:
        name, extra = split_series_id(series)
        families[name].add_metric([brand, channel, *extra, window], 0.0)  # type: ignore[attr-defined]
    # Configuration, not data: exported once in the cluster, by the owner of partition 0,
    # so that a sum over workers is the configured figure.
    if 0 in partitions and pipeline.settings.team_staffing:
        staffing = GaugeMetricFamily(
            PREFIX + "team_staffing_cost_per_hour",
            "Configured cost of a team per hour: hourly cost per agent x staffed agents "
            "(SOCIALCARE_TEAM_STAFFING).",
            labels=("team",),
        )
        for team, plan in sorted(pipeline.settings.team_staffing.items()):
            staffing.add_metric([team], plan.hourly_cost * plan.agents)
        families["team_staffing_cost_per_hour"] = staffing
    return list(families.values())


def new_registry() -> CollectorRegistry:
    """A registry with the process, platform and GC collectors of a normal exporter."""
    disable_created_metrics()  # type: ignore[no-untyped-call]  # `_created` series are noise
    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry
