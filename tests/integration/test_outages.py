"""Redis and the broker going away mid-stream (issue 11): nothing lost, nothing doubled.

Each test has its own Redis or Kafka, to stop and start without disturbing the others.
Totals are compared with `tests/sla_reference.py`, computed from the events alone.
"""

from __future__ import annotations

import dataclasses
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from processor.tools.kafka_broker import start_kafka
from processor.tools.kafka_broker import unavailable as kafka_unavailable
from processor.tools.local_services import start_redis
from tests.integration.conftest import Deployment, WorkerProcess, value, wait_until
from tests.integration.test_event_time_alignment import HOUR, history
from tests.integration.test_month_replay import agree
from tests.sla_reference import expected_figures

pytestmark = pytest.mark.integration


def ready_status(worker: WorkerProcess) -> int:
    try:
        with urllib.request.urlopen(f"{worker.base}/ready", timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[str, Callable[[], None], Callable[[], None]]]:
    """A Redis of the test's own: (url, stop, start again empty on the same port)."""
    folder = tmp_path / "redis"
    folder.mkdir()
    child, url = start_redis(folder)
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    children = [child]

    def stop() -> None:
        children[-1].stop(timeout=10)

    def start() -> None:
        children.append(start_redis(folder, port=port)[0])

    yield url, stop, start
    children[-1].stop(timeout=10)


def test_redis_away_for_30s_then_back_empty(
    deployment_factory: Callable[..., Deployment],
    workers: Callable[..., WorkerProcess],
    own_redis: tuple[str, Callable[[], None], Callable[[], None]],
) -> None:
    url, stop_redis, start_redis_again = own_redis
    deployment = dataclasses.replace(deployment_factory(partitions=4), redis_url=url)
    now = time.time()
    events = history(now - 4.5 * HOUR, now - HOUR, seed=30, rate=4.0)
    before, during = events[: len(events) // 2], events[len(events) // 2 :]
    deployment.produce(before)
    worker = workers(deployment)
    worker.wait_ready()
    wait_until(lambda: value(worker.scrape(), "socialcare_events_processed_total",
                             outcome="counted") == len(before),
               60, "the first half counted", worker.log_tail)  # fmt: skip
    stop_redis()
    stopped_at = time.monotonic()
    deployment.produce(during)  # while Redis is away: counted all the same
    wait_until(lambda: value(worker.scrape(), "socialcare_events_processed_total",
                             outcome="counted") == len(events),
               60, "the second half counted without Redis", worker.log_tail)  # fmt: skip
    assert value(worker.scrape(), "socialcare_redis_reachable") == 0
    assert ready_status(worker) == 503
    time.sleep(max(0.0, 30 - (time.monotonic() - stopped_at)))
    start_redis_again()  # empty: the dedup window it held is gone
    wait_until(lambda: value(worker.scrape(), "socialcare_redis_reachable") == 1, 30,
               "Redis seen again", worker.log_tail)  # fmt: skip
    assert ready_status(worker) == 200
    # The whole file sent again: nothing may count twice. Copies within the allowed
    # lateness (1 h) of their partition's latest event are duplicates (the state remembers
    # them); older ones are dead-lettered too late (Redis forgot them).
    deployment.produce(events)
    reference = expected_figures(events, time.time())
    agree(worker, reference)
    wait_until(lambda: value(worker.scrape(), "socialcare_events_processed_total",
                             outcome="duplicate")
               + value(worker.scrape(), "socialcare_deadletters_total") == len(events),
               60, "every copy a duplicate or too late", worker.log_tail)  # fmt: skip
    m = worker.scrape()
    assert value(m, "socialcare_events_processed_total", outcome="counted") == len(events)
    assert value(m, "socialcare_deadletters_total", reason="too_late") == value(
        m, "socialcare_deadletters_total"
    )
    assert value(m, "socialcare_events_processed_total", outcome="duplicate") > 0
    log = worker.log_path.read_text()
    assert log.count("Redis unreachable") == 1, worker.log_tail()
    assert log.count("Redis reachable again") == 1
    assert "Traceback" not in log
    agree(worker, reference)


@pytest.mark.skipif(kafka_unavailable() is not None, reason=f"Kafka: {kafka_unavailable()}")
def test_broker_restarted_mid_stream(
    tmp_path: Path,
    redis_url: str,
    deployment_factory: Callable[..., Deployment],
    workers: Callable[..., WorkerProcess],
) -> None:
    folder = tmp_path / "kafka"
    kafka, bootstrap = start_kafka(folder)
    try:
        deployment = dataclasses.replace(deployment_factory(partitions=4), broker=bootstrap)
        now = time.time()
        events = history(now - 4.5 * HOUR, now - HOUR, seed=31, rate=10.0)
        first, second = events[: len(events) // 2], events[len(events) // 2 :]
        deployment.produce(first)
        worker = workers(deployment)
        worker.wait_ready()
        wait_until(lambda: value(worker.scrape(), "socialcare_events_processed_total",
                                 outcome="counted") > len(first) // 3,
                   60, "a third counted", worker.log_tail)  # fmt: skip
        kafka.stop(timeout=30)  # mid-stream: batches in flight
        time.sleep(5)
        kafka, _ = start_kafka(folder)  # same log dir and port
        deployment.produce(second)
        reference = expected_figures(events, time.time())
        agree(worker, reference)
        assert worker.alive, worker.log_tail()
        assert deployment.dead_letters(expected=0, timeout=3.0) == []
    finally:
        kafka.stop(timeout=30)
