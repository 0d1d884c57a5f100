"""What a report says, read from Prometheus: KPIs of the period and the baseline, and the
series its charts draw. Everything is the sum over the brand's (or every brand's) channels.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from processor.tools.report.kpis import KPIS, Change, Kpi, change, expressions, meets
from processor.tools.report.prometheus import PrometheusApi, Sample, Series

DAY = 86400.0
Labelled = TypeVar("Labelled", Sample, Series)


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    def label(self) -> str:
        last = self.end - timedelta(seconds=1)
        return f"{self.start:%Y-%m-%d} to {last:%Y-%m-%d}"


@dataclass
class KpiRow:
    kpi: Kpi
    value: float
    baseline: float
    target: float | None
    change: Change | None
    meets_target: bool | None


@dataclass
class ReportData:
    brand: str | None
    period: Period
    baseline: Period | None
    generated_at: datetime
    kpis: list[KpiRow] = field(default_factory=list)
    volume_by_channel: dict[str, float] = field(default_factory=dict)
    daily_volume: dict[str, list[tuple[datetime, float]]] = field(default_factory=dict)
    daily_compliance: list[tuple[int, float]] = field(default_factory=list)
    baseline_daily_compliance: list[tuple[int, float]] = field(default_factory=list)
    first_response_buckets: list[tuple[str, float]] = field(default_factory=list)
    resolution_buckets: list[tuple[str, float]] = field(default_factory=list)
    breaches_by_hour: list[tuple[int, float]] = field(default_factory=list)
    slowest_teams: list[tuple[str, float]] = field(default_factory=list)


@dataclass(frozen=True)
class Targets:
    """The SLO objective (prometheus/slo.yaml) and the SLA policy's targets in seconds."""

    objective: float | None = None
    first_response: float | None = None
    resolution: float | None = None

    def of(self, kpi: Kpi) -> float | None:
        return None if kpi.target is None else getattr(self, kpi.target)


class ReportReader:
    """Reads one report's numbers; `brand` None: all brands together."""

    def __init__(self, api: PrometheusApi, brand: str | None, job: str) -> None:
        self.api = api
        self.brand = brand
        self.job = job
        self.by = "brand" if brand else "job"

    def _selector(self, *matchers: str) -> str:
        wanted = [f'job="{self.job}"', *matchers]
        if self.brand:
            wanted.append(f'brand="{self.brand}"')
        return "{" + ",".join(wanted) + "}"

    def _mine(self, results: list[Labelled]) -> list[Labelled]:
        """The samples or series of the report's brand (all of them without one)."""
        if self.brand is None:
            return results
        return [result for result in results if result.labels.get("brand") == self.brand]

    def _one(self, expr: str, at: datetime) -> float:
        samples = self._mine(self.api.instant(expr, at))
        return samples[0].value if samples else math.nan

    def kpi_values(self, period: Period) -> dict[str, float]:
        """Every KPI over the period: its recording rule's expression, range = the period."""
        exprs = expressions(period.seconds, self.job, self.by)
        return {kpi.key: self._one(exprs[kpi.key], period.end) for kpi in KPIS}

    def read(self, period: Period, baseline: Period | None, targets: Targets) -> ReportData:
        data = ReportData(self.brand, period, baseline, datetime.now(UTC))
        values = self.kpi_values(period)
        before = self.kpi_values(baseline) if baseline else {}
        for kpi in KPIS:
            value = values[kpi.key]
            base = before.get(kpi.key, math.nan)
            target = targets.of(kpi)
            data.kpis.append(KpiRow(kpi, value, base, target, change(value, base, kpi.better),
                                    meets(value, target, kpi.better)))  # fmt: skip
        window = f"{int(period.seconds)}s"
        mentions = f"socialcare_mentions_total{self._selector()}"
        by_channel = f"sum by (channel) (increase({mentions}[{window}]))"
        data.volume_by_channel = {
            sample.labels.get("channel", "?"): sample.value
            for sample in self.api.instant(by_channel, period.end)
        }
        data.daily_volume = self._daily(f"sum by (channel) (increase({mentions}[1d]))", period)
        compliance = expressions(DAY, self.job, self.by)[
            "socialcare_first_response_sla_compliance:ratio"
        ]
        data.daily_compliance = self._by_day(compliance, period)
        if baseline is not None:
            data.baseline_daily_compliance = self._by_day(compliance, baseline)
        data.first_response_buckets = self._buckets("first_response_seconds", period)
        data.resolution_buckets = self._buckets("resolution_seconds", period)
        data.breaches_by_hour = self._breaches_by_hour(period)
        team_p90 = expressions(period.seconds, self.job, self.by)[
            "socialcare_team_first_response_seconds:p90"
        ]
        teams = [(s.labels.get("team", "?"), s.value)
                 for s in self._mine(self.api.instant(team_p90, period.end))
                 if not math.isnan(s.value)]  # fmt: skip
        data.slowest_teams = sorted(teams, key=lambda item: -item[1])[:5]
        return data

    def _daily(self, expr: str, period: Period) -> dict[str, list[tuple[datetime, float]]]:
        """Per day of the period (each point the day that ends at it), by `channel`."""
        first = period.start + timedelta(days=1)
        out: dict[str, list[tuple[datetime, float]]] = {}
        for series in self.api.series(expr, first, period.end, DAY):
            out[series.labels.get("channel", "?")] = [
                (datetime.fromtimestamp(at, UTC) - timedelta(days=1), value)
                for at, value in series.points
            ]
        return out

    def _by_day(self, expr: str, period: Period) -> list[tuple[int, float]]:
        """The expression over each day of the period: (day number from 1, value)."""
        first = period.start + timedelta(days=1)
        series = self._mine(self.api.series(expr, first, period.end, DAY))
        if not series:
            return []
        return [(round((at - period.start.timestamp()) / DAY), value)
                for at, value in series[0].points]  # fmt: skip

    def _buckets(self, histogram: str, period: Period) -> list[tuple[str, float]]:
        """Observations of the period per bucket (from the cumulative `le` counts)."""
        selector = self._selector()
        expr = (f"sum by (le) (increase(socialcare_{histogram}_bucket{selector}"
                f"[{int(period.seconds)}s]))")  # fmt: skip
        cumulative = sorted(
            ((float(s.labels["le"]), s.value) for s in self.api.instant(expr, period.end)),
            key=lambda item: item[0],
        )
        out, below = [], 0.0
        for bound, total in cumulative:
            label = "more" if math.isinf(bound) else f"≤ {_short(bound)}"
            out.append((label, max(0.0, total - below)))
            below = total
        return out

    def _breaches_by_hour(self, period: Period) -> list[tuple[int, float]]:
        """First-response breaches by hour of the day (UTC) over the period."""
        selector = self._selector('outcome="breached"')
        expr = f"sum (increase(socialcare_first_response_sla_total{selector}[1h]))"
        hours: dict[int, float] = defaultdict(float)
        first = period.start + timedelta(hours=1)
        for series in self.api.series(expr, first, period.end, 3600):
            for at, value in series.points:
                if not math.isnan(value):
                    hours[datetime.fromtimestamp(at - 3600, UTC).hour] += value
        return [(hour, hours.get(hour, 0.0)) for hour in range(24)]


def _short(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:g} min"
    if seconds < 86400:
        return f"{seconds / 3600:g} h"
    return f"{seconds / 86400:g} d"
