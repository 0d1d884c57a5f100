"""The queueing arithmetic of the SLA breach forecast: pure functions, no state.

A team's first-response breaches in the next hour come from two places, and each gets the
model that fits it:

- **Conversations waiting now** whose deadline falls inside the horizon. How long this
  queue's conversations wait for a first response, and how many never get one, is known
  from the past week (`WaitSurvival`: the share still unanswered after each wait); a
  conversation that has waited `a` so far and breaches after `T` does so with
  P = S(T) / S(a), the share of those that waited `a` and went on past `T`. The reply rate
  the team shows now, against the rate it showed at the same time on past days, scales
  the rate at which waits end (proportional hazards): S becomes S^θ, θ = now / usual, so a
  team answering at half its usual pace leaves more of its queue to breach.
- **Conversations still to arrive** whose target is shorter than the horizon (an arrival
  after `now + horizon - target` cannot breach inside it). With the staffing known, their
  wait is the steady-state wait of an M/M/c queue: arrivals at the rate of the same span
  of past days, `c` staffed agents each giving first responses at rate `μ`;
  P(wait > T) = C(c, λ/μ) exp(-(cμ - λ) T), C the Erlang C probability of waiting; a team
  short of capacity (λ ≥ cμ) makes every arrival wait past any target in the long run: 1.
  Without it, the past week's S(T)^θ.

Erlang C is a few lines here rather than a dependency: pyworkforce, the maintained
workforce library that has it, pulls OR-Tools and pandas (270 MB) into the worker, takes
whole agents only and returns probabilities above 1 for an overloaded team. The tests
check these functions against hand-computed cases and against a discrete-event
simulation of the same queues (ciw).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence

import numpy as np


def erlang_b(servers: int, offered_load: float) -> float:
    """Erlang B (blocking probability), by the recursion that stays stable for any size."""
    blocking = 1.0
    for server in range(1, servers + 1):
        blocking = offered_load * blocking / (server + offered_load * blocking)
    return blocking


def erlang_c(servers: int, offered_load: float) -> float:
    """P(an arrival waits) in M/M/c with `offered_load` = λ/μ erlangs; 1 when overloaded."""
    if servers <= 0 or offered_load >= servers:
        return 1.0
    if offered_load <= 0:
        return 0.0
    blocking = erlang_b(servers, offered_load)
    return servers * blocking / (servers - offered_load * (1.0 - blocking))


def _wait_exceeds_whole(
    servers: int, arrival_rate: float, service_rate: float, target: float
) -> float:
    if servers <= 0 or arrival_rate >= servers * service_rate:
        return 1.0
    waits = erlang_c(servers, arrival_rate / service_rate)
    return waits * math.exp(-(servers * service_rate - arrival_rate) * target)


def wait_exceeds(agents: float, arrival_rate: float, service_rate: float, target: float) -> float:
    """P(an arrival waits longer than `target`) in M/M/c, steady state.

    `agents` may be fractional (a part-time roster averaged over the hour): the result is
    interpolated between the whole numbers around it. A team with no agents or no service
    rate never answers: 1. No arrivals: 0.
    """
    if arrival_rate <= 0:
        return 0.0
    if agents <= 0 or service_rate <= 0:
        return 1.0
    below = math.floor(agents)
    low = _wait_exceeds_whole(below, arrival_rate, service_rate, target)
    share = agents - below
    if share == 0:
        return low
    high = _wait_exceeds_whole(below + 1, arrival_rate, service_rate, target)
    return (1.0 - share) * low + share * high


# Bounds of the wait buckets (seconds): finer where targets usually lie, up to a day; the
# last bucket holds the longer waits and the conversations never answered.
WAIT_BOUNDS: tuple[float, ...] = tuple(
    60.0 * minutes
    for minutes in (1, 2, 3, 5, 7, 10, 15, 20, 30, 45, 60, 75, 90, 120, 150, 180, 240, 300, 360,
                    480, 600, 720, 960, 1440)
)  # fmt: skip


def wait_bucket(wait: float | None) -> int:
    """The bucket of a first-response wait (None: not answered): index in `WAIT_BOUNDS`,
    len(WAIT_BOUNDS) past the last bound."""
    if wait is None:
        return len(WAIT_BOUNDS)
    return bisect_left(WAIT_BOUNDS, wait)


class WaitSurvival:
    """S(t): the share of a queue's conversations still without a first response after t.

    From counts per wait bucket (`wait_bucket`), spread evenly within each bucket (S is
    piecewise linear between the bounds, flat past the last one).
    """

    def __init__(self, counts: Sequence[float]) -> None:
        self.counts = list(counts)
        self.total = float(sum(counts))
        answered = np.cumsum(self.counts[: len(WAIT_BOUNDS)], dtype=float)
        if self.total:
            answered /= self.total
        self._still = np.concatenate(([1.0], 1.0 - answered))  # S at 0 and at each bound

    def beyond(self, wait: float) -> float:
        """S(wait): the share still waiting after `wait` seconds."""
        return float(np.interp(wait, _GRID, self._still))

    def breach_after(self, waited: float, target: float, pace: float = 1.0) -> float:
        """P(no first response by `target`) for a conversation that waited `waited` so far,
        the ending of waits scaled by `pace` (the reply rate now against the usual one)."""
        return float(self.breaches_after(np.array([waited]), np.array([target]), pace)[0])

    def breaches_after(self, waited: np.ndarray, target: np.ndarray, pace: float) -> np.ndarray:
        """`breach_after` of many conversations at once (the scrape's: one pass in numpy).

        One that waited longer than any conversation of the reference was answered after
        is left aside (S = 0 there): it breaches."""
        alive = np.interp(waited, _GRID, self._still)
        after = np.interp(target, _GRID, self._still)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(alive > 0, np.minimum(1.0, after / alive), 1.0)
        return np.asarray(share**pace, dtype=float)


_GRID = np.array((0.0, *WAIT_BOUNDS))


def waiting_breaches(
    due: Sequence[tuple[float, float]], now: float, survival: WaitSurvival, pace: float = 1.0
) -> float:
    """Expected breaches among conversations of one priority waiting now, given as their
    (first-response deadline, opened_at), with the survival of that priority's waits."""
    if not due:
        return 0.0
    deadlines, opened = zip(*due, strict=True)
    opened_at = np.asarray(opened, dtype=float)
    waited = now - opened_at
    target = np.asarray(deadlines, dtype=float) - opened_at
    return float(survival.breaches_after(waited, target, pace).sum())


def arrival_breaches(
    arrival_rate: float, target: float, horizon: float, wait_beyond_target: float
) -> float:
    """Expected breaches inside the horizon among conversations still to arrive: those that
    arrive early enough for their deadline to fall in it, times P(wait > target)."""
    return arrival_rate * max(0.0, horizon - target) * wait_beyond_target
