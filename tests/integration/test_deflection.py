"""The optional contacts topic: other-channel contacts counted for deflection."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.integration.conftest import Deployment, WorkerProcess, value, wait_until
from tests.integration.test_scenario import mention, reply, stamp

pytestmark = pytest.mark.integration


def test_other_channel_contacts_and_social_resolutions(
    deployment_factory: Callable[..., Deployment], workers: Callable[..., WorkerProcess]
) -> None:
    deployment = deployment_factory(partitions=2, SOCIALCARE_CLOCK="event")
    contacts = f"{deployment.app_id}.contacts"
    deployment.extra_env["SOCIALCARE_TOPIC_CONTACTS"] = contacts
    worker = workers(deployment)
    worker.wait_ready()
    T = time.time() - 1800
    B = "DeflectCo"

    def count(event_id: str, channel: str, at: float, n: object) -> tuple[str, bytes, bytes]:
        import orjson

        doc = {"event_id": event_id, "type": "contact_count", "occurred_at": stamp(at),
               "brand": B, "channel": channel, "count": n, "interval_seconds": 900}  # fmt: skip
        return (contacts, B.encode(), orjson.dumps(doc))

    deployment.produce([
        mention("d-m", "d", B, "twitter", T),
        reply("d-r", "d", B, "twitter", T + 60, resolves=True),
        count("phone-1", "phone", T, 40),
        count("phone-2", "phone", T + 900, 35),
        count("email-1", "email", T, 12),
        count("phone-1", "phone", T, 40),  # the same count re-sent: counted once
        count("bad-1", "phone", T, -3),  # negative count: dead letter
    ])  # fmt: skip
    wait_until(
        lambda: value(worker.scrape(), "socialcare_events_processed_total") == 7,
        30, "all processed", worker.log_tail,
    )  # fmt: skip
    m = worker.scrape()
    assert value(m, "socialcare_other_channel_contacts_total", brand=B, channel="phone") == 75
    assert value(m, "socialcare_other_channel_contacts_total", brand=B, channel="email") == 12
    assert value(m, "socialcare_window_other_channel_contacts", brand=B, window="1h") == 87
    assert value(m, "socialcare_resolutions_total", brand=B) == 1
    assert value(m, "socialcare_events_processed_total", type="contact_count",
                 outcome="duplicate") == 1  # fmt: skip
    assert value(m, "socialcare_deadletters_total", reason="schema_violation") == 1
