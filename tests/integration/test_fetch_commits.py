"""Records taken a fetch at a time are committed to the end, past transaction markers.

The consumer hands whole fetches to the agent and acknowledges them a batch at a time
(`processor.stream.fetch`), keeping the bookkeeping Faust's fetch loop does per record.
Input written by a transactional producer leaves a marker after each transaction, so its
offsets have gaps no record comes for: the commit must pass them, or a restarted worker
would read the whole topic again (and a stuck commit would look like lag forever).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from tests.integration.conftest import Deployment, WorkerProcess, value, wait_until
from tests.integration.test_event_time_alignment import HOUR, history

pytestmark = pytest.mark.integration


async def produce_transactionally(deployment: Deployment, events: list[dict[str, Any]]) -> None:
    """Ten events a transaction: a control record follows every ten."""
    producer = AIOKafkaProducer(
        bootstrap_servers=deployment.broker, transactional_id=f"{deployment.app_id}-source"
    )
    await producer.start()
    try:
        for first in range(0, len(events), 10):
            async with producer.transaction():
                for event in events[first : first + 10]:
                    await producer.send(
                        deployment.topic_for(event["type"]), value=orjson.dumps(event),
                        key=event["conversation_id"].encode(),
                    )  # fmt: skip
    finally:
        await producer.stop()


async def committed_and_ends(deployment: Deployment) -> tuple[dict[str, int], dict[str, int]]:
    """The group's committed offset and the end offset of every input topic-partition."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=deployment.broker, group_id=deployment.app_id,
        enable_auto_commit=False, isolation_level="read_committed",
    )  # fmt: skip
    await consumer.start()
    try:
        tps = [
            TopicPartition(deployment.topics[kind], partition)
            for kind in ("mentions", "replies", "redirections", "surveys")
            for partition in range(deployment.partitions)
        ]
        ends = await consumer.end_offsets(tps)
        committed = {f"{tp.topic}/{tp.partition}": await consumer.committed(tp) or 0 for tp in tps}
        return committed, {f"{tp.topic}/{tp.partition}": ends[tp] for tp in tps}
    finally:
        await consumer.stop()


def test_offsets_are_committed_to_the_end_past_transaction_markers(
    deployment_factory: Callable[..., Deployment], workers: Callable[..., WorkerProcess]
) -> None:
    deployment = deployment_factory(partitions=2, SOCIALCARE_CLOCK="event")
    if deployment.kind != "kafka":
        pytest.skip("transactional input needs Apache Kafka")
    now = time.time()
    events = history(now - 2 * HOUR, now - HOUR, seed=5, rate=4.0)
    assert len(events) > 300
    worker = workers(deployment, name="worker")  # it creates the topics
    worker.wait_ready()
    asyncio.run(produce_transactionally(deployment, events))
    wait_until(
        lambda: value(worker.scrape(), "socialcare_events_processed_total", outcome="counted")
        == len(events),
        120, f"{len(events)} events counted", worker.log_tail,
    )  # fmt: skip
    # Every offset is a record or a marker: more offsets than records, gaps between them.
    _, ends = asyncio.run(committed_and_ends(deployment))
    assert sum(ends.values()) > len(events) + len(events) // 10
    state: list[dict[str, int]] = []

    def caught_up() -> bool:
        state[:] = [asyncio.run(committed_and_ends(deployment))[0]]
        # The last marker of a partition has no record after it: committed is end - 1 or end.
        return all(ends[tp] - 1 <= state[0][tp] <= ends[tp] for tp in ends)

    wait_until(caught_up, 30, "the committed offsets to reach the ends",
               lambda: f"committed {state}, ends {ends}")  # fmt: skip
    m = worker.scrape()
    assert value(m, "socialcare_events_processed_total", outcome="redelivered") == 0
