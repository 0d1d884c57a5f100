"""The business collector: metric families built at scrape time from the owned state.

It reads the aggregate records of the partitions the worker owns at that moment (through
a read-only `BusinessState`), so the sum over workers never counts a partition twice and
numbers survive restarts (they come back from the changelogs).

Counters and histograms carry a `partition` label: a partition's series moves whole from
one worker to another at a rebalance (a new series there, gone here), so `rate()` and
`increase()` never see a jump. Gauges are summed over the worker's partitions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import Protocol

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from processor.metrics import families as f
from processor.metrics.prediction_families import FORECAST_FIRST_RESPONSE_BREACHES
from processor.metrics.series import SeriesKey, parse_field
from processor.metrics.windows import WINDOWS, covering_windows
from processor.settings import TeamStaffing

Sample = tuple[list[str], float]


class BusinessState(Protocol):
    """What the scrape reads of the stream state (`processor.stream.pipeline.StateView`)."""

    def exported_partitions(self) -> set[int] | None: ...
    @property
    def team_staffing(self) -> Mapping[str, TeamStaffing]: ...
    def window_now(self, partition: int) -> float: ...
    def owned_totals(
        self, partitions: set[int]
    ) -> Iterable[tuple[int, str, str, dict[str, float]]]: ...  # fmt: skip
    def owned_buckets(
        self, partitions: set[int]
    ) -> Iterable[tuple[int, str, str, float, float, dict[str, float]]]: ...
    def open_ages(self, partitions: set[int]) -> Mapping[tuple[str, str, str], int]: ...
    def open_by_priority(self, partitions: set[int]) -> Mapping[tuple[str, str, str, str], int]: ...
    def breach_forecast(
        self, partitions: set[int]
    ) -> Mapping[tuple[str, str, str, str], float]: ...


class BusinessCollector(Collector):
    """Custom collector over the aggregate tables, for the partitions owned right now."""

    def __init__(self, state: BusinessState) -> None:
        self._state = state

    def describe(self) -> Iterable[Metric]:
        # The catalogue's names, without reading the tables: the registry learns which
        # names this collector answers for (`?name[]=` picks it only when asked for).
        return [
            Metric(family.name, family.documentation, family.kind) for family in f.BUSINESS_FAMILIES
        ]

    def collect(self) -> Iterator[Metric]:
        partitions = self._state.exported_partitions()
        if partitions is None:
            return  # rebalancing or recovering: no partial numbers
        yield from build_families(self._state, partitions)


def cumulative_buckets(
    counts: Mapping[int, float], bounds: tuple[float, ...]
) -> list[tuple[str, float]]:
    """Prometheus `le` buckets (cumulative, +Inf last) from per-bucket counts."""
    running = 0.0
    out = []
    for index, bound in enumerate(bounds):
        running += counts.get(index, 0.0)
        out.append((repr(float(bound)), running))
    running += counts.get(len(bounds), 0.0)
    out.append(("+Inf", running))
    return out


def exported_labels(family: f.Family) -> tuple[str, ...]:
    """A family's labels as exported: business counters and histograms add `partition`."""
    if family.kind in ("counter", "histogram") and family in f.BUSINESS_FAMILIES:
        return (*family.labels, "partition")
    return family.labels


def _empty(family: f.Family) -> Metric:
    kinds = {"counter": CounterMetricFamily, "gauge": GaugeMetricFamily,
             "histogram": HistogramMetricFamily}  # fmt: skip
    metric: Metric = kinds[family.kind](
        family.name, family.documentation, labels=exported_labels(family)
    )
    return metric


def build_families(state: BusinessState, partitions: set[int]) -> list[Metric]:
    """Metric families summed over the given partitions."""
    families: dict[str, Metric] = {
        family.name: _empty(family)
        for family in (*f.BUSINESS_FAMILIES, *f.WINDOW_FAMILIES.values())
    }
    _add_totals(families, state, partitions)
    for (brand, channel, age), count in sorted(state.open_ages(partitions).items()):
        families[f.OPEN_CONVERSATIONS_BY_AGE.name].add_metric([brand, channel, age], count)  # type: ignore[attr-defined]
    by_priority = families[f.OPEN_CONVERSATIONS_BY_PRIORITY.name]
    for labels, count in sorted(state.open_by_priority(partitions).items()):
        by_priority.add_metric(list(labels), count)  # type: ignore[attr-defined]
    _add_windows(families, state, partitions)
    forecast = families[FORECAST_FIRST_RESPONSE_BREACHES.name]
    for labels, expected in sorted(state.breach_forecast(partitions).items()):
        forecast.add_metric(list(labels), round(expected, 6))  # type: ignore[attr-defined]
    # Configuration, not data: exported once in the cluster, by the owner of partition 0,
    # so that a sum over workers is the configured figure.
    if 0 in partitions and state.team_staffing:
        staffing = _empty(f.TEAM_STAFFING_COST_PER_HOUR)
        for team, plan in sorted(state.team_staffing.items()):
            staffing.add_metric([team], plan.hourly_cost * plan.agents)  # type: ignore[attr-defined]
        families[f.TEAM_STAFFING_COST_PER_HOUR.name] = staffing
    return list(families.values())


def _add_totals(families: dict[str, Metric], state: BusinessState, partitions: set[int]) -> None:
    # Histogram series: (family, label values without `le`) -> bucket index -> count.
    histograms: dict[tuple[str, tuple[str, ...]], dict[int, float]] = defaultdict(dict)
    sums: dict[tuple[str, tuple[str, ...]], float] = defaultdict(float)
    gauges: dict[tuple[str, tuple[str, ...]], float] = defaultdict(float)
    rows = sorted(state.owned_totals(partitions), key=lambda row: row[:3])
    for partition, brand, channel, values in rows:
        for field, value in sorted(values.items()):
            key: SeriesKey = parse_field(brand, channel, field)
            labels = (*key.labels, str(partition))
            if key.part == "bucket":
                histograms[(key.family, labels)][key.bucket] = value
            elif key.part == "sum":
                sums[(key.family, labels)] = value
            elif key.part == "":
                if families[key.family].type == "gauge":  # summed over the partitions
                    place = (key.family, key.labels)
                    gauges[place] = round(gauges[place] + value, 6)  # same in any order
                else:
                    families[key.family].add_metric(list(labels), value)  # type: ignore[attr-defined]
            # `count` is the +Inf bucket
    for (name, labels), counts in sorted(histograms.items()):
        families[name].add_metric(  # type: ignore[attr-defined]
            list(labels),
            buckets=cumulative_buckets(counts, f.HISTOGRAM_BOUNDS[name]),
            sum_value=sums.get((name, labels), 0.0),
        )
    for (name, labels), value in sorted(gauges.items()):
        families[name].add_metric(list(labels), value)  # type: ignore[attr-defined]


def _add_windows(families: dict[str, Metric], state: BusinessState, partitions: set[int]) -> None:
    """Windows end at each partition's own "now", then add up over partitions."""
    totals: dict[tuple[str, str, str, str], float] = defaultdict(float)
    now = {partition: state.window_now(partition) for partition in partitions}
    for partition, brand, channel, size, start, values in state.owned_buckets(partitions):
        for window in covering_windows(start, size, now[partition]):
            for field, value in values.items():
                totals[(brand, channel, field, window)] += value
    # Every window of a known series is exported, zero when empty, so that alerts on
    # "no breaches in the last 5m" see a 0 instead of an absent series.
    for brand, channel, field in sorted({key[:3] for key in totals}):
        series = parse_field(brand, channel, field)
        window_family = families[f.WINDOW_FAMILIES[series.family].name]
        for window in WINDOWS:
            value = totals.get((brand, channel, field, window), 0.0)
            window_family.add_metric([*series.labels, window], value)  # type: ignore[attr-defined]
