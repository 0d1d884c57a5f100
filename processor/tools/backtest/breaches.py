"""The breach-forecast backtest: a history replayed hour by hour, each hour's forecast set
against the breaches that followed and against a naive forecast.

At each hour boundary of event time the forecast for the next 60 minutes is read as the
worker exports it (`socialcare_forecast_first_response_breaches{horizon="60m"}`, per brand,
channel and priority); what happened is the increase of
`socialcare_first_response_sla_total{outcome="breached"}` over that hour, read from the
counters as Prometheus would (the allowed lateness is 0, so a breach is counted as soon as
its deadline passes); the naive forecast is that counter's increase over the hour before.
The history is the month generator (bursts, slow and unanswered conversations) or the
Twitter customer-support sample, read in event-time order through one partition.
"""

from __future__ import annotations

import asyncio
import bisect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from processor.ingest.producer import event_time
from processor.metrics.families import FIRST_RESPONSE_SLA
from processor.predict.breach_forecast import HORIZONS
from processor.settings import Settings, TeamStaffing
from processor.stream.forecasting import breach_forecast, staffed_pool
from processor.tools.backtest.offline import messages_of, offline_pipeline, run_batches, totals

HOUR = 3600.0
Series = tuple[str, str, str]  # brand, channel, priority


@dataclass(frozen=True)
class HourFigures:
    """One hour: breaches forecast at its start, the naive forecast, what happened."""

    start: float
    forecast: float
    naive: float
    actual: float


@dataclass(frozen=True)
class Errors:
    """Over every (hour, series): mean absolute error and mean signed error (bias)."""

    mean_absolute_error: float
    bias: float


@dataclass(frozen=True)
class BreachBacktest:
    events: int
    hours: list[HourFigures]  # totals over the series, each hour with anything to score
    forecast: Errors  # per (hour, brand, channel, priority)
    naive: Errors
    forecast_hourly: Errors  # per hour, the totals
    naive_hourly: Errors
    series: int


def errors(pairs: list[tuple[float, float]]) -> Errors:
    """(predicted, actual) pairs -> MAE and bias."""
    if not pairs:
        return Errors(float("nan"), float("nan"))
    count = len(pairs)
    return Errors(
        sum(abs(predicted - actual) for predicted, actual in pairs) / count,
        sum(predicted - actual for predicted, actual in pairs) / count,
    )


def run_breach_backtest(
    documents: list[dict[str, Any]],
    staffing: Mapping[str, TeamStaffing] | None = None,
    warm_up_hours: int = 24,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> BreachBacktest:
    """Replay `documents` hour by hour; forecast against outcome after the warm-up."""
    settings = Settings.model_validate(
        {
            "clock": "event",
            "partitions": 1,
            "allowed_lateness_seconds": 0,
            "max_future_seconds": 0,
            "team_staffing": dict(staffing or {}),
        }
    )
    documents = sorted(documents, key=event_time)
    times = [event_time(document) for document in documents]
    messages = messages_of(documents, settings)
    pipeline = offline_pipeline(settings)
    pool = staffed_pool(settings.team_staffing)
    store = pipeline.conversations
    done = 0

    def advanced(count: int) -> None:
        nonlocal done
        done += count
        progress(done, len(messages))

    def breached() -> dict[Series, float]:
        return {
            (key.labels[0], key.labels[1], key.labels[2]): amount
            for key, amount in totals(pipeline).items()
            if key.family == FIRST_RESPONSE_SLA.name and key.labels[3] == "breached"
        }

    first_hour = math.floor(times[0] / HOUR) * HOUR
    hours = math.ceil((times[-1] - first_hour) / HOUR)
    counts: list[dict[Series, float]] = []  # breaches counted by each hour boundary
    forecasts: list[dict[Series, float]] = []  # the 60-minute forecast at each boundary
    for hour in range(hours + 1):
        boundary = first_hour + hour * HOUR
        first = bisect.bisect_left(times, boundary - HOUR) if hour else 0
        last = bisect.bisect_left(times, boundary)
        if (
            first == last
            and hour
            and not any(forecasts[-1].values())
            and not any(store.backlog(0).awaiting_first_response().values())
        ):
            # A silent hour with nothing waiting (the sample's quiet years): as before.
            counts.append(counts[-1])
            forecasts.append(forecasts[-1])
            continue
        asyncio.run(run_batches(pipeline, messages[first:last], progress=advanced))
        counts.append(breached())
        forecast = breach_forecast({0}, store.backlog, store.history, _at(boundary), pool, 1)
        forecasts.append({(b, c, p): value for (b, c, p, horizon), value in forecast.items()
                          if horizon == "60m"})  # fmt: skip
    assert HORIZONS["60m"] == HOUR
    per_series: dict[str, list[tuple[float, float]]] = {"forecast": [], "naive": []}
    per_hour: dict[str, list[tuple[float, float]]] = {"forecast": [], "naive": []}
    figures: list[HourFigures] = []
    names: set[Series] = set()
    for hour in range(max(1, warm_up_hours), hours):
        increase = _increase(counts[hour + 1], counts[hour])
        before = _increase(counts[hour], counts[hour - 1])
        forecast_now = {name: value for name, value in forecasts[hour].items() if value}
        series = increase.keys() | before.keys() | forecast_now.keys()
        if not series:
            continue  # nothing forecast, nothing before, nothing happened: tests nothing
        names |= series
        for name in series:
            actual = increase.get(name, 0.0)
            per_series["forecast"].append((forecast_now.get(name, 0.0), actual))
            per_series["naive"].append((before.get(name, 0.0), actual))
        total = (sum(forecast_now.values()), sum(before.values()), sum(increase.values()))
        per_hour["forecast"].append((total[0], total[2]))
        per_hour["naive"].append((total[1], total[2]))
        figures.append(HourFigures(first_hour + hour * HOUR, *total))
    return BreachBacktest(
        events=len(messages),
        hours=figures,
        forecast=errors(per_series["forecast"]),
        naive=errors(per_series["naive"]),
        forecast_hourly=errors(per_hour["forecast"]),
        naive_hourly=errors(per_hour["naive"]),
        series=len(names),
    )


def _at(moment: float) -> Callable[[int], float]:
    """Every partition's "now": the hour boundary."""
    return lambda partition: moment


def _increase(
    later: Mapping[Series, float], earlier: Mapping[Series, float]
) -> dict[Series, float]:
    return {name: later[name] - earlier.get(name, 0.0) for name in later
            if later[name] - earlier.get(name, 0.0)}  # fmt: skip
