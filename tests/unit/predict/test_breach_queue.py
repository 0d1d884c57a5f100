"""The breach forecast's queueing arithmetic: hand-computed cases, and simulations of the
same queues (ciw, a discrete-event simulation library) as the independent reference."""

from __future__ import annotations

import math

import ciw
import numpy as np
import pytest

from processor.predict.breach_queue import (
    WAIT_BOUNDS,
    WaitSurvival,
    arrival_breaches,
    erlang_b,
    erlang_c,
    wait_bucket,
    wait_exceeds,
    waiting_breaches,
)


def test_erlang_b_and_c_on_hand_computed_cases() -> None:
    # One server: B = A / (1 + A); C = ρ (an M/M/1 arrival waits while the server is busy).
    assert erlang_b(1, 0.5) == pytest.approx(1 / 3)
    assert erlang_c(1, 0.5) == pytest.approx(0.5)
    # Two servers, one erlang: B = (A²/2) / (1 + A + A²/2) = 0.2; C = 2B / (2 - A(1 - B)) = 1/3.
    assert erlang_b(2, 1.0) == pytest.approx(0.2)
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    # Five agents, four erlangs: Σ 4^k/k! (k ≤ 5) = 643/15 and 4^5/5! = 128/15, so
    # B = 128/643; C = 5 B / (5 - 4 (1 - B)) = (640/643) / (1155/643) = 128/231.
    assert erlang_b(5, 4.0) == pytest.approx(128 / 643)
    assert erlang_c(5, 4.0) == pytest.approx(128 / 231)
    # Overloaded or unstaffed: everyone waits; no load: nobody does.
    assert erlang_c(5, 5.0) == 1.0
    assert erlang_c(5, 7.5) == 1.0
    assert erlang_c(0, 0.3) == 1.0
    assert erlang_c(3, 0.0) == 0.0
    # A large team stays finite and in [0, 1] (the recursion never overflows).
    assert 0.0 < erlang_c(2000, 1950.0) < 1.0


def test_wait_beyond_a_target_on_hand_computed_cases() -> None:
    # M/M/1, λ = 0.5/min, μ = 1/min: P(wait > 2 min) = ρ e^{-(μ - λ) 2} = 0.5 e^{-1}.
    assert wait_exceeds(1, 0.5, 1.0, 2.0) == pytest.approx(0.5 * math.exp(-1.0))
    # Two agents, A = 1: P(wait > t) = (1/3) e^{-(2μ - λ) t}.
    assert wait_exceeds(2, 1.0, 1.0, 0.5) == pytest.approx(math.exp(-0.5) / 3)
    # A part-time agent: between the whole numbers around it.
    assert wait_exceeds(1.5, 0.5, 1.0, 2.0) == pytest.approx(
        0.5 * wait_exceeds(1, 0.5, 1.0, 2.0) + 0.5 * wait_exceeds(2, 0.5, 1.0, 2.0)
    )
    assert wait_exceeds(3, 3.0, 1.0, 60.0) == 1.0  # no spare capacity
    assert wait_exceeds(0, 1.0, 1.0, 1.0) == 1.0
    assert wait_exceeds(4, 1.0, 0.0, 1.0) == 1.0  # nobody answers
    assert wait_exceeds(4, 0.0, 1.0, 1.0) == 0.0  # nobody comes


@pytest.mark.parametrize(("agents", "arrival_rate", "target"), [(1, 0.7, 1.0), (4, 3.2, 0.5)])
def test_erlang_c_agrees_with_a_simulated_team(
    agents: int, arrival_rate: float, target: float
) -> None:
    """ciw simulates the M/M/c queue; the share of arrivals waiting past the target matches."""
    ciw.seed(7)
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=arrival_rate)],
        service_distributions=[ciw.dists.Exponential(rate=1.0)],
        number_of_servers=[agents],
    )
    simulation = ciw.Simulation(network)
    simulation.simulate_until_max_time(60_000)
    waits = np.array(
        [r.waiting_time for r in simulation.get_all_records() if r.arrival_date > 1_000]
    )
    assert len(waits) > 30_000
    simulated = float(np.mean(waits > target))
    assert wait_exceeds(agents, arrival_rate, 1.0, target) == pytest.approx(simulated, abs=0.015)
    assert erlang_c(agents, arrival_rate) == pytest.approx(float(np.mean(waits > 0)), abs=0.015)


def reference() -> WaitSurvival:
    """100 conversations: 40 answered after 10-15 minutes, 30 after 45-60, 30 never."""
    counts = [0] * (len(WAIT_BOUNDS) + 1)
    counts[wait_bucket(12 * 60.0)] = 40
    counts[wait_bucket(50 * 60.0)] = 30
    counts[wait_bucket(None)] = 30
    return WaitSurvival(counts)


def test_waits_fall_in_their_buckets() -> None:
    assert wait_bucket(0.0) == 0 and wait_bucket(60.0) == 0  # up to a minute
    assert wait_bucket(60.5) == 1
    assert wait_bucket(12 * 60.0) == WAIT_BOUNDS.index(15 * 60.0)
    assert wait_bucket(2 * 86400.0) == wait_bucket(None) == len(WAIT_BOUNDS)


def test_the_share_still_waiting_after_a_wait() -> None:
    survival = reference()
    assert survival.total == 100
    assert survival.beyond(0.0) == 1.0
    assert survival.beyond(5 * 60.0) == 1.0  # nobody answered before 10 minutes
    # Half way through the 10-15 minute bucket: half of its 40 answered.
    assert survival.beyond(12.5 * 60) == pytest.approx(0.8)
    assert survival.beyond(15 * 60.0) == pytest.approx(0.6)
    assert survival.beyond(50 * 60.0) == pytest.approx(0.5)  # a third of the 45-60 bucket
    assert survival.beyond(60 * 60.0) == pytest.approx(0.3)
    assert survival.beyond(3 * 86400.0) == pytest.approx(0.3)  # the never answered


def test_a_waiting_conversation_breaches_as_those_that_waited_as_long() -> None:
    survival = reference()
    # Waited 15 minutes, breaches at 60: S(60) / S(15) = 0.3 / 0.6.
    assert survival.breach_after(15 * 60.0, 60 * 60.0) == pytest.approx(0.5)
    # Just opened, breaches at 50 minutes: S(50) = 0.5.
    assert survival.breach_after(0.0, 50 * 60.0) == pytest.approx(0.5)
    # The team answering twice its usual pace: waits end twice as fast, 0.5 ** 2.
    assert survival.breach_after(15 * 60.0, 60 * 60.0, pace=2.0) == pytest.approx(0.25)
    # Waited longer than anyone answered: S(T) / S(a) = 0.3 / 0.3, it breaches.
    assert survival.breach_after(2 * 3600.0, 3 * 3600.0) == pytest.approx(1.0)
    # No reference conversation waited that long at all (all were answered): left aside.
    counts = [0] * (len(WAIT_BOUNDS) + 1)
    counts[0] = 10
    assert WaitSurvival(counts).breach_after(600.0, 3600.0) == 1.0


def test_expected_breaches_add_up_the_waiting_conversations() -> None:
    survival = reference()
    now = 10_000.0
    due = [
        (now + 45 * 60, now - 15 * 60),  # waited 15 min, target 60: 0.5
        (now + 50 * 60, now),  # just opened, target 50: 0.5
        (now + 600, now - 3 * 3600),  # waited 3 h, longer than anyone was answered after: 1
    ]
    assert waiting_breaches(due, now, survival) == pytest.approx(2.0)
    assert waiting_breaches(due, now, survival, pace=2.0) == pytest.approx(1.5)
    assert waiting_breaches([], now, survival) == 0.0


def test_arrivals_breach_only_when_their_deadline_falls_in_the_horizon() -> None:
    # 12 an hour, 15-minute target, 1 h horizon: arrivals of the first 45 minutes can breach.
    assert arrival_breaches(12 / 3600, 900.0, 3600.0, 0.25) == pytest.approx(9 * 0.25)
    assert arrival_breaches(12 / 3600, 3600.0, 3600.0, 1.0) == 0.0
    assert arrival_breaches(12 / 3600, 7200.0, 900.0, 1.0) == 0.0
