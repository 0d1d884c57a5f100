"""A queue's breach forecast from its counts: hand-computed cases."""

from __future__ import annotations

import pytest

from processor.predict.breach_forecast import (
    DAY,
    StaffedPool,
    arrival_rate,
    pro_rated,
    queue_forecast,
    reply_pace,
)
from processor.predict.breach_queue import wait_exceeds
from tests.unit.predict.test_breach_queue import reference

HOUR = 3600.0
NOW = 100 * DAY + 10.5 * HOUR  # 10:30 on day 100


def test_hourly_counts_are_spread_over_their_hour() -> None:
    counts = {0.0: 6, HOUR: 12}
    assert pro_rated(counts, 0.0, HOUR, HOUR) == 6
    assert pro_rated(counts, 0.5 * HOUR, 1.5 * HOUR, HOUR) == pytest.approx(3 + 6)
    assert pro_rated(counts, 1.75 * HOUR, 3 * HOUR, HOUR) == pytest.approx(3)
    assert pro_rated(counts, 5 * HOUR, 6 * HOUR, HOUR) == 0


def test_arrivals_ahead_are_the_mean_of_the_same_span_on_past_days() -> None:
    # 10:30-11:30 on the three past days the history covers: 10 + 20 (half of each hour of
    # 10:00 and 11:00 on day 99), 4 + 0 on day 98, 30 + 30 on day 97 (whole hours of 60).
    counts = {
        99 * DAY + 10 * HOUR: 20, 99 * DAY + 11 * HOUR: 40,
        98 * DAY + 10 * HOUR: 8,
        97 * DAY + 10 * HOUR: 60, 97 * DAY + 11 * HOUR: 60,
        100 * DAY + 9 * HOUR: 500,  # today, before now: not the same span of a past day
    }  # fmt: skip
    since = 97 * DAY + 10 * HOUR
    expected = (30 + 4 + 60) / 3 / HOUR
    assert arrival_rate(counts, NOW, HOUR, since, HOUR) == pytest.approx(expected)
    # 15 minutes ahead: 10:30-10:45 is a quarter of the 10:00 hour on each day.
    quarter = (20 / 4 + 8 / 4 + 60 / 4) / 3 / 900.0
    assert arrival_rate(counts, NOW, 900.0, since, HOUR) == pytest.approx(quarter)
    # Only two days covered: the mean of those two.
    two = (30 + 4) / 2 / HOUR
    assert arrival_rate(counts, NOW, HOUR, 98 * DAY + 10 * HOUR, HOUR) == pytest.approx(two)
    # No past day covered yet: the last hour's rate (9:30-10:30 today: half of the 500).
    assert arrival_rate(counts, NOW, HOUR, 100 * DAY, HOUR) == pytest.approx(250 / HOUR)


def test_the_pace_is_the_reply_rate_now_against_the_usual_one_bounded() -> None:
    assert reply_pace(10, 5.0) == 2.0
    assert reply_pace(100, 5.0) == 4.0
    assert reply_pace(0, 5.0) == 0.25
    assert reply_pace(3, None) == 1.0  # nothing usual yet
    assert reply_pace(30, 2.0) == 1.0  # two replies are no usual pace


def test_a_queue_forecast_adds_the_waiting_and_the_arrivals() -> None:
    now = NOW
    survival = reference()
    # One "high" conversation due in 45 minutes that waited 15 (0.3 / 0.6 = 0.5).
    due = {"high": [(now + 2700.0, now - 900.0)], "normal": []}
    pool = StaffedPool(agents=2, service_rate=1 / 240)  # 2 agents, 4 minutes each
    arrivals = {"high": 6 / HOUR, "normal": 30 / HOUR}
    targets = {"high": 900.0, "normal": 3600.0}
    wait = pool.wait_beyond(36 / HOUR)
    got = queue_forecast(due, now, HOUR, lambda p: survival, 1.0, arrivals, targets, wait)
    # Arrivals "high": 6 an hour over the first 45 minutes, each waiting past 15 minutes
    # with P = wait_exceeds(2, ...); "normal": its target is the whole hour.
    beyond = wait_exceeds(2, 36 / HOUR, 1 / 240, 900.0)
    assert got == {"high": pytest.approx(0.5 + 6 * 0.75 * beyond)}
    # Without a staffed pool the arrivals wait as the past week's did: S(15 min) = 0.6.
    got = queue_forecast(due, now, HOUR, lambda p: survival, 1.0, arrivals, targets, None)
    assert got == {"high": pytest.approx(0.5 + 6 * 0.75 * 0.6)}
    # At twice the usual pace: 0.5 ** 2 and 0.6 ** 2.
    got = queue_forecast(due, now, HOUR, lambda p: survival, 2.0, arrivals, targets, None)
    assert got == {"high": pytest.approx(0.25 + 6 * 0.75 * 0.36)}
