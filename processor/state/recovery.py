"""Reading a partition's changelog into the store: all of it, or the tail after its copy.

A copy of a partition kept across a rebalance (or, later, on disk) knows the offset it
reflects: only records after it are read. Records are values of keys, not increments, so
applying a newer owner's records on top of an older copy gives the newer state. On Kafka
the reader is `read_committed`: aborted batches are never seen, and the end is the last
stable offset. Without transactions a batch applies when its commit record is read; one cut
short by a crash never does.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from processor.state.records import BATCH_HEADER, COMMIT_HEADER, header
from processor.state.store import StateStore

log = logging.getLogger(__name__)

Pending = list[tuple[int, bytes, bytes | None]]


@dataclass(frozen=True)
class Recovered:
    """What a recovery read: records applied per partition, dropped (cut-short batches)."""

    applied: dict[int, int]
    dropped: int
    seconds: float

    @property
    def changed(self) -> set[int]:
        """The partitions whose copy read at least one record."""
        return {partition for partition, count in self.applied.items() if count}


async def recover(
    store: StateStore,
    *,
    bootstrap_servers: str,
    topic: str,
    partitions: set[int],
    transactional: bool,
    idle_confirm_ms: int = 200,
) -> Recovered:
    """Bring the store's copy of the partitions up to the changelog's end."""
    started = time.monotonic()
    if not partitions:
        return Recovered({}, 0, 0.0)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed" if transactional else "read_uncommitted",
        max_partition_fetch_bytes=8 * 1_048_576,
        fetch_max_bytes=64 * 1_048_576,
    )
    await consumer.start()
    applied = dict.fromkeys(partitions, 0)
    dropped = 0
    try:
        tps = {partition: TopicPartition(topic, partition) for partition in partitions}
        consumer.assign(list(tps.values()))
        beginnings = await consumer.beginning_offsets(list(tps.values()))
        for partition, tp in tps.items():
            known = store.offsets.get(partition)
            if known is None or known + 1 < beginnings[tp]:
                if known is not None:  # the log no longer holds what follows the copy
                    store.drop({partition})
                consumer.seek(tp, beginnings[tp])
            else:
                consumer.seek(tp, known + 1)
        ends = await consumer.end_offsets(list(tps.values()))
        pending: dict[int, dict[bytes, Pending]] = defaultdict(dict)

        async def behind() -> bool:
            for tp in tps.values():
                if await consumer.position(tp) < ends[tp]:
                    return True
            return False

        idle_rounds = 0
        while True:
            waiting = await behind()
            # Past the reported end: some brokers (Tansu 0.6) report it short, so there a
            # quiet fetch confirms that nothing more follows.
            if not waiting and (transactional or idle_rounds >= 1):
                break
            fetched = await consumer.getmany(timeout_ms=1000 if waiting else idle_confirm_ms)
            if not fetched and not waiting:
                idle_rounds += 1
                continue
            idle_rounds = 0
            for tp, records in fetched.items():
                for record in records:
                    if record.key is None:
                        continue
                    if transactional:
                        store.restore(tp.partition, record.offset, record.key, record.value)
                        applied[tp.partition] += 1
                        continue
                    batch = header(record.headers, BATCH_HEADER)
                    batches = pending[tp.partition]
                    batches.setdefault(batch or b"", []).append(
                        (record.offset, record.key, record.value)
                    )
                    commit = header(record.headers, COMMIT_HEADER)
                    if commit is not None:
                        for offset, key, value in batches.pop(commit, []):
                            store.restore(tp.partition, offset, key, value)
                            applied[tp.partition] += 1
        dropped = sum(len(r) for batches in pending.values() for r in batches.values())
    finally:
        await consumer.stop()
    for partition in partitions:
        store.offsets.setdefault(partition, -1)
    if dropped:
        log.warning(
            "partitions %s: %d changelog records of batches cut short (a crash) ignored",
            sorted(partitions), dropped,
        )  # fmt: skip
    return Recovered(applied, dropped, time.monotonic() - started)
