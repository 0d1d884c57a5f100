"""10,000 distinct customers and agents: the exported series stay within the documented bound."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from processor.metrics import families as f
from tests.integration.conftest import Deployment, WorkerProcess, processed_all, value, wait_until
from tests.integration.test_scenario import event

pytestmark = pytest.mark.integration

# docs/metrics.md, "Label cardinality": at most 125 + 9 S + P (194 + 37 T + 28 S + A) business
# series per (brand, channel): 125 + 9 S gauges, and counter and histogram series per
# partition (P of them), T team label values, S review sites, A labelled agents. Here P = 4,
# T = 3 (team0..team2), S = 9 (every site), A = 0.
TEAMS = 3
PARTITIONS = 4
SITES = 9
BUSINESS_SERIES_PER_PAIR = 125 + 9 * SITES + PARTITIONS * (194 + 37 * TEAMS + 28 * SITES)
HEALTH_SERIES_BOUND = 160  # docs/metrics.md, Label cardinality
BUSINESS_NAMES = tuple(
    family.name for family in (*f.BUSINESS_FAMILIES, *f.WINDOW_FAMILIES.values())
)
TO_CHANNELS = ("dm", "email", "chat", "voice", "other")
REVIEW_SITES = ("google", "yelp", "trustpilot", "tripadvisor", "facebook", "app_store",
                "google_play", "brand_site", "other")  # fmt: skip


def test_ten_thousand_customers_and_agents(
    deployment_factory: Callable[..., Deployment], workers: Callable[..., WorkerProcess]
) -> None:
    # Six hours of history on four topics: consumption may run one topic hours ahead of
    # another in event time; this test is about labels, so lateness is no issue here.
    deployment = deployment_factory(partitions=PARTITIONS, SOCIALCARE_CLOCK="event",
                                    SOCIALCARE_ALLOWED_LATENESS_SECONDS="86400")  # fmt: skip
    worker = workers(deployment)
    worker.wait_ready()
    start = time.time() - 6 * 3600
    brands, channels = ("CardA", "CardB"), ("twitter", "instagram")
    priorities = ("low", "normal", "high", "urgent")
    kinds = ("complaint", "feedback", "recommendation", "question", "praise", "other")
    events: list[dict[str, Any]] = []
    for n in range(10_000):
        cid = f"card-{n}"
        brand, channel = brands[n % 2], channels[(n // 2) % 2]
        at = start + n * 2.0
        events.append(event("mention", f"{cid}-m", cid, brand, channel, at, author_id=f"cust-{n}",
                              priority=priorities[n % 4], inquiry_type=kinds[n % 6],
                              sentiment=((n % 7) - 3) / 3,
                              **({"rating": n % 5 + 1, "review_source": REVIEW_SITES[n % 9]}
                                 if n % 3 == 1 else {})))  # fmt: skip
        events.append(event("reply", f"{cid}-r", cid, brand, channel, at + 30 + n % 900,
                            agent_id=f"agent-{n}", team=f"team{n % 3}",
                            resolves=n % 3 == 0))  # fmt: skip
        if n % 5 == 0:
            events.append(event("redirection", f"{cid}-x", cid, brand, channel, at + 40,
                                to_channel=TO_CHANNELS[(n // 5) % 5],
                                agent_id=f"agent-{n}"))  # fmt: skip
        if n % 4 == 0:
            events.append(event("survey", f"{cid}-s", cid, brand, channel, at + 1000,
                                kind="csat" if n % 8 == 0 else "nps",
                                score=(n % 5) + 1 if n % 8 == 0 else n % 11))  # fmt: skip
    deployment.produce(events)
    wait_until(
        lambda: processed_all(worker.scrape(), len(events)),
        180, "all events processed", worker.log_tail,
    )  # fmt: skip
    text = worker.raw()
    series = [line for line in text.splitlines() if line and not line.startswith("#")]
    business = [line for line in series
                if re.split(r"[{ ]", line)[0].removesuffix("_total").removesuffix("_bucket")
                .removesuffix("_count").removesuffix("_sum") in BUSINESS_NAMES]  # fmt: skip
    health = [line for line in series if line not in business]
    assert value(worker.scrape(), "socialcare_deadletters_total") == 0
    assert value(worker.scrape(), "socialcare_conversations_opened_total") == 10_000
    assert len(business) <= BUSINESS_SERIES_PER_PAIR * len(brands) * len(channels), len(business)
    assert len(health) <= HEALTH_SERIES_BOUND, len(health)
    # No customer, agent or conversation id ever becomes a label value.
    for needle in ('"cust-', '"agent-', '"card-'):
        assert needle not in text
    # Teams are labels, bounded by the teams that exist (or SOCIALCARE_TEAMS).
    assert set(re.findall(r'team="([^"]+)"', text)) == {f"team{n}" for n in range(TEAMS)}
