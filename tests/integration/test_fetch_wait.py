"""Live input comes to the pipeline in batches of a fetch wait, on Apache Kafka.

With Faust's fetch settings the broker answers a fetch as soon as any record is there, so
live traffic reaches the pipeline a few records at a time and every batch pays its fixed
costs for them (`docs/benchmarks.md`). The worker's consumer asks the broker to hold a
fetch up to `SOCIALCARE_FETCH_MAX_WAIT_SECONDS` for `SOCIALCARE_FETCH_MIN_BYTES`: at a
steady rate a batch then holds about a wait's worth of records, which the worker's
`socialcare_pipeline_batch_records` histogram shows, and every event is still counted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from benchmarks.latency import steadily
from tests.integration.conftest import (
    Deployment,
    Samples,
    WorkerProcess,
    processed_all,
    value,
    wait_until,
)
from tests.integration.test_event_time_alignment import HOUR, history

pytestmark = pytest.mark.integration

RATE = 300.0  # events/s, far below what a worker processes: no backlog forms
WAIT = 0.5  # seconds: about 150 events a fetch at RATE


async def produce_at_rate(deployment: Deployment, events: list[dict[str, Any]]) -> None:
    """Send the events at a steady RATE, as live traffic comes."""
    producer = AIOKafkaProducer(bootstrap_servers=deployment.broker, acks="all", linger_ms=2)
    await producer.start()
    try:
        async for _, event in steadily(events, RATE):
            await producer.send(
                deployment.topic_for(event["type"]), value=orjson.dumps(event),
                key=event["conversation_id"].encode(),
            )  # fmt: skip
        await producer.flush()
    finally:
        await producer.stop()


def batches(samples: Samples) -> tuple[float, float]:
    """Batches the pipeline processed and the records they held, so far."""
    return (
        value(samples, "socialcare_pipeline_batch_records_count"),
        value(samples, "socialcare_pipeline_batch_records_sum"),
    )


def test_live_input_is_processed_in_batches_of_a_fetch_wait(
    deployment_factory: Callable[..., Deployment], workers: Callable[..., WorkerProcess]
) -> None:
    deployment = deployment_factory(partitions=2, SOCIALCARE_CLOCK="event")
    now = time.time()
    events = history(now - HOUR, now, seed=21, rate=20.0)[:1500]
    assert len(events) == 1500
    wait = {"SOCIALCARE_FETCH_MAX_WAIT_SECONDS": str(WAIT), "SOCIALCARE_FETCH_MIN_BYTES": "1048576"}
    worker = workers(deployment, **wait)
    worker.wait_ready()
    count_before, records_before = batches(worker.scrape())
    asyncio.run(produce_at_rate(deployment, events))
    wait_until(lambda: processed_all(worker.scrape(), len(events)), 60, "the events processed",
               worker.log_tail)  # fmt: skip
    samples = worker.scrape()
    assert value(samples, "socialcare_events_processed_total", outcome="counted") == len(events)
    count, records = batches(samples)
    taken, held = count - count_before, records - records_before
    # Five seconds of input at 300 events/s: about ten fetches of ~150 events (and the clock
    # ticks of a few idle ones). Fetched as the records arrive, batches hold a few records
    # each: hundreds of batches, not the dozen or two here.
    assert held >= len(events)
    assert held / taken >= 40, f"{taken:.0f} batches of {held / taken:.1f} records on average"
