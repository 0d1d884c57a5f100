"""The business collector: metric families built at scrape time from the owned state.

It reads the aggregate records of the partitions the worker owns at that moment (through
a read-only `BusinessState`), so the sum over workers never counts a partition twice and
numbers survive restarts (they come back from the changelogs).

Counters and histograms carry a `partition` label: a partition's series moves whole from
one worker to another at a rebalance (a new series there, gone here), so `rate()` and
`increase()` never see a jump. Gauges are summed over the worker's partitions.
"""

from __future__ import annotations

import functools
import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import Protocol

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from processor.metrics import families as f
from processor.metrics.exposition import Bucket, PageFamily
from processor.metrics.prediction_families import FORECAST_FIRST_RESPONSE_BREACHES
from processor.metrics.series import parse_stored
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
        for family in self.page():
            yield family.to_metric()

    def page(self) -> list[PageFamily]:
        """The families as the worker's page writes them (`exposition.TextWriter`)."""
        partitions = self._state.exported_partitions()
        if partitions is None:
            return []  # rebalancing or recovering: no partial numbers
        return build_families(self._state, partitions)


def cumulative_buckets(counts: Mapping[int, float], bounds: tuple[float, ...]) -> list[Bucket]:
    """Prometheus `le` buckets (cumulative, +Inf last) from per-bucket counts."""
    texts = _bound_texts(bounds)
    per_bucket = [counts.get(index, 0.0) for index in range(len(texts))]
    return list(zip(texts, itertools.accumulate(per_bucket), strict=True))


@functools.lru_cache(maxsize=256)
def _bound_texts(bounds: tuple[float, ...]) -> tuple[str, ...]:
    return (*(repr(float(bound)) for bound in bounds), "+Inf")


def exported_labels(family: f.Family) -> tuple[str, ...]:
    """A family's labels as exported: business counters and histograms add `partition`."""
    if family.kind in ("counter", "histogram") and family in f.BUSINESS_FAMILIES:
        return (*family.labels, "partition")
    return family.labels


def _empty(family: f.Family) -> PageFamily:
    return PageFamily(family.name, family.documentation, family.kind, exported_labels(family))


def build_families(state: BusinessState, partitions: set[int]) -> list[PageFamily]:
    """Metric families summed over the given partitions."""
    families: dict[str, PageFamily] = {
        family.name: _empty(family)
        for family in (*f.BUSINESS_FAMILIES, *f.WINDOW_FAMILIES.values())
    }
    _add_totals(families, state, partitions)
    for (brand, channel, age), count in sorted(state.open_ages(partitions).items()):
        families[f.OPEN_CONVERSATIONS_BY_AGE.name].add((brand, channel, age), count)
    by_priority = families[f.OPEN_CONVERSATIONS_BY_PRIORITY.name]
    for labels, count in sorted(state.open_by_priority(partitions).items()):
        by_priority.add(labels, count)
    _add_windows(families, state, partitions)
    forecast = families[FORECAST_FIRST_RESPONSE_BREACHES.name]
    for labels, expected in sorted(state.breach_forecast(partitions).items()):
        forecast.add(labels, round(expected, 6))
    # Configuration, not data: exported once in the cluster, by the owner of partition 0,
    # so that a sum over workers is the configured figure.
    if 0 in partitions and state.team_staffing:
        staffing = _empty(f.TEAM_STAFFING_COST_PER_HOUR)
        for team, plan in sorted(state.team_staffing.items()):
            staffing.add((team,), plan.hourly_cost * plan.agents)
        families[f.TEAM_STAFFING_COST_PER_HOUR.name] = staffing
    return list(families.values())


def _add_totals(
    families: dict[str, PageFamily], state: BusinessState, partitions: set[int]
) -> None:
    gauges: dict[tuple[str, tuple[str, ...]], float] = defaultdict(float)
    # Rows in (partition, brand, channel) order; a row's series in its fields' order.
    for partition, brand, channel, values in sorted(
        state.owned_totals(partitions), key=lambda row: row[:3]
    ):
        partition_label = str(partition)
        # A histogram's parts by (family, label values after brand and channel).
        counts: dict[tuple[str, tuple[str, ...]], dict[int, float]] = {}
        sums: dict[tuple[str, tuple[str, ...]], float] = {}
        for field, value in values.items():
            family, extra, part, bucket = parse_stored(field)
            if part == "bucket":
                counts.setdefault((family, extra), {})[bucket] = value
            elif part == "sum":
                sums[(family, extra)] = value
            elif part == "":
                into = families[family]
                if into.kind == "gauge":  # summed over the partitions
                    place = (family, (brand, channel, *extra))
                    gauges[place] = round(gauges[place] + value, 6)  # same in any order
                else:
                    into.add((brand, channel, *extra, partition_label), value)
            # `count` is the +Inf bucket
        for (family, extra), series in counts.items():
            families[family].add_histogram(
                (brand, channel, *extra, partition_label),
                cumulative_buckets(series, f.HISTOGRAM_BOUNDS[family]),
                sums.get((family, extra), 0.0),
            )
    for (name, labels), value in sorted(gauges.items()):
        families[name].add(labels, value)


def _add_windows(
    families: dict[str, PageFamily], state: BusinessState, partitions: set[int]
) -> None:
    """Windows end at each partition's own "now", then add up over partitions."""
    # (brand, channel, window) -> series field -> sum of the buckets it covers.
    totals: dict[tuple[str, str, str], dict[str, float]] = defaultdict(dict)
    now = {partition: state.window_now(partition) for partition in partitions}
    # Buckets of every brand and channel share their starts: the windows of each once.
    covering: dict[tuple[int, float, float], list[str]] = {}
    for partition, brand, channel, size, start, values in state.owned_buckets(partitions):
        windows = covering.get((partition, size, start))
        if windows is None:
            windows = covering[(partition, size, start)] = covering_windows(
                start, size, now[partition]
            )
        for window in windows:
            into = totals[(brand, channel, window)]
            for field, value in values.items():
                into[field] = into.get(field, 0.0) + value
    # Every window of a known series is exported, zero when empty, so that alerts on
    # "no breaches in the last 5m" see a 0 instead of an absent series.
    series = {
        (brand, channel, field) for (brand, channel, _), into in totals.items() for field in into
    }
    for brand, channel, field in sorted(series):
        family, extra, _, _ = parse_stored(field)
        window_family = families[f.WINDOW_FAMILIES[family].name]
        for window in WINDOWS:
            value = totals.get((brand, channel, window), {}).get(field, 0.0)
            window_family.add((brand, channel, *extra, window), value)
