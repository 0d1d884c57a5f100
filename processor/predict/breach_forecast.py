"""The first-response breach forecast of a queue (a brand on a channel), from its counts.

What goes in, all in event time (`processor.stream.queue_history` keeps the counts):
- the conversations awaiting their first response, with their deadlines and how long
  they have waited;
- how long the queue's conversations of each priority waited for their first response
  over the past week (`breach_queue.WaitSurvival`);
- the pace the team answers at now: first responses of the queue in the last 15 whole
  minutes against the usual count for those minutes on the past days (`reply_pace`);
- the arrival rate ahead: conversations opened in the same span of the day on the past 7
  days (the days the history covers; as the volume-spike alert compares a window with the
  same window of past days), with the last span's rate until a day is covered;
- the first-response target of each priority (that of its latest opening);
- the staffed pool, when `SOCIALCARE_TEAM_STAFFING` gives the teams' agents and handle
  times: arrivals then wait as in an Erlang C queue (`breach_queue`); without it, as the
  past week's did.

A queue's conversations spread over the partitions (Kafka partitions by conversation), so
each worker forecasts the share on its partitions, from the history of its partitions; the
forecasts add up across workers. The staffed pool serves every queue of the deployment
(one shared inbox), so its Erlang C load is the whole deployment's: the owned partitions'
arrivals scaled to all partitions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from processor.predict.breach_queue import (
    WaitSurvival,
    arrival_breaches,
    wait_exceeds,
    waiting_breaches,
)

# Horizon label -> seconds ahead.
HORIZONS: Mapping[str, float] = {"15m": 900.0, "60m": 3600.0}
REPLY_RATE_SECONDS = 900.0
PAST_DAYS = 7
DAY = 86400.0
# The pace: bounded, and only against a usual count that says something.
MAX_PACE = 4.0
MIN_USUAL_ANSWERS = 3.0
# Waits of fewer conversations than this are no reference: the priority's waits over the
# partition's queues are taken instead.
MIN_REFERENCE = 30


def pro_rated(counts: Mapping[float, int], start: float, end: float, bucket: float) -> float:
    """Count in [start, end) from counts per bucket (keyed by bucket start), each bucket's
    count spread evenly over it."""
    total = 0.0
    first = math.floor(start / bucket) * bucket
    at = first
    while at < end:
        count = counts.get(at)
        if count:
            overlap = min(end, at + bucket) - max(start, at)
            total += count * overlap / bucket
        at += bucket
    return total


def arrival_rate(
    openings: Mapping[float, int], now: float, span: float, covered_since: float, bucket: float
) -> float:
    """Openings per second expected in [now, now + span).

    The mean over the past days (up to `PAST_DAYS`) whose same span the history covers
    (starts at or after `covered_since`) of the openings in that span; with no such day,
    the rate of the last `span`.
    """
    counts = [
        pro_rated(openings, now - day * DAY, now - day * DAY + span, bucket)
        for day in range(1, PAST_DAYS + 1)
        if now - day * DAY >= covered_since
    ]
    if counts:
        return sum(counts) / len(counts) / span
    return pro_rated(openings, now - span, now, bucket) / span


@dataclass(frozen=True)
class StaffedPool:
    """The agents answering first responses, each at `service_rate` per second."""

    agents: float
    service_rate: float

    def wait_beyond(self, arrival_rate: float) -> Callable[[float], float]:
        """P(an arrival waits past a target), for the pool's whole arrival rate."""
        return lambda target: wait_exceeds(self.agents, arrival_rate, self.service_rate, target)


def reply_pace(answered_now: float, usual: float | None) -> float:
    """θ: first responses now against the usual count for this span of the day, bounded to
    [1/4, 4] (a quiet quarter hour is not a team that stopped); 1 while nothing is usual."""
    if usual is None or usual < MIN_USUAL_ANSWERS:
        return 1.0
    return min(MAX_PACE, max(1.0 / MAX_PACE, answered_now / usual))


def queue_forecast(
    due: Mapping[str, Sequence[tuple[float, float]]],
    now: float,
    horizon: float,
    survival_of: Callable[[str], WaitSurvival | None],
    pace: float,
    arrival_rates: Mapping[str, float],
    targets: Mapping[str, float],
    wait_beyond: Callable[[float], float] | None,
) -> dict[str, float]:
    """Expected first-response breaches of one queue in (now, now + horizon], by priority.

    `due`: per priority, the (deadline, opened_at) of the waiting conversations due in the
    horizon; `survival_of` a priority's waits of the past week (None: nothing to learn from
    yet, no forecast for it: 0 rather than a guess that pages); `pace` θ (`reply_pace`);
    `arrival_rates` and `targets` by priority; `wait_beyond` the staffed pool's
    P(wait > target), None to use the past week's waits for the arrivals too.
    """
    expected: dict[str, float] = {}
    for priority, waiting in due.items():
        survival = survival_of(priority)
        if survival is not None and waiting:
            expected[priority] = waiting_breaches(waiting, now, survival, pace)
    for priority, rate in arrival_rates.items():
        target = targets.get(priority)
        if target is None or target >= horizon or rate <= 0:
            continue
        if wait_beyond is not None:
            beyond = wait_beyond(target)
        else:
            survival = survival_of(priority)
            if survival is None:
                continue
            beyond = survival.breach_after(0.0, target, pace)
        arriving = arrival_breaches(rate, target, horizon, beyond)
        expected[priority] = expected.get(priority, 0.0) + arriving
    return expected
