"""`socialcare backtest breaches` on a short history: the outcomes it scores are the
breaches the documented rules give (counted here from the events alone), and the forecast
beats the naive one."""

from __future__ import annotations

import bisect
from collections import defaultdict
from typing import Any

from processor.tools.backtest.breaches import HOUR, run_breach_backtest
from processor.tools.backtest.csat import history
from tests.sla_reference import DEFAULT_FIRST_RESPONSE_TARGET, event_time


def breach_deadlines(events: list[dict[str, Any]]) -> list[float]:
    """The deadline of every first-response breach (tests/sla_reference.py's rules 2-5)."""
    threads: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        threads[str(event["conversation_id"])].append(event)
    deadlines = []
    for thread in threads.values():
        mentions = [event_time(e) for e in thread if e["type"] == "mention"]
        if not mentions:
            continue
        opened_at = min(mentions)
        deadline = opened_at + DEFAULT_FIRST_RESPONSE_TARGET
        replies = [e for e in thread if e["type"] == "reply" and event_time(e) >= opened_at]
        answered = [event_time(e) for e in replies if not e.get("automated")]
        stopped = [event_time(e) for e in replies if e.get("resolves")]
        if answered:
            if min(answered) > deadline:
                deadlines.append(deadline)
        elif not (stopped and min(stopped) <= deadline):
            deadlines.append(deadline)
    return sorted(deadlines)


def test_a_short_backtest_scores_the_breaches_that_happened_and_beats_the_naive() -> None:
    events = history(3, 1.0, 11, start=1_767_225_600.0)
    result = run_breach_backtest(events)
    deadlines = breach_deadlines(events)
    times = sorted(event_time(e) for e in events)

    def counted_by(boundary: float) -> int:
        """Breaches counted once the stream reached the last event before `boundary`
        (the allowed lateness is 0: a breach is counted when its deadline has passed)."""
        latest = times[bisect.bisect_left(times, boundary) - 1]
        return bisect.bisect_right(deadlines, latest)

    assert len(result.hours) == 48  # 72 hours, less a day of warm-up
    for hour in result.hours:
        ahead = counted_by(hour.start + HOUR) - counted_by(hour.start)
        before = counted_by(hour.start) - counted_by(hour.start - HOUR)
        assert (hour.actual, hour.naive) == (ahead, before), hour
    assert sum(hour.actual for hour in result.hours) > 300
    # Better than "as many as in the last hour", per hour and per series, and not biased.
    assert (
        result.forecast_hourly.mean_absolute_error < 0.6 * result.naive_hourly.mean_absolute_error
    )
    assert result.forecast.mean_absolute_error < result.naive.mean_absolute_error
    actual = sum(hour.actual for hour in result.hours)
    forecast = sum(hour.forecast for hour in result.hours)
    assert abs(forecast - actual) < 0.1 * actual
