"""Business-hours SLA through the real broker: a weekend and a daylight-saving change."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.integration.conftest import Deployment, WorkerProcess, value, wait_until
from tests.integration.test_scenario import mention, reply

pytestmark = pytest.mark.integration

SLA_FILE = """
default:
  first_response: 3600
  resolution: 86400
  calendar: paris
calendars:
  paris:
    timezone: Europe/Paris
    hours: {mon: ["09:00-18:00"], tue: ["09:00-18:00"], wed: ["09:00-18:00"],
            thu: ["09:00-18:00"], fri: ["09:00-18:00"]}
"""


def utc(*parts: int) -> float:
    return datetime(*parts, tzinfo=UTC).timestamp()


def test_first_response_sla_in_business_hours(
    deployment_factory: Callable[..., Deployment],
    workers: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    sla = tmp_path / "sla.yaml"
    sla.write_text(SLA_FILE)
    deployment = deployment_factory(
        partitions=1, SOCIALCARE_CLOCK="event", SOCIALCARE_SLA_CONFIG=str(sla),
        SOCIALCARE_ALLOWED_LATENESS_SECONDS=str(90 * 86400),
    )  # fmt: skip
    worker = workers(deployment)
    worker.wait_ready()
    B = "OfficeHours"
    deployment.produce([
        # DST: opened Fri 23 Oct 18:30 Paris (16:30Z, after hours); the clock starts Monday
        # 26 Oct 09:00 Paris, now UTC+1 = 08:00Z; deadline 09:00Z. Reply 08:55Z: met,
        # although 64 h 25 min of calendar time passed.
        mention("d1", "d1", B, "twitter", utc(2026, 10, 23, 16, 30)),
        reply("d1-r", "d1", B, "twitter", utc(2026, 10, 26, 8, 55)),
        # Weekend: opened Fri 20 Nov 17:30 Paris (16:30Z): 30 min on Friday, 30 min on
        # Monday from 09:00 Paris: deadline Mon 23 Nov 08:30Z.
        mention("w1", "w1", B, "twitter", utc(2026, 11, 20, 16, 30)),
        mention("w2", "w2", B, "twitter", utc(2026, 11, 20, 16, 30)),
        reply("w1-r", "w1", B, "twitter", utc(2026, 11, 23, 8, 20)),  # met
        reply("w2-r", "w2", B, "twitter", utc(2026, 11, 23, 8, 45)),  # breached at 08:30Z
    ])  # fmt: skip
    wait_until(
        lambda: value(worker.scrape(), "socialcare_first_response_seconds_count", brand=B) == 3,
        30, "three first responses", worker.log_tail,
    )  # fmt: skip
    m = worker.scrape()
    sla_total = "socialcare_first_response_sla_total"
    assert value(m, sla_total, brand=B, outcome="met") == 2
    assert value(m, sla_total, brand=B, outcome="breached") == 1
    # The response time itself is calendar time: 64h25m, 63h50m, 64h15m.
    expected = (64 * 3600 + 25 * 60) + (63 * 3600 + 50 * 60) + (64 * 3600 + 15 * 60)
    assert value(m, "socialcare_first_response_seconds_sum", brand=B) == expected
