"""`EventProducer.send_batched` on Apache Kafka: each key in the partition aiokafka's own
per-record path gives it, in order, with the given timestamp; a record larger than a batch
goes in a batch of its own."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from processor.ingest.producer import EventProducer
from processor.settings import Settings
from processor.stream.topics import ensure_topics

pytestmark = pytest.mark.integration

PARTITIONS = 4
Read = list[tuple[int, bytes, dict[str, Any], int]]
"""(partition, key, decoded value, timestamp ms) of records read back."""
KEYS = [f"conv-{number}".encode() for number in range(12)]


def settings_for(broker: str, prefix: str) -> Settings:
    return Settings.model_validate(
        {
            "kafka_bootstrap_servers": broker,
            "partitions": PARTITIONS,
            "app_id": prefix,
            "topic_mentions": f"{prefix}.mentions",
            "topic_replies": f"{prefix}.replies",
            "topic_redirections": f"{prefix}.redirections",
            "topic_surveys": f"{prefix}.surveys",
            "topic_deadletters": f"{prefix}.deadletters",
        }
    )


async def read_all(broker: str, topic: str, count: int) -> Read:
    """(partition, key, value, timestamp ms) of the topic's first `count` records, each
    partition in offset order."""
    consumer = AIOKafkaConsumer(bootstrap_servers=broker, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
        await consumer.seek_to_beginning()
        records: Read = []
        deadline = asyncio.get_running_loop().time() + 30
        while len(records) < count and asyncio.get_running_loop().time() < deadline:
            fetched = await consumer.getmany(timeout_ms=500)
            for tp, batch in sorted(fetched.items(), key=lambda item: item[0].partition):
                for record in batch:
                    assert record.key is not None and record.value is not None
                    records.append(
                        (tp.partition, record.key, orjson.loads(record.value), record.timestamp)
                    )
        return records
    finally:
        await consumer.stop()


async def partitions_by_send(broker: str, topic: str) -> dict[bytes, int]:
    """Where aiokafka's per-record `send` (its default partitioner) puts each key."""
    producer = AIOKafkaProducer(bootstrap_servers=broker)
    await producer.start()
    try:
        placed = {}
        for key in KEYS:
            metadata = await (await producer.send(topic, value=b"{}", key=key))
            placed[key] = metadata.partition
        return placed
    finally:
        await producer.stop()


def test_batched_records_land_where_the_per_record_path_puts_them(kafka_broker: str) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    settings = settings_for(kafka_broker, prefix)
    big = "x" * 6000  # more than the 4 KB batches below

    async def scenario() -> tuple[Read, dict[bytes, int], int]:
        await ensure_topics(settings, timeout=30.0)
        records = []
        for sequence in range(60):
            key = KEYS[sequence % len(KEYS)]
            document = {"sequence": sequence, "padding": big if sequence == 31 else ""}
            records.append((settings.topic_mentions, key, orjson.dumps(document)))
        async with EventProducer(settings, max_batch_size=4096) as producer:
            queued = await producer.send_batched(records, timestamp_ms=1_700_000_000_123)
            await producer.flush()
        read = await read_all(kafka_broker, settings.topic_mentions, len(records))
        reference = await partitions_by_send(kafka_broker, settings.topic_replies)
        return read, reference, queued

    read, reference, queued = asyncio.run(scenario())
    assert queued == 60
    assert sorted(value["sequence"] for _, _, value, _ in read) == list(range(60))
    for partition, key, _, timestamp in read:
        assert partition == reference[key], key
        assert timestamp == 1_700_000_000_123
    for key in KEYS:
        sequences = [value["sequence"] for _, k, value, _ in read if k == key]
        assert sequences == sorted(sequences) and len(sequences) == 5, key
    assert len({partition for partition, *_ in read}) > 1  # the keys did spread
    assert any(len(value["padding"]) == 6000 for _, _, value, _ in read)
