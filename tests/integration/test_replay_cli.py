"""`socialcare replay FILE`: event-time order, pacing, and a second replay changes nothing."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from processor.ingest.synthetic import SyntheticTraffic, TrafficProfile, to_json_lines
from tests.integration.conftest import Deployment, WorkerProcess, processed_all, value, wait_until
from tests.integration.test_scale_out import business

pytestmark = pytest.mark.integration


def test_replay_orders_paces_and_is_idempotent(
    deployment_factory: Callable[..., Deployment],
    workers: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    # The file is in random order; replay sends it in event-time order. (The worker reads
    # the four topics at different paces, so within a partition it still sees events out
    # of order by up to what one fetch spans: the default lateness of 1 h covers this
    # half hour of history.)
    deployment = deployment_factory(partitions=2, SOCIALCARE_CLOCK="event")
    worker = workers(deployment)
    worker.wait_ready()
    start = time.time() - 3 * 3600
    events = SyntheticTraffic(start, seed=9, profile=TrafficProfile(conversations_per_minute=8))
    batch = events.advance(start + 1800)
    shuffled = list(batch)
    random.Random(1).shuffle(shuffled)
    path = tmp_path / "history.jsonl"
    path.write_text("".join(to_json_lines(shuffled)))

    result = deployment.cli("replay", str(path))
    assert result.returncode == 0, result.stderr
    wait_until(
        lambda: processed_all(worker.scrape(), len(batch)),
        60, "the replay processed", worker.log_tail,
    )  # fmt: skip
    first = worker.scrape()
    assert value(first, "socialcare_deadletters_total") == 0
    assert value(first, "socialcare_events_processed_total", outcome="counted") == len(batch)

    # The same file again: every event is a duplicate, no business number moves.
    again = deployment.cli("replay", str(path))
    assert again.returncode == 0, again.stderr
    wait_until(
        lambda: value(worker.scrape(), "socialcare_events_processed_total",
                      outcome="duplicate") == len(batch),
        60, "the second replay processed", worker.log_tail,
    )  # fmt: skip
    assert business(worker.scrape()) == business(first)

    # Pacing: 5 events 1 s apart in event time, at 2x real time: about 2 s of sending.
    now = time.time() - 600
    paced = [dict(batch[0], event_id=f"paced-{n}", conversation_id=f"paced-{n}",
                  occurred_at=time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now + n)) + "Z",
                  type="mention", author_id="c")
             for n in range(5)]  # fmt: skip
    paced_path = tmp_path / "paced.jsonl"
    paced_path.write_text("".join(to_json_lines(paced)))
    began = time.monotonic()
    result = deployment.cli("replay", str(paced_path), "--speed", "2")
    took = time.monotonic() - began
    assert result.returncode == 0, result.stderr
    assert took >= 2.0, took  # (5 - 1) s of event time / 2
