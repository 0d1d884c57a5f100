"""The accounting of issue 16's measurement with the two workers taking turns: each one's
events and running seconds from its first processed events seen to its last, the turns
of the other and its start-up left out."""

from __future__ import annotations

import math

import pytest

from benchmarks.turns import TakingTurns, Turns


def test_each_worker_is_timed_over_its_own_turns_only() -> None:
    turns = Turns(1_000)
    turns.resumed(0, 0.0)
    turns.polled(0, 0.1, 0.0, 1.0)  # starting: not counted yet
    turns.polled(0, 0.5, 200.0, 1.2)  # first sight: counted from here
    turns.polled(0, 0.9, 400.0, 1.25)
    turns.stopped(0, 1.0)  # ran 0.5 s since first sight
    turns.resumed(1, 1.0)
    turns.polled(1, 1.3, 100.0, 2.0)
    turns.stopped(1, 2.0)  # ran 0.7 s
    turns.resumed(0, 2.0)
    turns.polled(0, 2.5, 1_000.0, 1.4)  # through: 0.5 s more, not to the turn's end
    turns.stopped(0, 2.6)
    assert turns.courses[0].finished and not turns.done
    turns.resumed(1, 2.6)
    turns.polled(1, 3.0, 600.0, 2.1)
    turns.stopped(1, 3.6)  # 1.0 s more: 1.7
    turns.resumed(1, 3.6)
    turns.polled(1, 3.9, 1_000.0, 2.2)  # 0.3 s more: 2.0
    assert turns.done
    found = turns.result()
    assert found.events == (800.0, 900.0)
    assert found.seconds == pytest.approx((1.0, 2.0))
    assert found.turns == 5
    assert math.isclose(found.rate(0), 800.0) and math.isclose(found.rate(1), 450.0)
    assert math.isclose(found.ratio, 800 / 450)
    # µs of CPU an event: 0.2 s over 800 events, 0.2 s over 900.
    assert math.isclose(found.cpu_per_event[0], 250.0)
    assert math.isclose(found.cpu_per_event[1], 0.2 / 900 * 1e6)
    assert math.isclose(found.cpu_ratio, (0.2 / 900) / (0.2 / 800))


def test_polls_after_the_end_and_turns_before_the_first_events_count_nothing() -> None:
    turns = Turns(100)
    turns.resumed(0, 0.0)
    turns.stopped(0, 1.0)  # joining its group: no events seen
    turns.resumed(0, 1.0)
    turns.polled(0, 1.2, 50.0, 3.0)
    turns.polled(0, 1.4, 100.0, 3.1)
    turns.polled(0, 1.5, 100.0, 3.5)  # idle after the backlog: not its CPU per event
    turns.stopped(0, 2.0)
    course = turns.courses[0]
    assert course.running == pytest.approx(0.2) and course.events == 50.0
    assert math.isclose(course.cpu_per_event, 0.1 / 50 * 1e6)


def test_a_worker_without_events_gives_no_ratio() -> None:
    assert math.isnan(TakingTurns((10.0, 0.0), (1.0, 0.0), (5.0, math.nan), 2).ratio)
    assert math.isnan(TakingTurns((0.0, 10.0), (0.0, 1.0), (math.nan, 5.0), 2).cpu_ratio)
