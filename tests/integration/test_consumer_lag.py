"""`socialcare_consumer_lag_records`: grows under a burst, back to 0 once the worker caught up.

The burst also pauses and resumes the mentions' partitions (a small alignment buffer): every
record is counted, none dropped by a fetch that was on its way when its partition paused.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from tests.integration.conftest import Deployment, WorkerProcess, value, wait_until

pytestmark = pytest.mark.integration


def test_consumer_lag_follows_a_burst(
    deployment_factory: Callable[..., Deployment], workers: Callable[..., WorkerProcess]
) -> None:
    # A small alignment buffer: the burst, an hour behind, waits the settle time before it
    # goes (nothing on its partitions is settled yet); meanwhile 50 records a
    # topic-partition are taken and the rest waits on the broker, whatever pace the
    # producer and the worker keep on a loaded machine.
    deployment = deployment_factory(
        partitions=2, SOCIALCARE_CLOCK="event", SOCIALCARE_ALIGNMENT_MAX_BUFFERED="50"
    )
    worker = workers(deployment)
    worker.wait_ready()
    lag = "socialcare_consumer_lag_records"
    topics = [deployment.topic_for(kind) for kind in ("mention", "reply", "redirection", "survey")]
    assert {topic: value(worker.scrape(), lag, topic=topic) for topic in topics} == dict.fromkeys(
        topics, 0.0
    )
    start = time.time() - 3600
    burst = 6000
    events = [
        {
            "event_id": f"m-{n}",
            "type": "mention",
            "conversation_id": f"c-{n}",
            "occurred_at": datetime.fromtimestamp(start + n / 10, UTC)
            .isoformat()
            .replace("+00:00", "Z"),
            "brand": "Acme",
            "channel": "twitter",
            "author_id": f"u-{n}",
        }
        for n in range(burst)
    ]
    # Scraped while the burst is produced too: a worker that keeps pace with a slow
    # producer (a loaded machine) has read everything by the time the burst is sent.
    producing = threading.Thread(target=deployment.produce, args=(events,))
    producing.start()
    seen: list[float] = []

    def caught_up() -> bool:
        samples = worker.scrape()
        seen.append(value(samples, lag, topic=topics[0]))
        return value(samples, "socialcare_events_processed_total", outcome="counted") == burst

    try:
        while producing.is_alive():
            caught_up()
            time.sleep(0.05)
        wait_until(caught_up, 120, "the burst processed", worker.log_tail)
    finally:
        producing.join()
    # Held back by the buffer's bound: at some scrape records were waiting on the broker.
    assert max(seen) > 0, seen
    wait_until(lambda: value(worker.scrape(), lag) == 0, 30, "the lag back to 0", worker.log_tail)
    assert len([s for s in worker.scrape() if s[0] == lag]) == 4  # one sample per input topic
