"""The owned partitions' breach forecast: each partition's queues read from its backlog
and history, hand-computed."""

from __future__ import annotations

import pytest

from processor.predict.breach_forecast import DAY, StaffedPool
from processor.predict.breach_queue import wait_exceeds
from processor.settings import TeamStaffing
from processor.stream.backlog import OpenBacklog, OpenConversation
from processor.stream.forecasting import breach_forecast, staffed_pool
from processor.stream.queue_history import QueueFacts, QueueHistory

HOUR = 3600.0
NOW = 50 * DAY + 14 * HOUR + 120.0  # 14:02


def wait(backlog: OpenBacklog, name: str, brand: str, opened: float, target: float) -> None:
    backlog.put(name, OpenConversation(brand, "twitter", opened, "normal",
                                       "awaiting_first_response", opened + target))  # fmt: skip


def past_week(history: QueueHistory) -> None:
    """Acme's reference: 100 conversations opened at 02:00 three to six days ago, 40
    answered after 12 minutes, 30 after 50, 30 never (1 h target)."""
    for n in range(100):
        opened = NOW - (3 + n % 4) * DAY - 12 * HOUR + n
        answered = opened + 720.0 if n < 40 else opened + 3000.0 if n < 70 else None
        history.change(None, QueueFacts("Acme", "twitter", "normal", opened, answered, HOUR))


def forecast(
    backlogs: dict[int, OpenBacklog],
    histories: dict[int, QueueHistory],
    pool: StaffedPool | None = None,
    count: int = 2,
) -> dict[tuple[str, ...], float]:
    return breach_forecast(sorted(backlogs), backlogs.__getitem__, histories.__getitem__,
                           lambda partition: NOW, pool, count)  # fmt: skip


def test_waiting_conversations_breach_as_the_past_weeks_waits_say() -> None:
    backlogs = {0: OpenBacklog(), 1: OpenBacklog()}
    histories = {0: QueueHistory(), 1: QueueHistory()}
    past_week(histories[0])
    # Waited 15 minutes, due in 45: S(60 min) / S(15 min) = 0.3 / 0.6.
    wait(backlogs[0], "a", "Acme", NOW - 900.0, HOUR)
    # Waited 55 minutes, due in 5: S(60) / S(55) = 0.3 / (1 - 0.4 - 0.3 * 10/15) = 0.75.
    wait(backlogs[0], "b", "Acme", NOW - 3300.0, HOUR)
    # Due in 2 hours: in neither horizon.
    wait(backlogs[0], "c", "Acme", NOW - 60.0, 3 * HOUR)
    # Partition 1: a waiting Acme conversation with no reference on its partition, nor for
    # its priority over the partition's queues: no forecast for it yet.
    wait(backlogs[1], "d", "Acme", NOW - 300.0, 900.0)
    # Openings of another brand, nothing waiting, nothing to learn from yet: a forecast of
    # 0, not a missing series.
    histories[1].change(None, QueueFacts("Beta", "twitter", "high", NOW - HOUR, None, 900.0))

    got = forecast(backlogs, histories)
    assert got[("Acme", "twitter", "normal", "15m")] == pytest.approx(0.75)
    assert got[("Acme", "twitter", "normal", "60m")] == pytest.approx(0.5 + 0.75)
    assert got[("Beta", "twitter", "high", "15m")] == 0.0
    assert got[("Beta", "twitter", "high", "60m")] == 0.0
    assert len(got) == 4


def test_a_queue_answering_faster_than_usual_leaves_fewer_to_breach() -> None:
    backlog, history = OpenBacklog(), QueueHistory()
    past_week(history)
    wait(backlog, "a", "Acme", NOW - 900.0, HOUR)
    # On each of the 6 past days covered, 60 first responses in each of the hours 13:00 and
    # 14:00: the usual count for 13:47-14:02 is 13 + 2 = 15 (hours spread evenly). Today
    # in those whole minutes: 30.
    for day in range(1, 7):
        for n in range(120):
            answered = NOW - day * DAY - 62 * 60 + n * 60.0
            history.change(None, QueueFacts("Acme", "twitter", "other", answered - 5,
                                            answered, None))  # fmt: skip
    for n in range(30):
        answered = NOW - 850.0 + 25 * n
        history.change(None, QueueFacts("Acme", "twitter", "other", answered - 5, answered, None))
    got = forecast({0: backlog}, {0: history}, count=1)
    assert got[("Acme", "twitter", "normal", "60m")] == pytest.approx(0.5**2)


def test_arrivals_wait_in_the_staffed_pool_loaded_with_the_whole_deployment() -> None:
    history = QueueHistory()
    # Yesterday 14:00-15:00: 40 "high" openings (15-minute target) of Acme on this
    # partition, the history starting then.
    for n in range(40):
        history.change(None, QueueFacts("Acme", "twitter", "high", NOW - DAY - 120.0 + n * 60,
                                        None, 900.0))  # fmt: skip
    pool = staffed_pool({"tier1": TeamStaffing(hourly_cost=30, agents=3, handle_minutes=5),
                         "night": TeamStaffing(hourly_cost=30, agents=9)})  # fmt: skip
    assert pool == StaffedPool(agents=3, service_rate=1 / 300)
    # One partition owned of 4: the pool's load is four times this partition's arrivals.
    got = forecast({2: OpenBacklog()}, {2: history}, pool, 4)
    # The span 14:02-15:02 of yesterday: the 40 openings of its 14:00 hour pro-rated.
    rate = 40 * 58 / 60 / HOUR
    beyond = wait_exceeds(3, 4 * rate, 1 / 300, 900.0)
    assert beyond > 0.05  # a loaded pool: the forecast is not trivially 0
    assert got[("Acme", "twitter", "high", "60m")] == pytest.approx(rate * 2700.0 * beyond)
    assert got[("Acme", "twitter", "high", "15m")] == 0.0  # no deadline of an arrival in it
