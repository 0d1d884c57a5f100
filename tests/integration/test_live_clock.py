"""Wall-clock mode: breach by silence with no further events, and an SLA change picked up live."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.integration.conftest import Deployment, WorkerProcess, value, wait_until
from tests.integration.test_scenario import mention, reply

pytestmark = pytest.mark.integration


def test_breach_by_silence_and_live_sla_change(
    deployment_factory: Callable[..., Deployment], workers: Callable[..., WorkerProcess]
) -> None:
    deployment = deployment_factory(partitions=2, SOCIALCARE_CLOCK="wall")
    worker = workers(deployment)
    worker.wait_ready()
    brand = "LiveBrand"

    # Default policy (1 h): a conversation opened now is awaiting, not breached.
    now = time.time()
    deployment.produce([mention("live-1", "live-1", brand, "twitter", now)])
    wait_until(
        lambda: value(worker.scrape(), "socialcare_open_conversations",
                      state="awaiting_first_response") == 1,
        20, "first conversation awaiting", worker.log_tail,
    )  # fmt: skip
    before = worker.scrape()
    version_before = value(before, "socialcare_sla_policy_version")

    # Live edit: 2 s first response for this brand on Twitter. No restart.
    result = deployment.cli("sla", "set", "--brand", brand, "--channel", "twitter",
                            "--first-response", "2")  # fmt: skip
    assert result.returncode == 0, result.stderr
    wait_until(
        lambda: value(worker.scrape(), "socialcare_sla_policy_version") > version_before,
        10, "worker to load the new SLA version", worker.log_tail,
    )  # fmt: skip
    listed = deployment.cli("sla", "list")
    assert listed.returncode == 0 and brand in listed.stdout, listed.stdout + listed.stderr

    # Two new conversations under the 2 s target: one answered after 1 s (met), one never
    # answered. Nothing else is sent: the clock ticks alone must breach the second.
    opened = time.time()
    deployment.produce([
        mention("live-2", "live-2", brand, "twitter", opened),
        mention("live-3", "live-3", brand, "twitter", opened, priority="urgent"),
        reply("live-2-r", "live-2", brand, "twitter", opened + 1.0),
    ])  # fmt: skip
    sla = "socialcare_first_response_sla_total"
    wait_until(
        lambda: value(worker.scrape(), sla, brand=brand, outcome="breached") == 1,
        20, "breach by silence of live-3", worker.log_tail,
    )  # fmt: skip
    breached_at = time.time()
    m = worker.scrape()
    # Declared once the wall clock passed the 2 s deadline, within a few sweep intervals.
    assert breached_at - opened >= 2.0
    assert value(m, sla, brand=brand, priority="normal", outcome="met") == 1
    assert value(m, sla, brand=brand, priority="urgent", outcome="breached") == 1
    # live-1 keeps the 1 h target it was opened under: still awaiting.
    assert value(m, "socialcare_open_conversations", brand=brand,
                 state="awaiting_first_response") == 1  # fmt: skip
    assert value(m, "socialcare_open_conversations", brand=brand, state="breached") == 1
    by_priority = "socialcare_open_conversations_by_priority"
    assert value(m, by_priority, brand=brand, priority="urgent", state="breached") == 1
    assert value(m, by_priority, brand=brand, priority="normal", state="breached") == 0
    assert value(m, by_priority, brand=brand, priority="normal",
                 state="awaiting_first_response") == 1  # fmt: skip
    assert value(m, "socialcare_window_first_response_sla", brand=brand, outcome="breached",
                 window="5m") == 1  # fmt: skip
    assert value(m, "socialcare_first_response_seconds_count", brand=brand) == 1
    assert value(m, "socialcare_first_response_seconds_bucket", brand=brand, le="30.0") == 1

    # A late reply to the breached conversation: it stays breached (counted at its deadline),
    # its response time is observed and it leaves the open backlog.
    deployment.produce([reply("live-3-r", "live-3", brand, "twitter", time.time())])
    wait_until(
        lambda: value(worker.scrape(), "socialcare_first_response_seconds_count", brand=brand) == 2,
        20, "late reply processed", worker.log_tail,
    )  # fmt: skip
    m = worker.scrape()
    assert value(m, sla, brand=brand, outcome="breached") == 1
    assert value(m, sla, brand=brand, outcome="met") == 1
    assert value(m, "socialcare_open_conversations", brand=brand, state="breached") == 0
    # answered, not resolved: it waits on the customer now
    urgent = {"brand": brand, "priority": "urgent"}
    assert value(m, "socialcare_open_conversations_by_priority", **urgent, state="breached") == 0
    assert (
        value(m, "socialcare_open_conversations_by_priority", **urgent, state="awaiting_customer")
        == 1
    )
