"""Nothing lost, nothing counted twice when a worker dies (issue 11), on Apache Kafka.

Workers are real processes killed with SIGKILL at random points of a backlog (the seed is
printed). The totals they export afterwards are compared with two independent accounts:
`tests/sla_reference.py` (mentions, replies, conversations, first responses and their SLA
outcomes, computed from the events alone) and, for every other business counter and
histogram, a worker of another application that read the same topics without a crash.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from processor.metrics.families import BUSINESS_FAMILIES
from processor.metrics.prediction_families import PREDICTION_FAMILIES
from processor.state.records import changelog_topic
from tests.integration.conftest import (
    Deployment,
    Samples,
    WorkerProcess,
    value,
    wait_until,
)
from tests.integration.test_event_time_alignment import HOUR, history
from tests.integration.test_month_replay import disagreements
from tests.sla_reference import expected_figures

pytestmark = pytest.mark.integration

# Business series that only grow with input: equal totals mean equal processing. Gauges
# and windows depend on the moment of the scrape, health series on the process.
# Every business total but the predicted CSAT's: an online model's predictions depend on
# the order a partition met answers and resolutions, which a restart may change (the counts
# of everything else may not).
CUMULATIVE = {
    family.name + suffix
    for family in BUSINESS_FAMILIES
    if family not in PREDICTION_FAMILIES
    for suffix in {"counter": ("_total",), "histogram": ("_count", "_sum", "_bucket")}.get(
        family.kind, ()
    )
}


def merged(*scrapes: Samples) -> Samples:
    """The sum of several workers' samples: each exports the partitions it owns."""
    total: Samples = {}
    for samples in scrapes:
        for key, number in samples.items():
            total[key] = total.get(key, 0.0) + number
    return total


def cumulative(samples: Samples) -> dict[tuple[str, Any], float]:
    """Every business counter and histogram sample (non-zero), by name and labels."""
    return {key: number for key, number in samples.items() if key[0] in CUMULATIVE and number}


def counted(worker: WorkerProcess) -> float:
    try:
        return value(worker.scrape(), "socialcare_events_processed_total", outcome="counted")
    except OSError:
        return 0.0


def kill_after(
    worker: WorkerProcess, events: int, timeout: float = 120.0,
    before: Callable[[], bool] = lambda: True,
) -> None:  # fmt: skip
    """SIGKILL once the worker counted at least `events` (of its own) since it started,
    and `before` holds."""
    wait_until(lambda: counted(worker) >= events and before(), timeout,
               f"{events} events counted", worker.log_tail)  # fmt: skip
    worker.kill()


def standby_holds_all(deployment: Deployment, worker: WorkerProcess) -> bool:
    """Every changelog partition written, and the worker's standby copies caught up with
    the ones it does not own (a worker whose first batches all fell on one of its
    partitions has nothing of the other on the changelog yet: no copy to take up)."""
    ends = asyncio.run(changelog_ends(deployment))
    return min(ends) > 0 and value(worker.scrape(), "socialcare_state_standby_lag_records") == 0


async def changelog_ends(deployment: Deployment) -> list[int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=deployment.broker)
    await consumer.start()
    try:
        tps = [TopicPartition(changelog_topic(deployment.app_id), partition)
               for partition in range(deployment.partitions)]  # fmt: skip
        ends = await consumer.end_offsets(tps)
        return [ends[tp] for tp in tps]
    finally:
        await consumer.stop()


def agree_with(
    scrape: Callable[[], Samples], reference: Any, clean: Callable[[], Samples],
    logs: Iterable[Callable[[], str]], timeout: float = 120.0,
) -> None:  # fmt: skip
    """Wait until the scrape equals the reference and the clean run on every total."""
    gaps: list[str] = []

    def check() -> bool:
        mine = scrape()
        gaps[:] = disagreements(mine, reference)
        theirs = cumulative(clean())
        ours = cumulative(mine)
        for key in sorted(set(theirs) | set(ours), key=repr):
            # Sums of customer values (floats with cents) depend on the order of additions.
            if not math.isclose(theirs.get(key, 0.0), ours.get(key, 0.0), rel_tol=1e-9):
                gaps.append(f"{key}: crashed run {ours.get(key)}, clean run {theirs.get(key)}")
        return not gaps

    wait_until(check, timeout, "the totals to equal the reference and the clean run",
               lambda: "\n".join([*gaps[:40], *(log() for log in logs)]))  # fmt: skip


def test_the_only_worker_killed_three_times_loses_and_doubles_nothing(
    deployment_factory: Callable[..., Deployment],
    workers: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    seed = random.randrange(1_000_000)
    print(f"kill points from seed {seed}")
    rng = random.Random(seed)
    deployment = deployment_factory(partitions=4, SOCIALCARE_BATCH_MAX_EVENTS="200")
    now = time.time()
    events = history(now - 4.5 * HOUR, now - HOUR, seed=20, rate=10.0)
    assert len(events) > 4000
    # A quarter of the backlog is produced before each round (in event-time order): a
    # worker may count its whole backlog between two scrapes, the next round still has
    # events of its own to be killed among.
    quarters = [events[n * len(events) // 4 : (n + 1) * len(events) // 4] for n in range(4)]
    # One state directory for every run, as one container with its volume restarted: each
    # takes up the local copy the killed one left and reads the changelog after it.
    data_dir = {"SOCIALCARE_DATA_DIR": str(tmp_path / "crashing-data")}
    for round_number in range(3):
        deployment.produce(quarters[round_number])
        worker = workers(deployment, name=f"crashing-{round_number}", **data_dir)
        worker.wait_ready()
        # Somewhere in the first half of its quarter: a random moment of a batch.
        kill_after(worker, rng.randrange(100, len(quarters[round_number]) // 2))
        print(f"round {round_number}: killed at {worker.log_tail(3)}")
    deployment.produce(quarters[3])
    # The reference run reads the whole backlog from the start. (Started before, it took
    # each quarter as a burst into a caught-up worker: its alignment does not wait for a
    # topic-partition it saw empty, and a few surveys came more than the lateness behind.)
    clean = workers(deployment.sharing_topics(), name="clean")
    survivor = workers(deployment, name="after-the-crashes", **data_dir)
    survivor.wait_ready()
    assert "4 from the local copy" in survivor.log_path.read_text(), survivor.log_tail()
    reference = expected_figures(events, time.time())
    assert all(not want.pending for want in reference.values())
    agree_with(survivor.scrape, reference, clean.scrape, [survivor.log_tail])
    m = survivor.scrape()
    assert value(m, "socialcare_events_processed_total", outcome="duplicate") == 0
    assert deployment.dead_letters(expected=0, timeout=3.0) == []


def test_one_of_two_workers_killed_the_survivor_takes_over(
    deployment_factory: Callable[..., Deployment],
    workers: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    deployment = deployment_factory(partitions=4, SOCIALCARE_BATCH_MAX_EVENTS="200")
    now = time.time()
    events = history(now - 4.5 * HOUR, now - HOUR, seed=21, rate=10.0)
    first = workers(deployment, name="first")
    second = workers(deployment, name="second")
    first.wait_ready()
    second.wait_ready()
    wait_until(
        lambda: value(first.scrape(), "socialcare_owned_partitions")
        + value(second.scrape(), "socialcare_owned_partitions") == 4,
        60, "the partitions shared by the two workers", second.log_tail,
    )  # fmt: skip
    # The backlog comes once the partitions are shared: produced before, the first worker
    # (alone for a moment) could count all of the second's partitions before the split,
    # leaving the second nothing to be killed among.
    deployment.produce(events)
    # The reference run reads it as a backlog from the start (see the test above).
    clean = workers(deployment.sharing_topics(), name="clean")
    kill_after(second, 300, before=lambda: standby_holds_all(deployment, first))
    killed_at = time.monotonic()

    def survivor_owns_all() -> bool:
        m = first.scrape()
        return value(m, "socialcare_owned_partitions") == 4 and (
            value(m, "socialcare_mentions_total") > 0
        )

    wait_until(survivor_owns_all, 60, "the survivor to export every partition", first.log_tail)
    takeover = time.monotonic() - killed_at
    print(f"survivor exports all partitions {takeover:.1f}s after the kill")
    # The group notices the death after the session timeout (6 s here) and a heartbeat,
    # rebalances within the rebalance timeout (4 s), the survivor takes the partitions up
    # from its standby copies: seconds, not the minutes a changelog replay would take. The
    # group's part stretches on a loaded machine (12 s bounds were missed by 2-3 s with
    # three such tests at once on 2 cores); the survivor's own part is bounded on its own.
    assert takeover <= 6.0 + 4.0 + 10.0, first.log_tail()
    # From its standby copies: the dead worker's two partitions were on its disk already,
    # taken up in well under the time a replay of the changelog would take.
    taken_up = re.search(
        r"partitions \[0, 1, 2, 3\] ready: \d+ changelog records read in ([\d.]+)s "
        r"\(2 new, 2 from the local copy",
        first.log_path.read_text(),
    )
    assert taken_up is not None, first.log_tail()
    assert float(taken_up.group(1)) <= 2.0, first.log_tail()
    # The killed worker comes back with its local copy: the changelog after it is read.
    restarted = workers(
        deployment, name="second-again", SOCIALCARE_DATA_DIR=str(tmp_path / "second-data")
    )
    restarted.wait_ready()
    reference = expected_figures(events, time.time())

    def both() -> Samples:
        return merged(first.scrape(), restarted.scrape())

    agree_with(both, reference, clean.scrape, [first.log_tail, restarted.log_tail])
    assert deployment.dead_letters(expected=0, timeout=3.0) == []


async def _limit_changelog_records(bootstrap: str, topic: str, max_bytes: int) -> None:
    """The changelog's largest record batch the broker accepts (its other config kept)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        configs = {"cleanup.policy": "compact", "max.message.bytes": str(max_bytes)}
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs)])
    finally:
        await admin.close()


def test_a_failed_changelog_write_stops_the_worker_and_its_restart_loses_nothing(
    deployment_factory: Callable[..., Deployment],
    workers: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    """The broker refuses a batch for good (here: larger than the topic accepts). Going on
    would leave the state in memory ahead of the changelog, and the next batch's progress
    would skip the refused one's input: the worker stops with exit status 3, and once the
    broker accepts again its restart counts everything once."""
    deployment = deployment_factory(partitions=4, SOCIALCARE_BATCH_MAX_EVENTS="200")
    now = time.time()
    events = history(now - 4.5 * HOUR, now - HOUR, seed=23, rate=10.0)
    first, second = events[: len(events) // 2], events[len(events) // 2 :]
    deployment.produce(first)
    data_dir = {"SOCIALCARE_DATA_DIR": str(tmp_path / "failing-data")}
    worker = workers(deployment, name="failing", **data_dir)
    worker.wait_ready()
    wait_until(lambda: counted(worker) >= len(first), 120, "the first half counted",
               worker.log_tail)  # fmt: skip
    changelog = f"{deployment.app_id}-state-changelog"
    asyncio.run(_limit_changelog_records(deployment.broker, changelog, 512))
    deployment.produce(second)  # its first batch's write is refused
    wait_until(lambda: not worker.alive, 60, "the worker to stop", worker.log_tail)
    assert worker.returncode == 3, worker.log_tail()
    assert "changelog write failed" in worker.log_path.read_text(), worker.log_tail()
    asyncio.run(_limit_changelog_records(deployment.broker, changelog, 8 * 1_048_576))
    clean = workers(deployment.sharing_topics(), name="clean")
    restarted = workers(deployment, name="restarted", **data_dir)
    restarted.wait_ready()
    reference = expected_figures(events, time.time())
    agree_with(restarted.scrape, reference, clean.scrape, [restarted.log_tail])
    m = restarted.scrape()
    assert value(m, "socialcare_events_processed_total", outcome="duplicate") == 0
    assert deployment.dead_letters(expected=0, timeout=3.0) == []
