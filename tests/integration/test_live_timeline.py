"""Wall clock: next-response breach by silence with at-risk on the way, resolution by
inactivity, all driven by the clock alone (no further events)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.integration.conftest import Deployment, WorkerProcess, value, wait_until
from tests.integration.test_scenario import mention, reply

pytestmark = pytest.mark.integration


def test_clock_driven_states(
    deployment_factory: Callable[..., Deployment], workers: Callable[..., WorkerProcess]
) -> None:
    deployment = deployment_factory(
        partitions=2,
        SOCIALCARE_CLOCK="wall",
        SOCIALCARE_INACTIVITY_RESOLUTION_SECONDS="4",
        SOCIALCARE_AT_RISK_MARGIN_SECONDS="2",
    )
    worker = workers(deployment)
    worker.wait_ready()
    brand = "ClockCo"
    result = deployment.cli("sla", "set", "--brand", brand, "--first-response", "60",
                            "--next-response", "4", "--resolution", "600")  # fmt: skip
    assert result.returncode == 0, result.stderr
    wait_until(
        lambda: value(worker.scrape(), "socialcare_sla_policy_version") >= 1,
        10, "policy loaded", worker.log_tail,
    )  # fmt: skip
    now = time.time()
    deployment.produce([
        # w1: answered at once, then the customer writes again: waits for a next response
        # (target 4 s): at risk from +2 s (margin 2 s), breached at +4 s.
        mention("w1-m1", "w1", brand, "twitter", now),
        reply("w1-r1", "w1", brand, "twitter", now + 0.1),
        mention("w1-m2", "w1", brand, "twitter", now + 0.2),
        # w2: answered, the customer stays silent: resolved by inactivity 4 s after the reply.
        mention("w2-m1", "w2", brand, "twitter", now),
        reply("w2-r1", "w2", brand, "twitter", now + 0.1),
    ])  # fmt: skip
    opened = "socialcare_open_conversations"
    wait_until(
        lambda: value(worker.scrape(), opened, brand=brand, state="awaiting_next_response") == 1,
        10, "w1 awaiting next response", worker.log_tail,
    )  # fmt: skip
    wait_until(
        lambda: value(worker.scrape(), opened, brand=brand, state="at_risk") == 1,
        10, "w1 at risk", worker.log_tail,
    )  # fmt: skip
    at_risk_seen = time.time()
    wait_until(
        lambda: value(worker.scrape(), "socialcare_next_response_sla_total", brand=brand,
                      outcome="breached") == 1,
        15, "w1 next-response breach by silence", worker.log_tail,
    )  # fmt: skip
    breached_seen = time.time()
    assert at_risk_seen - now >= 2.2 and breached_seen - now >= 4.2
    wait_until(
        lambda: value(worker.scrape(), "socialcare_resolutions_total", brand=brand,
                      how="inactivity") == 1,
        15, "w2 resolved by inactivity", worker.log_tail,
    )  # fmt: skip
    m = worker.scrape()
    assert value(m, opened, brand=brand, state="breached") == 1  # w1
    assert value(m, opened, brand=brand, state="awaiting_customer") == 0  # w2 resolved
    assert value(m, "socialcare_resolution_sla_total", brand=brand, outcome="met") == 1  # w2
    # w2 resolved at its reply (0 s after opening): le=300 bucket of the resolution histogram.
    assert value(m, "socialcare_resolution_seconds_bucket", brand=brand, le="300.0") == 1
    assert value(m, "socialcare_first_contact_resolutions_total", brand=brand) == 1  # w2

    # The customer writes again after w2's resolution: a reopen, w2 is open again.
    deployment.produce([mention("w2-m2", "w2", brand, "twitter", time.time())])
    wait_until(
        lambda: value(worker.scrape(), "socialcare_reopens_total", brand=brand) == 1,
        10, "w2 reopened", worker.log_tail,
    )  # fmt: skip
    m = worker.scrape()
    assert value(m, "socialcare_first_contact_resolutions_total", brand=brand) == 0
    assert value(m, opened, brand=brand, state="awaiting_next_response") + value(
        m, opened, brand=brand, state="at_risk") == 1  # fmt: skip
