"""The breach forecast through the broker: waiting conversations forecast to breach as the
past week's waits say, one answered leaves the forecast, and a worker started afresh (no
local state) forecasts the same from the conversations it restored.

Brand FcstCo, event clock, one partition (its "now" is the latest event time). The past
week: 100 conversations opened three to six days ago, 40 answered after 12 minutes, 30
after 50, 30 never (the built-in policy: a first response within the hour). Now: three
conversations waiting for 45, 15 and 0 minutes. The expected breaches are computed here
from the waits themselves: a conversation that waited `a` and breaches after 60 minutes
does so with P = (share that waited longer than 60 min) / (share that waited longer than a).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import pytest

from tests.integration.conftest import (
    Deployment,
    Samples,
    WorkerProcess,
    processed_all,
    value,
    wait_until,
)
from tests.integration.test_scenario import mention, reply

pytestmark = pytest.mark.integration

B = "FcstCo"
HOUR, DAY = 3600.0, 86400.0
TARGET = HOUR  # the built-in policy


def beyond(waits: list[float | None], seconds: float) -> float:
    """The share of the past waits longer than `seconds` (never answered: longer)."""
    return sum(1 for wait in waits if wait is None or wait > seconds) / len(waits)


def forecast(samples: Samples, horizon: str) -> float:
    return value(samples, "socialcare_forecast_first_response_breaches", brand=B,
                 channel="twitter", priority="normal", horizon=horizon)  # fmt: skip


def test_the_forecast_follows_the_past_weeks_waits_and_survives_a_new_worker(
    deployment_factory: Callable[..., Deployment],
    workers: Callable[..., WorkerProcess],
) -> None:
    deployment = deployment_factory(partitions=1, SOCIALCARE_CLOCK="event")
    first = workers(deployment, name="first")
    first.wait_ready()
    now = math.floor((time.time() - DAY) / 60) * 60  # on a minute, in the wall clock's past
    waits: list[float | None] = [720.0] * 40 + [3000.0] * 30 + [None] * 30
    events = []
    for n, wait in enumerate(waits):
        # 02:00-ish three to six days ago: another time of day than now (no usual pace).
        opened = now - (3 + n % 4) * DAY - 10 * HOUR + 60 * n
        events.append(mention(f"past-{n}-m", f"past-{n}", B, "twitter", opened))
        if wait is not None:
            events.append(reply(f"past-{n}-r", f"past-{n}", B, "twitter", opened + wait))
    waited = {"w45": 2700.0, "w15": 900.0, "w0": 0.0}
    for name, age in waited.items():
        events.append(mention(f"{name}-m", name, B, "twitter", now - age))
    events.sort(key=lambda item: item["occurred_at"])
    deployment.produce(events)
    wait_until(lambda: processed_all(first.scrape(), len(events)), 120,
               "the history counted", first.log_tail)  # fmt: skip

    def expected(names: list[str], horizon: float) -> float:
        return sum(
            beyond(waits, TARGET) / beyond(waits, waited[name])
            for name in names
            if TARGET - waited[name] <= horizon
        )

    m = first.scrape()
    # 45 min waited: 0.3 / 0.6; 15 min: 0.3 / 0.6; just opened: 0.3. Due within 15
    # minutes: the first only.
    assert forecast(m, "15m") == pytest.approx(expected(["w45"], 900.0)) == pytest.approx(0.5)
    assert forecast(m, "60m") == pytest.approx(expected(list(waited), HOUR))
    assert forecast(m, "60m") == pytest.approx(1.3)

    # The longest waiting one is answered: it leaves the forecast.
    deployment.produce([reply("w45-r", "w45", B, "twitter", now)])
    wait_until(lambda: processed_all(first.scrape(), len(events) + 1), 60,
               "the reply counted", first.log_tail)  # fmt: skip
    m = first.scrape()
    assert forecast(m, "15m") == 0.0
    assert forecast(m, "60m") == pytest.approx(expected(["w15", "w0"], HOUR))
    first.kill()

    # Another worker, nothing local: the forecast comes back with the conversations.
    second = workers(deployment, name="second")
    second.wait_ready()
    m = second.scrape()
    assert forecast(m, "15m") == 0.0
    assert forecast(m, "60m") == pytest.approx(0.8)
