"""The changelog's unit of a batch, read back: whole batches only, on Kafka and on Tansu.

A batch cut short (a worker killed between its records) must never reach a recovered
store: on Kafka the transaction is aborted when the next writer of the partition starts;
on Tansu, without transactions, the reader drops records whose batch has no commit.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from processor.state.local import LocalState
from processor.state.records import BATCH_HEADER, Outgoing, encode_key, encode_value
from processor.state.recovery import recover
from processor.state.store import StateStore
from processor.state.writer import FramedWriter, TransactionalWriter

pytestmark = pytest.mark.integration


RULES = {"totals": lambda key: int(key.split(":")[0])}


def new_store(local: LocalState | None = None) -> StateStore:
    return StateStore(RULES, local)


def change(key: str, mentions: int) -> Outgoing:
    return Outgoing("", encode_key("totals", key), encode_value({"mentions": mentions}))


async def create(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    finally:
        await admin.close()


async def make_again(bootstrap: str, topic: str) -> None:
    """The topic deleted and created again, empty (or a broker restarted without its data)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic])
        await asyncio.sleep(2.0)
    finally:
        await admin.close()
    await create(bootstrap, topic)


async def transactional_round(bootstrap: str) -> None:
    app, topic = f"t{uuid.uuid4().hex[:8]}", f"t{uuid.uuid4().hex[:8]}-state-changelog"
    await create(bootstrap, topic)
    writer = TransactionalWriter(bootstrap, app, topic)
    await writer.start({0, 1})
    written = await writer.write({0: [change("0:a", 1), change("0:b", 1)], 1: [change("1:c", 5)]})
    assert written.fenced == set() and set(written.offsets) == {0, 1}
    # A worker dies mid-batch: records sent, the transaction neither committed nor aborted.
    zombie = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=f"{app}-state-0")
    await zombie.start()
    await zombie.begin_transaction()
    await (await zombie.send(topic, key=encode_key("totals", "0:a"), value=b'{"mentions":99}',
                             partition=0))  # fmt: skip
    # The next owner starts its writer (fencing the zombie), then reads.
    successor = TransactionalWriter(bootstrap, app, topic)
    await successor.start({0, 1})
    store = new_store()
    recovered = await recover(
        store, bootstrap_servers=bootstrap, topic=topic, partitions={0, 1}, transactional=True
    )
    assert dict(store["totals"]) == {"0:a": {"mentions": 1}, "0:b": {"mentions": 1},
                                     "1:c": {"mentions": 5}}  # fmt: skip
    assert recovered.applied == {0: 2, 1: 1}
    # The old writer is fenced: its next batch is refused, not written.
    assert (await writer.write({0: [change("0:a", 7)]})).fenced == {0}
    # A copy kept at its offset reads only the tail another writer added.
    await successor.write({0: [change("0:b", 2)]})
    tail = await recover(
        store, bootstrap_servers=bootstrap, topic=topic, partitions={0, 1}, transactional=True
    )
    assert tail.applied == {0: 1, 1: 0}
    assert store["totals"]["0:b"] == {"mentions": 2}
    for producer in (writer, successor):
        await producer.close()
    await zombie.stop()


async def framed_round(bootstrap: str) -> None:
    topic = f"t{uuid.uuid4().hex[:8]}-state-changelog"
    await create(bootstrap, topic)
    writer = FramedWriter(bootstrap, topic, one_record_per_batch=True)
    await writer.write({0: [change("0:a", 1), change("0:b", 1)]})
    # A batch cut short: its first record reached the broker, its commit never did.
    raw = AIOKafkaProducer(bootstrap_servers=bootstrap, max_batch_size=1)
    await raw.start()
    await raw.send_and_wait(topic, key=encode_key("totals", "0:a"), value=b'{"mentions":99}',
                            partition=0, headers=[(BATCH_HEADER, b"dead-1")])  # fmt: skip
    await raw.stop()
    await writer.write({0: [change("0:b", 3)]})  # the next owner's batch, after the cut
    await writer.close()
    store = new_store()
    recovered = await recover(
        store, bootstrap_servers=bootstrap, topic=topic, partitions={0}, transactional=False
    )
    assert dict(store["totals"]) == {"0:a": {"mentions": 1}, "0:b": {"mentions": 3}}
    assert recovered.dropped == 1 and recovered.applied == {0: 3}


async def local_round(bootstrap: str, folder: Path) -> None:
    """A restart takes up the local copy and reads only the changelog written after it."""
    app, topic = f"t{uuid.uuid4().hex[:8]}", f"t{uuid.uuid4().hex[:8]}-state-changelog"
    await create(bootstrap, topic)
    writer = TransactionalWriter(bootstrap, app, topic)
    await writer.start({0, 1})
    store = new_store(LocalState(folder / "state"))
    for round_ in range(3):  # as a worker's checkpoint does: take, write, persist
        store["totals"]["0:a"] = {"mentions": round_}
        store["totals"][f"1:{round_}"] = {"mentions": 10 + round_}
        written = await writer.write({p: store.take_changes(p) for p in (0, 1)})
        store.persist(written.offsets)
    # The crash: this batch reached the changelog, never the local copy.
    store["totals"]["0:a"] = {"mentions": 7}
    await writer.write({0: store.take_changes(0)})
    assert store.local is not None
    store.local.close()
    await writer.close()

    restarted = new_store(LocalState(folder / "state"))
    recovered = await recover(
        restarted, bootstrap_servers=bootstrap, topic=topic, partitions={0, 1}, transactional=True
    )
    assert set(recovered.local) == {0, 1}  # both from the copy on disk
    assert recovered.applied == {0: 1, 1: 0}  # the one batch after it
    assert dict(restarted["totals"].items()) == {
        "0:a": {"mentions": 7}, "1:0": {"mentions": 10}, "1:1": {"mentions": 11},
        "1:2": {"mentions": 12},
    }  # fmt: skip
    assert restarted.local is not None and restarted.local.offset(0) == restarted.offsets[0]
    restarted.local.close()

    # The changelog deleted and made again (empty): the copy is ahead of it and is dropped.
    await make_again(bootstrap, topic)
    again = new_store(LocalState(folder / "state"))
    recovered = await recover(
        again, bootstrap_servers=bootstrap, topic=topic, partitions={0, 1}, transactional=True
    )
    assert recovered.applied == {0: 0, 1: 0} and dict(again["totals"].items()) == {}
    assert again.local is not None and again.local.partitions() == set()
    again.local.close()


async def framed_ahead_round(bootstrap: str, folder: Path) -> None:
    """Without transactions but one record per batch, a copy ahead of a new log is dropped:
    a broker restarted empty (Tansu keeps topics in memory) must not bring old totals back."""
    topic = f"t{uuid.uuid4().hex[:8]}-state-changelog"
    await create(bootstrap, topic)
    writer = FramedWriter(bootstrap, topic, one_record_per_batch=True)
    store = new_store(LocalState(folder / "state"))
    for round_ in range(3):
        store["totals"]["0:a"] = {"mentions": round_}
        store.persist((await writer.write({0: store.take_changes(0)})).offsets)
    await writer.close()
    assert store.local is not None and store.local.offset(0) == 2
    store.local.close()
    await make_again(bootstrap, topic)
    writer = FramedWriter(bootstrap, topic, one_record_per_batch=True)
    await writer.write({0: [change("0:b", 1)]})  # the new log's first batch: offset 0
    await writer.close()
    again = new_store(LocalState(folder / "state"))
    recovered = await recover(
        again, bootstrap_servers=bootstrap, topic=topic, partitions={0},
        transactional=False, exact_end_offsets=True,
    )  # fmt: skip
    assert recovered.local == {0: 2}  # taken up, then found ahead of the log
    assert dict(again["totals"].items()) == {"0:b": {"mentions": 1}}
    assert recovered.applied == {0: 1}
    assert again.local is not None
    again.local.close()


def test_kafka_framed_copy_ahead_of_a_new_log_is_dropped(kafka_broker: str, tmp_path: Path) -> None:
    asyncio.run(framed_ahead_round(kafka_broker, tmp_path))


def test_kafka_restart_reads_the_local_copy_and_the_tail(kafka_broker: str, tmp_path: Path) -> None:
    asyncio.run(local_round(kafka_broker, tmp_path))


def test_kafka_recovers_whole_transactions_only(kafka_broker: str) -> None:
    asyncio.run(transactional_round(kafka_broker))


@pytest.mark.tansu
def test_tansu_drops_a_batch_without_its_commit(tansu_broker: str) -> None:
    asyncio.run(framed_round(tansu_broker))


def test_kafka_framed_writer_drops_a_batch_without_its_commit(kafka_broker: str) -> None:
    asyncio.run(framed_round(kafka_broker))
