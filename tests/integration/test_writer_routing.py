"""A batch's records for other topics and partitions (customer contacts, dead letters)
beside its changelog records: each partition gets its records in the batch's order, the
changelog's last record carries the commit, on Kafka with and without transactions."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from processor.state.records import BATCH_HEADER, COMMIT_HEADER, Outgoing, encode_key, header
from processor.state.writer import ChangelogWriter, FramedWriter, TransactionalWriter

pytestmark = pytest.mark.integration

CONTACT_PARTITIONS = 4


def batch() -> list[Outgoing]:
    """Contacts to the partitions of their customers in no order, changelog records and a
    dead letter in between (the writer may group them, never reorder a partition's)."""
    records = []
    for number in range(40):
        records.append(Outgoing("contacts", f"k{number}".encode(), f"contact-{number}".encode(),
                                (number * 7) % CONTACT_PARTITIONS))  # fmt: skip
        if number % 5 == 0:
            records.append(Outgoing("", encode_key("totals", f"0:{number}"), str(number).encode()))
        if number == 17:
            records.append(Outgoing("dead", b"bad", b"letter-17"))
    return records


async def read(bootstrap: str, topic: str, partitions: int) -> dict[int, list[tuple[bytes, str]]]:
    """(value, its framing: "batch", "commit" or "") of every committed record, by partition."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, isolation_level="read_committed", enable_auto_commit=False
    )
    await consumer.start()
    try:
        parts = [TopicPartition(topic, number) for number in range(partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        out: dict[int, list[tuple[bytes, str]]] = {number: [] for number in range(partitions)}
        for _ in range(30):
            positions = [await consumer.position(tp) for tp in parts]
            if all(position >= ends[tp] for position, tp in zip(positions, parts, strict=True)):
                return out
            for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
                for record in records:
                    assert record.value is not None
                    framing = (
                        "commit" if header(record.headers, COMMIT_HEADER) is not None
                        else "batch" if header(record.headers, BATCH_HEADER) is not None
                        else ""
                    )  # fmt: skip
                    out[tp.partition].append((record.value, framing))
        raise AssertionError(f"{topic}: not read to its end in 30 fetches")
    finally:
        await consumer.stop()


async def round_trip(bootstrap: str, transactional: bool) -> None:
    run = uuid.uuid4().hex[:8]
    changelog, contacts, dead = f"{run}-changelog", f"{run}-contacts", f"{run}-dead"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([
            NewTopic(changelog, num_partitions=1, replication_factor=1),
            NewTopic(contacts, num_partitions=CONTACT_PARTITIONS, replication_factor=1),
            NewTopic(dead, num_partitions=1, replication_factor=1),
        ])  # fmt: skip
    finally:
        await admin.close()
    named = {"contacts": contacts, "dead": dead}
    records = [Outgoing(named.get(r.topic, r.topic), r.key, r.value, r.partition) for r in batch()]
    writer: ChangelogWriter = (
        TransactionalWriter(bootstrap, f"app-{run}", changelog)
        if transactional
        else FramedWriter(bootstrap, changelog, one_record_per_batch=False)
    )
    await writer.start({0})
    try:
        written = await writer.write({0: records})
    finally:
        await writer.close()
    assert written.fenced == set() and written.offsets == {0: 7}  # 8 changelog records

    got = await read(bootstrap, contacts, CONTACT_PARTITIONS)
    for partition in range(CONTACT_PARTITIONS):
        expected = [f"contact-{n}".encode() for n in range(40) if (n * 7) % 4 == partition]
        assert [value for value, _ in got[partition]] == expected
    assert (await read(bootstrap, dead, 1))[0] == [(b"letter-17", "")]
    state = (await read(bootstrap, changelog, 1))[0]
    assert [value for value, _ in state] == [str(n).encode() for n in range(0, 40, 5)]
    assert [framing for _, framing in state] == ["batch"] * 7 + ["commit"]


def test_kafka_transaction_keeps_each_partitions_order(kafka_broker: str) -> None:
    asyncio.run(round_trip(kafka_broker, transactional=True))


def test_kafka_framed_batch_keeps_each_partitions_order(kafka_broker: str) -> None:
    asyncio.run(round_trip(kafka_broker, transactional=False))
