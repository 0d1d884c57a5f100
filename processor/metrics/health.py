"""A process's own health instruments (prometheus-client), built from the declared families.

Process-local, unlike the business numbers: throughput, dead letters, lag, errors, the SLA
policy in force. Also the registry every exporter of the project starts from.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import accumulate
from typing import NamedTuple

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
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from processor.domain.deadletters import DEADLETTER_REASONS
from processor.domain.events import EVENT_TYPES
from processor.metrics import families as f
from processor.metrics.gc_pauses import GcPauseCollector

OUTCOMES = ("counted", "duplicate", "deadlettered", "redelivered")


def counter(family: f.Family, registry: CollectorRegistry) -> Counter:
    return Counter(family.name, family.documentation, family.labels, registry=registry)


def gauge(family: f.Family, registry: CollectorRegistry) -> Gauge:
    return Gauge(family.name, family.documentation, family.labels, registry=registry)


def histogram(
    family: f.Family, buckets: tuple[float, ...], registry: CollectorRegistry
) -> Histogram:
    return Histogram(
        family.name, family.documentation, family.labels, buckets=buckets, registry=registry
    )


class BatchHistogram(Collector):
    """A histogram without labels, observed a batch of values at a time.

    prometheus-client's `Histogram.observe` takes a lock and walks the bounds for each
    value: twice per event, that was about 2 % of the worker. Here a batch of values is
    one call (a bisection each), and the family is built at scrape time. Not thread-safe:
    the worker observes and serves `/metrics` on the same event loop.
    """

    def __init__(self, family: f.Family, bounds: tuple[float, ...], registry: CollectorRegistry):
        assert not family.labels, "a BatchHistogram has no labels"
        self._family = family
        self._bounds = bounds
        self._counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self._sum = 0.0
        registry.register(self)

    def observe_many(self, values: Iterable[float]) -> None:
        counts, bounds, total = self._counts, self._bounds, 0.0
        for value in values:
            counts[bisect.bisect_left(bounds, value)] += 1  # first bound >= value: `le`
            total += value
        self._sum += total

    def describe(self) -> Iterable[Metric]:
        return [HistogramMetricFamily(self._family.name, self._family.documentation)]

    def collect(self) -> Iterator[Metric]:
        cumulative = list(accumulate(self._counts))
        bounds = (*self._bounds, float("inf"))
        le = [floatToGoString(bound) for bound in bounds]  # type: ignore[no-untyped-call]
        buckets = list(zip(le, cumulative, strict=True))
        family = HistogramMetricFamily(self._family.name, self._family.documentation)
        family.add_metric([], buckets, self._sum)
        yield family


class HealthMetrics:
    """The worker's own health: throughput, dead letters, lag, errors."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.events_processed = counter(f.EVENTS_PROCESSED, registry)
        self.deadletters = counter(f.DEADLETTERS, registry)
        self.processing_errors = counter(f.PROCESSING_ERRORS, registry)
        self.event_time_lag = BatchHistogram(
            f.EVENT_TIME_LAG_SECONDS, f.EVENT_LAG_BUCKETS, registry
        )
        self.pipeline_latency = BatchHistogram(
            f.PIPELINE_LATENCY_SECONDS, f.PIPELINE_LATENCY_BUCKETS, registry
        )
        self.batch_records = BatchHistogram(
            f.PIPELINE_BATCH_RECORDS, f.PIPELINE_BATCH_RECORDS_BUCKETS, registry
        )
        self.last_event_time = gauge(f.LAST_EVENT_TIMESTAMP_SECONDS, registry)
        self.owned_partitions = gauge(f.OWNED_PARTITIONS, registry)
        self.sla_policy_version = gauge(f.SLA_POLICY_VERSION, registry)
        self.sla_policy_reloads = counter(f.SLA_POLICY_RELOADS, registry)
        self.alignment_enforced = counter(f.ALIGNMENT_ENFORCED_RECORDS, registry)
        self.label_overflow = counter(f.LABEL_OVERFLOW, registry)
        for label in ("brand", "channel", "team"):
            self.label_overflow.labels(label)
        self.redis_reachable = gauge(f.REDIS_REACHABLE, registry)
        self.redis_reachable.set(1)
        self.recovery_seconds = gauge(f.STATE_RECOVERY_SECONDS, registry)
        self.recovery_records = counter(f.STATE_RECOVERY_RECORDS, registry)
        self.standby_partitions = gauge(f.STATE_STANDBY_PARTITIONS, registry)
        self.standby_lag = gauge(f.STATE_STANDBY_LAG_RECORDS, registry)
        self.changelog_records = counter(f.STATE_CHANGELOG_RECORDS, registry)
        self.changelog_bytes = counter(f.STATE_CHANGELOG_BYTES, registry)
        self.write_wait = counter(f.STATE_WRITE_WAIT, registry)
        for event_type in (*EVENT_TYPES, "unknown"):
            for outcome in OUTCOMES:
                self.events_processed.labels(event_type, outcome)
        for reason in DEADLETTER_REASONS:
            self.deadletters.labels(reason)
        self._latest = 0.0

    def processed(self, event_type: str, outcome: str) -> None:
        self.events_processed.labels(event_type, outcome).inc()

    def processed_counts(self, counts: Mapping[tuple[str, str], int]) -> None:
        """A batch's outcomes: one increment per (type, outcome), not per event."""
        for (event_type, outcome), amount in counts.items():
            self.events_processed.labels(event_type, outcome).inc(amount)

    def overflowed(self, label: str, events: int) -> None:
        """Events whose `label` value was exported as 'other'."""
        self.label_overflow.labels(label).inc(events)

    def dead_lettered(self, reason: str) -> None:
        self.deadletters.labels(reason).inc()

    def processing_error(self) -> None:
        self.processing_errors.inc()

    def observe_events(
        self, event_times: Sequence[float], produced_at: Sequence[float | None]
    ) -> None:
        """A batch's counted events, their processing ended now: lag and latency."""
        if not event_times:
            return
        now = time.time()
        self.event_time_lag.observe_many(max(0.0, now - at) for at in event_times)
        self.pipeline_latency.observe_many(
            max(0.0, now - at) for at in produced_at if at is not None
        )
        latest = max(event_times)
        if latest > self._latest:
            self._latest = latest
            self.last_event_time.set(latest)


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
        for topic, records in sorted((self._lag() or {}).items()):
            family.add_metric([topic], records)
        yield family

    @staticmethod
    def _family() -> GaugeMetricFamily:
        lag = f.CONSUMER_LAG_RECORDS
        return GaugeMetricFamily(lag.name, lag.documentation, labels=lag.labels)


class AlignmentSnapshot(NamedTuple):
    """The aligned input's state at a scrape (see `processor.stream.alignment`)."""

    buffered: dict[int, int]  # partition -> records waiting
    paused: int
    idle: int
    catching_up: int


class AlignmentCollector(Collector):
    """Gauges of the aligned input, read from the worker at scrape time (None: no sample)."""

    def __init__(self, snapshot: Callable[[], AlignmentSnapshot | None]) -> None:
        self._snapshot = snapshot

    def describe(self) -> Iterable[Metric]:
        return list(self._families(None))

    def collect(self) -> Iterator[Metric]:
        yield from self._families(self._snapshot())

    @staticmethod
    def _families(snapshot: AlignmentSnapshot | None) -> Iterator[Metric]:
        def family(declared: f.Family) -> GaugeMetricFamily:
            return GaugeMetricFamily(declared.name, declared.documentation, labels=declared.labels)

        buffered = family(f.ALIGNMENT_BUFFERED_RECORDS)
        paused, idle = family(f.ALIGNMENT_PAUSED_PARTITIONS), family(f.ALIGNMENT_IDLE_PARTITIONS)
        catching_up = family(f.CATCHING_UP_PARTITIONS)
        if snapshot is not None:
            for partition, records in sorted(snapshot.buffered.items()):
                buffered.add_metric([str(partition)], records)
            paused.add_metric([], snapshot.paused)
            idle.add_metric([], snapshot.idle)
            catching_up.add_metric([], snapshot.catching_up)
        yield from (buffered, paused, idle, catching_up)


def new_registry() -> CollectorRegistry:
    """A registry with the process, platform and GC collectors of a normal exporter, and
    the collector's pauses."""
    disable_created_metrics()  # type: ignore[no-untyped-call]  # `_created` series are noise
    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    GcPauseCollector(registry)
    return registry
