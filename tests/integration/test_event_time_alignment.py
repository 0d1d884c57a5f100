"""Event time that survives backlogs: the four topics aligned, with the README's defaults.

Issue 10's acceptance through the broker and real worker processes, every expectation
computed by the test on its own (`tests/sla_reference.py`):
- a worker down while hours of live-ordered traffic arrived counts all of it when it
  starts again, and its first-response outcomes are the ones live processing gives;
- a backlog whose replies topic runs two hours of event time ahead of the mentions topic
  is counted whole;
- with no surveys (nor redirections) at all, a breach by silence fires within the idle
  wait plus the sweep interval.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from processor.ingest.synthetic import SyntheticTraffic, TrafficProfile
from tests.integration.conftest import Deployment, WorkerProcess, processed_all, value, wait_until
from tests.integration.test_month_replay import disagreements
from tests.integration.test_scenario import mention
from tests.sla_reference import event_time, expected_figures

pytestmark = pytest.mark.integration

HOUR = 3600.0


def history(start: float, end: float, seed: int, rate: float) -> list[dict[str, Any]]:
    """Synthetic traffic of several brands between start and end, in event-time order."""
    traffic = SyntheticTraffic(
        start, seed=seed, profile=TrafficProfile(conversations_per_minute=rate)
    )
    events = traffic.advance(end)
    return sorted(events, key=event_time)


def test_a_worker_back_after_hours_down_counts_the_whole_backlog(
    deployment_factory: Callable[..., Deployment], workers: Callable[..., WorkerProcess]
) -> None:
    # README defaults: wall clock, 1 h lateness, the built-in 1 h first-response target.
    # Produced before any worker created the topics: the broker's default of 4 partitions.
    deployment = deployment_factory(partitions=4)
    now = time.time()
    # Three and a half hours of live traffic arrived in time order while the worker was
    # down; it ended an hour ago, so every first-response deadline has passed by now.
    backlog = history(now - 4.5 * HOUR, now - HOUR, seed=10, rate=2.0)
    assert len({event["brand"] for event in backlog}) >= 3 and len(backlog) > 1000
    deployment.produce(backlog)
    worker = workers(deployment)
    worker.wait_ready()
    wait_until(
        lambda: processed_all(worker.scrape(), len(backlog)),
        120, "the backlog processed", worker.log_tail,
    )  # fmt: skip
    m = worker.scrape()
    assert value(m, "socialcare_deadletters_total") == 0, worker.log_tail()
    assert value(m, "socialcare_events_processed_total", outcome="counted") == len(backlog)
    # Live processing would have decided every first response by now: met, breached by a
    # late reply, breached by silence. Compare after the partitions caught up.
    reference = expected_figures(backlog, time.time())
    assert all(not want.pending for want in reference.values())
    gaps: list[str] = []

    def agree() -> bool:
        gaps[:] = disagreements(worker.scrape(), reference)
        return not gaps

    wait_until(agree, 30, "the worker to agree with the reference",
               lambda: "\n".join([*gaps, worker.log_tail()]))  # fmt: skip
    met = sum(want.outcomes("met") for want in reference.values())
    breached = sum(want.outcomes("breached") for want in reference.values())
    assert met > 100 and breached > 10  # not vacuous
    assert value(worker.scrape(), "socialcare_alignment_enforced_records_total") == 0


def test_replies_two_hours_ahead_of_mentions_are_counted_whole(
    deployment_factory: Callable[..., Deployment], workers: Callable[..., WorkerProcess]
) -> None:
    # Produced before any worker created the topics: the broker's default of 4 partitions.
    deployment = deployment_factory(partitions=4)
    now = time.time()
    start = now - 5 * HOUR
    events = history(start, now - 2 * HOUR, seed=11, rate=1.0)
    # The replies topic holds three hours, the mentions topic only the first hour; the
    # replies are written first. Fetched as they come, replies would move the partitions'
    # stream time two hours ahead and the mentions would be `too_late` (lateness 1 h).
    mentions = [e for e in events if e["type"] == "mention" and event_time(e) < start + HOUR]
    replies = [e for e in events if e["type"] == "reply"]
    assert max(map(event_time, replies)) - max(map(event_time, mentions)) > 1.9 * HOUR
    deployment.produce([*replies, *mentions])
    worker = workers(deployment)
    worker.wait_ready()
    total = len(replies) + len(mentions)
    wait_until(
        lambda: value(worker.scrape(), "socialcare_events_processed_total") == total,
        120, "the backlog processed", worker.log_tail,
    )  # fmt: skip
    m = worker.scrape()
    assert value(m, "socialcare_deadletters_total") == 0, worker.log_tail()
    assert value(m, "socialcare_mentions_total") == len(mentions)
    assert value(m, "socialcare_replies_total") == len(replies)
    opened = {e["conversation_id"] for e in mentions}
    assert value(m, "socialcare_conversations_opened_total") == len(opened)


def test_breach_by_silence_fires_live_with_no_surveys_at_all(
    deployment_factory: Callable[..., Deployment],
    workers: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    policy = tmp_path / "sla.yaml"
    policy.write_text("default:\n  first_response: 3\n  resolution: PT24H\n")
    sweep = 0.5
    deployment = deployment_factory(
        partitions=2, SOCIALCARE_SLA_CONFIG=str(policy),
        SOCIALCARE_SWEEP_INTERVAL_SECONDS=str(sweep),
    )  # fmt: skip
    worker = workers(deployment)
    worker.wait_ready()
    opened = time.time()
    deployment.produce([mention("quiet-1", "quiet-1", "QuietBrand", "twitter", opened)])
    deadline = opened + 3.0
    sla = "socialcare_first_response_sla_total"
    wait_until(lambda: value(worker.scrape(), sla, outcome="breached") == 1, 20,
               "the breach by silence", worker.log_tail)  # fmt: skip
    seen = time.time()
    # Idle wait 0 (the default), one sweep interval, and the scrape polling (0.25 s).
    assert seen - deadline < 0 + sweep + 1.0, seen - deadline
    m = worker.scrape()
    assert value(m, "socialcare_alignment_buffered_records") == 0
    assert value(m, "socialcare_catching_up_partitions") == 0
