"""Retention through the real broker (Kafka, exactly-once), Redis and workers: a customer's
conversations on several partitions meet on the customer's partition; exact /metrics values,
across a restart of the workers that owned them.

Days from T (25 days ago), brand RetainCo, no resolution by inactivity:
  u1: a1 twitter opened 0, resolved +600 s; a2 facebook opened 2 d, resolved +300 s;
      a3 twitter opened 12 d (10 d after a2's resolution, 12 d after a1's)
  u2: b1 twitter opened 1 d, answered, never resolved; b2 twitter opened 5 d
  u3: c1 instagram opened 3 d, resolved +60 s
  u1 also writes to OtherCo (o1 twitter, 4 d): a new customer there.
conversations: twitter a1 a3 b1 b2 = 4, facebook a2 = 1, instagram c1 = 1;
returning: twitter a3 b2 = 2, facebook a2 = 1; resolutions: one per channel;
repeat resolutions: a1 (twitter) within 7d and 30d (a2 two days later), a2 (facebook)
within 30d only (a3); repeat contacts: a2 (facebook) 7d and 30d, a3 (twitter) 30d only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from processor.stream.customers import partition_for
from tests.integration.conftest import Deployment, WorkerProcess, value, wait_until
from tests.integration.test_scenario import event, reply

pytestmark = pytest.mark.integration

DAY = 86400.0
B = "RetainCo"


def opened(eid: str, conv: str, brand: str, channel: str, at: float, author: str) -> dict[str, Any]:
    return event("mention", eid, conv, brand, channel, at, author_id=author)


EXPECTED: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {
    ("socialcare_customer_conversations_total", (("channel", "twitter"),)): 4,
    ("socialcare_customer_conversations_total", (("channel", "facebook"),)): 1,
    ("socialcare_customer_conversations_total", (("channel", "instagram"),)): 1,
    ("socialcare_returning_customer_conversations_total", (("channel", "twitter"),)): 2,
    ("socialcare_returning_customer_conversations_total", (("channel", "facebook"),)): 1,
    ("socialcare_returning_customer_conversations_total", (("channel", "instagram"),)): 0,
    ("socialcare_customer_resolutions_total", (("channel", "twitter"),)): 1,
    ("socialcare_customer_resolutions_total", (("channel", "facebook"),)): 1,
    ("socialcare_customer_resolutions_total", (("channel", "instagram"),)): 1,
    ("socialcare_repeat_contact_resolutions_total", (("channel", "twitter"), ("within", "7d"))): 1,
    ("socialcare_repeat_contact_resolutions_total", (("channel", "twitter"), ("within", "30d"))): 1,
    ("socialcare_repeat_contact_resolutions_total", (("channel", "facebook"), ("within", "7d"))): 0,
    (
        "socialcare_repeat_contact_resolutions_total",
        (("channel", "facebook"), ("within", "30d")),
    ): 1,
    ("socialcare_repeat_contacts_total", (("channel", "facebook"), ("within", "7d"))): 1,
    ("socialcare_repeat_contacts_total", (("channel", "facebook"), ("within", "30d"))): 1,
    ("socialcare_repeat_contacts_total", (("channel", "twitter"), ("within", "7d"))): 0,
    ("socialcare_repeat_contacts_total", (("channel", "twitter"), ("within", "30d"))): 1,
}


def test_repeat_contacts_and_returning_customers_across_partitions(
    deployment_factory: Callable[..., Deployment], workers: Callable[..., WorkerProcess]
) -> None:
    deployment = deployment_factory(
        partitions=4, SOCIALCARE_CLOCK="event", SOCIALCARE_INACTIVITY_RESOLUTION_SECONDS="0"
    )
    T = time.time() - 25 * DAY
    events = sorted(
        [
            opened("a1-m", "a1", B, "twitter", T, "u1"),
            reply("a1-r", "a1", B, "twitter", T + 600, resolves=True),
            opened("a2-m", "a2", B, "facebook", T + 2 * DAY, "u1"),
            reply("a2-r", "a2", B, "facebook", T + 2 * DAY + 300, resolves=True),
            opened("a3-m", "a3", B, "twitter", T + 12 * DAY, "u1"),
            opened("b1-m", "b1", B, "twitter", T + 1 * DAY, "u2"),
            reply("b1-r", "b1", B, "twitter", T + 1 * DAY + 100),
            opened("b2-m", "b2", B, "twitter", T + 5 * DAY, "u2"),
            opened("c1-m", "c1", B, "instagram", T + 3 * DAY, "u3"),
            reply("c1-r", "c1", B, "instagram", T + 3 * DAY + 60, resolves=True),
            opened("o1-m", "o1", "OtherCo", "twitter", T + 4 * DAY, "u1"),
        ],
        key=lambda document: str(document["occurred_at"]),
    )
    first, second = workers(deployment, "first"), workers(deployment, "second")
    first.wait_ready()
    second.wait_ready()
    deployment.produce(events)

    def scraped() -> dict[Any, float]:
        pages = [first.scrape(), second.scrape()]
        return {
            (name, labels): sum(value(page, name, brand=B, **dict(labels)) for page in pages)
            for name, labels in EXPECTED
        }

    wait_until(lambda: scraped() == EXPECTED, 60, "the retention counts",
               lambda: f"{scraped()}\n{first.log_tail()}\n{second.log_tail()}")  # fmt: skip
    # The customers of the brand are counted on their partitions (the `partition` label),
    # whatever partitions their conversations fell in.
    page = {**first.scrape(), **second.scrape()}
    partitions = {
        dict(labels)["partition"]
        for (name, labels), amount in page.items()
        if name == "socialcare_customer_conversations_total" and amount and ("brand", B) in labels
    }
    assert partitions == {str(partition_for(f"{B}|{u}".encode(), 4)) for u in ("u1", "u2", "u3")}
    other = sum(
        value(p, "socialcare_customer_conversations_total", brand="OtherCo")
        for p in (first.scrape(), second.scrape())
    )
    returning_other = sum(
        value(p, "socialcare_returning_customer_conversations_total", brand="OtherCo")
        for p in (first.scrape(), second.scrape())
    )
    assert (other, returning_other) == (1, 0)

    # Restarted, the workers take their customers back from the changelog and count on.
    first.stop()
    second.stop()
    third = workers(deployment, "third")
    third.wait_ready()
    deployment.produce([opened("a4-m", "a4", B, "twitter", T + 12 * DAY + 60, "u1")])
    expected = dict(EXPECTED)
    for name in ("socialcare_customer_conversations_total",
                 "socialcare_returning_customer_conversations_total"):  # fmt: skip
        expected[(name, (("channel", "twitter"),))] += 1
    # a4 opens 12 d after a1's resolution, 10 d after a2's: a 30-day repeat contact.
    expected[("socialcare_repeat_contacts_total", (("channel", "twitter"), ("within", "30d")))] += 1

    def restarted() -> dict[Any, float]:
        page = third.scrape()
        return {(n, labels): value(page, n, brand=B, **dict(labels)) for n, labels in expected}

    wait_until(lambda: restarted() == expected, 60, "the counts after the restart",
               lambda: f"{restarted()}\n{third.log_tail()}")  # fmt: skip
