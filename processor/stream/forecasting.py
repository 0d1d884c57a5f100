"""The breach forecast of the owned partitions, read at scrape time.

Gathers each queue's inputs from the partition's backlog (deadlines of the conversations
awaiting a first response) and queue history (openings, first responses, targets), and
hands them to `processor.predict.breach_forecast`. A scrape costs, per queue, a bisection
and a pass over the conversations due within the horizon, plus the hourly counts of the
past week: nothing that grows with the number of conversations held.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping

from processor.predict.breach_forecast import (
    DAY,
    HORIZONS,
    MIN_REFERENCE,
    PAST_DAYS,
    REPLY_RATE_SECONDS,
    StaffedPool,
    arrival_rate,
    pro_rated,
    queue_forecast,
    reply_pace,
)
from processor.predict.breach_queue import WAIT_BOUNDS, WaitSurvival
from processor.settings import TeamStaffing
from processor.stream.backlog import OpenBacklog
from processor.stream.queue_history import (
    ANSWER_BUCKET_SECONDS,
    ARRIVAL_BUCKET_SECONDS,
    QueueHistory,
)

ForecastKey = tuple[str, str, str, str]  # brand, channel, priority, horizon


def staffed_pool(staffing: Mapping[str, TeamStaffing]) -> StaffedPool | None:
    """The agents of the teams with a handle time, as one pool; None without any."""
    agents = capacity = 0.0
    for team in staffing.values():
        if team.handle_minutes is not None and team.agents > 0:
            agents += team.agents
            capacity += team.agents / (team.handle_minutes * 60.0)
    return StaffedPool(agents, capacity / agents) if agents > 0 else None


def breach_forecast(
    partitions: Iterable[int],
    backlog_of: Callable[[int], OpenBacklog],
    history_of: Callable[[int], QueueHistory],
    now_of: Callable[[int], float],
    pool: StaffedPool | None,
    partition_count: int,
) -> dict[ForecastKey, float]:
    """Expected breaches by (brand, channel, priority, horizon), summed over `partitions`.

    Every (brand, channel, priority) with openings in a partition's history gets a value,
    0 included, so a board or an alert sees a forecast of none, not a missing series.
    """
    inputs = [
        _PartitionInputs(backlog_of(number), history_of(number), now_of(number))
        for number in sorted(partitions)
    ]
    inputs = [one for one in inputs if math.isfinite(one.now)]  # no event yet (replay)
    out: dict[ForecastKey, float] = {}
    for label, horizon in HORIZONS.items():
        rates = [one.arrival_rates(horizon) for one in inputs]
        wait_beyond = None
        if pool is not None and inputs:
            owned_rate = sum(sum(by_queue.values()) for by_queue in rates)
            wait_beyond = pool.wait_beyond(owned_rate * partition_count / len(inputs))
        for one, rates_of in zip(inputs, rates, strict=True):
            for (brand, channel), priorities in one.queues().items():
                expected = queue_forecast(
                    {p: one.due((brand, channel, p), horizon) for p in priorities},
                    one.now, horizon, one.survival_of(brand, channel),
                    one.pace(brand, channel),
                    {p: rates_of.get((brand, channel, p), 0.0) for p in priorities},
                    {p: one.targets[(brand, channel, p)] for p in priorities
                     if (brand, channel, p) in one.targets},
                    wait_beyond,
                )  # fmt: skip
                for priority in priorities:
                    key = (brand, channel, priority, label)
                    out[key] = out.get(key, 0.0) + expected.get(priority, 0.0)
    return out


class _PartitionInputs:
    """One partition's side of the forecast, read once per scrape."""

    def __init__(self, backlog: OpenBacklog, history: QueueHistory, now: float) -> None:
        self.history = history
        self.now = now
        self.awaiting = backlog.awaiting_first_response()
        self.targets = {queue: target for queue, (_, target) in history.targets.items()}
        starts = [min(counts) for counts in history.arrivals.values() if counts]
        self.covered_since = min(starts) if starts else now
        self._survivals: dict[tuple[str, str, str], WaitSurvival | None] = {}
        self._pooled: dict[tuple[str, float], WaitSurvival] = {}
        # The same for every horizon: made at the first.
        self._queues: dict[tuple[str, str], set[str]] | None = None
        self._paces: dict[tuple[str, str], float] = {}

    def queues(self) -> dict[tuple[str, str], set[str]]:
        """(brand, channel) -> the priorities it has openings or waiting conversations of."""
        if self._queues is None:
            self._queues = {}
            for brand, channel, priority in (*self.history.arrivals, *self.awaiting):
                self._queues.setdefault((brand, channel), set()).add(priority)
        return self._queues

    def due(self, queue: tuple[str, str, str], horizon: float) -> list[tuple[float, float]]:
        """The queue's waiting conversations with a deadline in (now, now + horizon]."""
        waiting = self.awaiting.get(queue)
        if not waiting:
            return []
        first = waiting.bisect_right((self.now, math.inf))
        last = waiting.bisect_right((self.now + horizon, math.inf))
        return list(waiting[first:last])

    def survival_of(self, brand: str, channel: str) -> Callable[[str], WaitSurvival | None]:
        """The queue's survival by priority."""
        return lambda priority: self.survival((brand, channel, priority))

    def survival(self, queue: tuple[str, str, str]) -> WaitSurvival | None:
        """The priority's first-response waits on the queue over the past week: the days
        before yesterday (whole waits), else with yesterday's, else over the partition's
        queues; None with no conversation to learn from."""
        if queue in self._survivals:
            return self._survivals[queue]
        today = math.floor(self.now / DAY) * DAY
        since = today - PAST_DAYS * DAY
        found: WaitSurvival | None = None
        for until in (today - DAY, today):
            own = WaitSurvival(self.history.wait_counts(queue, since, until))
            if own.total >= MIN_REFERENCE:
                found = own
                break
            shared = self._pooled_survival(queue[2], since, until)
            if shared.total >= MIN_REFERENCE:
                found = shared
                break
        self._survivals[queue] = found
        return found

    def _pooled_survival(self, priority: str, since: float, until: float) -> WaitSurvival:
        """The priority's waits over every queue of the partition."""
        pooled = self._pooled.get((priority, until))
        if pooled is None:
            counts = [0] * (len(WAIT_BOUNDS) + 1)
            for queue in self.history.waits:
                if queue[2] == priority:
                    more = self.history.wait_counts(queue, since, until)
                    counts = [a + b for a, b in zip(counts, more, strict=True)]
            pooled = self._pooled[(priority, until)] = WaitSurvival(counts)
        return pooled

    def pace(self, brand: str, channel: str) -> float:
        """θ: first responses in the last whole minutes against the same minutes of the
        past days covered."""
        pace = self._paces.get((brand, channel))
        if pace is None:
            pace = self._paces[(brand, channel)] = self._pace(brand, channel)
        return pace

    def _pace(self, brand: str, channel: str) -> float:
        minute = math.floor(self.now / ANSWER_BUCKET_SECONDS) * ANSWER_BUCKET_SECONDS
        since = minute - REPLY_RATE_SECONDS
        answered = self.history.answered(brand, channel, since, minute)
        hourly: Mapping[float, int] = self.history.hourly_answers.get((brand, channel), {})
        usual = [
            pro_rated(hourly, since - day * DAY, minute - day * DAY, ARRIVAL_BUCKET_SECONDS)
            for day in range(1, PAST_DAYS + 1)
            if since - day * DAY >= self.covered_since
        ]
        return reply_pace(answered, sum(usual) / len(usual) if usual else None)

    def arrival_rates(self, horizon: float) -> dict[tuple[str, str, str], float]:
        """Per (brand, channel, priority), the openings per second expected in the horizon."""
        return {
            queue: arrival_rate(counts, self.now, horizon, self.covered_since,
                                ARRIVAL_BUCKET_SECONDS)
            for queue, counts in self.history.arrivals.items()
        }  # fmt: skip
