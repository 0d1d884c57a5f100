"""3,000 made-up brands through a real worker: series bounded, every mention counted."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import redis

from tests.integration.conftest import Deployment, WorkerProcess, value, wait_until
from tests.integration.test_cardinality import BUSINESS_NAMES, HEALTH_SERIES_BOUND
from tests.integration.test_scenario import mention

pytestmark = pytest.mark.integration

BRANDS = 3_000
BOUND = 20
PARTITIONS = 2
# docs/metrics.md, "Label cardinality": at most 119 + P (183 + 37 T + A) business series per
# (brand, channel); here one channel, no team, no agent.
SERIES_PER_BRAND = 119 + PARTITIONS * 183


def test_three_thousand_brands_stay_within_the_bound_and_all_count(
    deployment_factory: Callable[..., Deployment], workers: Callable[..., WorkerProcess]
) -> None:
    """Before: 2,000 brands took a worker from 194 to 110,194 series. Now the first 20 keep
    their labels (registered in Redis), the 2,980 others count under brand="other"."""
    deployment = deployment_factory(partitions=PARTITIONS, SOCIALCARE_CLOCK="event",
                                    SOCIALCARE_MAX_BRANDS=str(BOUND))  # fmt: skip
    worker = workers(deployment)
    worker.wait_ready()
    start = time.time() - 3600
    deployment.produce(
        mention(f"lb-{n}", f"lb-c{n}", f"Brand{n:04d}", "twitter", start + n * 0.5)
        for n in range(BRANDS)
    )
    wait_until(lambda: value(worker.scrape(), "socialcare_events_processed_total",
                             outcome="counted") >= BRANDS, 120, "3,000 mentions counted",
               worker.log_tail)  # fmt: skip
    samples = worker.scrape()
    by_brand: dict[str, float] = {}  # over the partitions
    for (name, labels), amount in samples.items():
        if name == "socialcare_mentions_total":
            brand = dict(labels)["brand"]
            by_brand[brand] = by_brand.get(brand, 0.0) + amount
    assert sum(by_brand.values()) == BRANDS  # every mention counted
    assert by_brand["other"] == BRANDS - BOUND
    own = set(by_brand) - {"other"}
    assert len(own) == BOUND and all(by_brand[brand] == 1.0 for brand in own)
    # Every worker labels alike: the admitted brands are the Redis set's.
    client = redis.Redis.from_url(deployment.redis_url)
    registered = {
        member.decode() for member in client.smembers(f"{deployment.app_id}:labels:brand")
    }
    client.close()
    assert registered == own
    assert value(samples, "socialcare_label_overflow_total", label="brand") == BRANDS - BOUND
    assert value(samples, "socialcare_label_overflow_total", label="channel") == 0
    business = [labels for (name, labels) in samples if name.startswith(BUSINESS_NAMES)]
    brands_exported = {dict(labels).get("brand") for labels in business} - {None}
    assert brands_exported == own | {"other"}
    assert len(business) <= (BOUND + 1) * SERIES_PER_BRAND
    assert len(samples) - len(business) <= HEALTH_SERIES_BOUND
