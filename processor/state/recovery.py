"""Reading a partition's changelog into the store: all of it, or the tail after its copy.

A copy of a partition kept across a rebalance, or on disk from an earlier run
(`processor.state.local`), knows the offset it reflects: only records after it are read.
Records are values of keys, not increments, so applying a newer owner's records on top of
an older copy gives the newer state. On Kafka
the reader is `read_committed`: aborted batches are never seen, and the end is the last
stable offset. Without transactions a batch applies when its commit record is read; one cut
short by a crash never does.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from processor.state.records import BATCH_HEADER, COMMIT_HEADER, header
from processor.state.store import StateStore

log = logging.getLogger(__name__)

Change = tuple[int, bytes, bytes | None]  # offset, key, value (None: deleted)


def continues(known: int, beginning: int, end: int, exact_end: bool) -> bool:
    """Whether the changelog (offsets `beginning` to `end`) continues a copy at `known`.

    Not when what follows the copy was deleted, nor when the copy is ahead of the log (a
    topic deleted and made again, a broker restarted empty), which is told only where end
    offsets are exact (not Tansu with multi-record batches).
    """
    return beginning <= known + 1 and not (exact_end and known + 1 > end)


class WholeBatches:
    """Passes changelog records on once their batch is whole.

    On Kafka (`transactional`) a `read_committed` consumer sees whole transactions only, so
    every record passes. Without transactions a batch's records wait for its commit record;
    a batch cut short by a crash never passes.
    """

    def __init__(self, transactional: bool) -> None:
        self.transactional = transactional
        self._waiting: dict[int, dict[bytes, list[Change]]] = defaultdict(dict)

    def take(self, partition: int, records: Iterable[ConsumerRecord[Any, Any]]) -> list[Change]:
        whole: list[Change] = []
        for record in records:
            if record.key is None:
                continue
            if self.transactional:
                whole.append((record.offset, record.key, record.value))
                continue
            batch = header(record.headers, BATCH_HEADER)
            batches = self._waiting[partition]
            batches.setdefault(batch or b"", []).append((record.offset, record.key, record.value))
            commit = header(record.headers, COMMIT_HEADER)
            if commit is not None:
                whole.extend(batches.pop(commit, []))
        return whole

    def pending(self) -> int:
        """Records of batches not (yet) whole."""
        return sum(len(r) for batches in self._waiting.values() for r in batches.values())

    def forget(self, partition: int) -> None:
        self._waiting.pop(partition, None)


@dataclass(frozen=True)
class Recovered:
    """What a recovery read: records applied per partition, dropped (cut-short batches),
    and the partitions taken up from the local copy on disk (with the offset it had)."""

    applied: dict[int, int]
    dropped: int
    seconds: float
    local: dict[int, int] = field(default_factory=dict)

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
    exact_end_offsets: bool | None = None,
    idle_confirm_ms: int = 200,
) -> Recovered:
    """Bring the store's copy of the partitions up to the changelog's end.

    `exact_end_offsets` (default: `transactional`) says the broker's end offsets can be
    trusted (Kafka; Tansu with one record per batch), so that a copy ahead of the log is
    known for one.
    """
    exact = transactional if exact_end_offsets is None else exact_end_offsets
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
    local = store.load(partitions)
    try:
        tps = {partition: TopicPartition(topic, partition) for partition in partitions}
        consumer.assign(list(tps.values()))
        beginnings = await consumer.beginning_offsets(list(tps.values()))
        ends = await consumer.end_offsets(list(tps.values()))
        for partition, tp in tps.items():
            known = store.offsets.get(partition)
            if known is not None and not continues(known, beginnings[tp], ends[tp], exact):
                log.warning(
                    "partition %d: the local copy (offset %d) does not continue the changelog "
                    "(offsets %d-%d); reading it whole", partition, known, beginnings[tp],
                    ends[tp],
                )  # fmt: skip
                store.forget({partition})
                known = None
            consumer.seek(tp, beginnings[tp] if known is None else known + 1)
        whole = WholeBatches(transactional)

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
            fetched = await consumer.getmany(timeout_ms=200 if waiting else idle_confirm_ms)
            if not fetched and not waiting:
                idle_rounds += 1
                continue
            idle_rounds = 0
            for tp, records in fetched.items():
                for offset, key, value in whole.take(tp.partition, records):
                    store.restore(tp.partition, offset, key, value)
                    applied[tp.partition] += 1
        dropped = whole.pending()
    finally:
        await consumer.stop()
    for partition in partitions:
        store.offsets.setdefault(partition, -1)
    store.flush_restored()
    if dropped:
        log.warning(
            "partitions %s: %d changelog records of batches cut short (a crash) ignored",
            sorted(partitions), dropped,
        )  # fmt: skip
    return Recovered(applied, dropped, time.monotonic() - started, local)
