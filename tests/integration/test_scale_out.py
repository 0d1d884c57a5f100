"""Two workers share the partitions: their sum equals one worker's numbers, nothing twice."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable

import pytest

from processor.ingest.synthetic import SyntheticTraffic, TrafficProfile
from tests.integration.conftest import (
    Deployment,
    Samples,
    WorkerProcess,
    processed_all,
    value,
    wait_until,
)

pytestmark = pytest.mark.integration

BUSINESS = (
    "socialcare_mentions", "socialcare_conversations_opened", "socialcare_replies",
    "socialcare_first_response", "socialcare_resolutions", "socialcare_redirections",
    "socialcare_surveys", "socialcare_open_conversations", "socialcare_window_",
)  # fmt: skip


def business(samples: Samples) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {key: v for key, v in samples.items() if key[0].startswith(BUSINESS)}


def summed(*scrapes: Samples) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    total: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for scrape in scrapes:
        for key, v in business(scrape).items():
            # Rounded like the worker's own sums: float addition order differs per layout.
            total[key] = round(total.get(key, 0.0) + v, 6)
    return total


def test_two_workers_sum_to_one_worker(
    deployment_factory: Callable[..., Deployment], workers: Callable[..., WorkerProcess]
) -> None:
    start = time.time() - 3 * 3600
    traffic = SyntheticTraffic(
        start=start, seed=7, profile=TrafficProfile(conversations_per_minute=12)
    )
    events = traffic.advance(start + 3600)
    # Independent expectations from the input itself.
    conversations = {e["conversation_id"] for e in events if e["type"] == "mention"}
    mentions = Counter((e["brand"], e["channel"]) for e in events if e["type"] == "mention")
    redirections = Counter(e["to_channel"] for e in events if e["type"] == "redirection")
    human_replies = sum(1 for e in events if e["type"] == "reply" and not e.get("automated"))

    single = deployment_factory(partitions=4, SOCIALCARE_CLOCK="event",
                                SOCIALCARE_ALLOWED_LATENESS_SECONDS="7200")  # fmt: skip
    one = workers(single, name="single")
    one.wait_ready()
    single.produce(events)
    wait_until(
        lambda: processed_all(one.scrape(), len(events)),
        60, "single worker processed everything", one.log_tail,
    )  # fmt: skip
    reference = business(one.scrape())
    assert value(reference, "socialcare_conversations_opened_total") == len(conversations)
    for (brand, channel), count in mentions.items():
        assert value(reference, "socialcare_mentions_total", brand=brand, channel=channel) == count
    for to_channel, count in redirections.items():
        assert value(reference, "socialcare_redirections_total", to_channel=to_channel) == count
    assert value(reference, "socialcare_replies_total", kind="human") == human_replies

    # Same topics, a new group: the first worker takes all partitions and processes
    # everything, then a second joins and partitions move with their state.
    shared = single.sharing_topics()
    first = workers(shared, name="first")
    first.wait_ready()
    wait_until(
        lambda: value(first.scrape(), "socialcare_mentions_total") == sum(mentions.values()),
        60, "first worker caught up", first.log_tail,
    )  # fmt: skip
    second = workers(shared, name="second")
    second.wait_ready()

    def split_and_complete() -> bool:
        a, b = first.scrape(), second.scrape()
        owned = value(a, "socialcare_owned_partitions"), value(b, "socialcare_owned_partitions")
        return min(owned) >= 1 and sum(owned) == 4 and summed(a, b) == reference

    def diagnostics() -> str:
        a, b = first.scrape(), second.scrape()
        diff = {
            k: (reference.get(k), summed(a, b).get(k))
            for k in set(reference) | set(summed(a, b))
            if reference.get(k) != summed(a, b).get(k)
        }
        return (f"owned {value(a, 'socialcare_owned_partitions')} + "
                f"{value(b, 'socialcare_owned_partitions')}; {len(diff)} series differ, e.g. "
                f"{list(diff.items())[:5]}\n--- first\n{first.log_tail(20)}\n--- second\n"
                f"{second.log_tail(20)}")  # fmt: skip

    wait_until(split_and_complete, 90, "two workers summing to the single worker", diagnostics)
    a, b = first.scrape(), second.scrape()
    # No conversation counted by both: each worker's opened count is its partitions' share.
    opened = (
        value(a, "socialcare_conversations_opened_total"),
        value(b, "socialcare_conversations_opened_total"),
    )
    assert min(opened) > 0 and sum(opened) == len(conversations)
    # Each worker's exposition passes Prometheus's own linter (when installed: .ci/run does).
    for worker in (first, second) if shutil.which("promtool") else ():
        checked = subprocess.run(["promtool", "check", "metrics"], input=worker.raw(),
                                 capture_output=True, text=True, check=False)  # fmt: skip
        assert checked.returncode == 0 and not checked.stdout.strip(), (worker.name, checked)
