"""Standby copies: the local copy of partitions other workers own, kept up to the changelog.

Kafka Streams' standby tasks, on disk only. A worker follows the changelog of every
partition it does not own and writes it to its local copy (`processor.state.local`), never
to memory. When it takes one of them over (its owner died, or a rebalance moved it), the
recovery finds a copy a few records behind and reads only those: a takeover costs the
session timeout that detects the death, not a replay of the partition's whole state.

Records are applied to the local copy under the worker's lock and only for partitions it
does not hold: a partition being taken over is the recovery's alone. Each write carries
the offset it reaches, as the owner's own writes do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from processor.state.local import LocalState
from processor.state.recovery import WholeBatches, continues
from processor.state.store import StateStore

log = logging.getLogger(__name__)


class StandbyCopies:
    """Follows the changelog of the partitions the store does not hold into the local copy."""

    def __init__(
        self,
        store: StateStore,
        local: LocalState,
        *,
        bootstrap_servers: str,
        topic: str,
        partitions: int,
        transactional: bool,
        lock: asyncio.Lock,
        exact_end_offsets: bool | None = None,
        report: Callable[[int, int], None] = lambda partitions, lag: None,
    ) -> None:
        self.store = store
        self.local = local
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.partitions = partitions
        self.transactional = transactional
        self.exact_end_offsets = transactional if exact_end_offsets is None else exact_end_offsets
        self.lock = lock
        self.report = report
        self._following: dict[int, TopicPartition] = {}
        self._whole = WholeBatches(transactional)
        self._failing = False

    def wanted(self) -> set[int]:
        """Every partition this worker does not hold now."""
        return set(range(self.partitions)) - set(self.store.offsets)

    async def run(self, idle_seconds: float = 0.5) -> None:
        """Follow until cancelled; a broker away is one log line and a retry, not a crash."""
        while True:
            try:
                await self._follow(idle_seconds)
            except asyncio.CancelledError:
                raise
            except (KafkaError, OSError) as exc:
                if not self._failing:
                    log.warning("standby copies paused: %s; retrying", exc)
                self._failing = True
                self._following = {}
                self.report(0, 0)
                await asyncio.sleep(2.0)

    async def _follow(self, idle_seconds: float) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed" if self.transactional else "read_uncommitted",
            max_partition_fetch_bytes=8 * 1_048_576,
        )
        await consumer.start()
        try:
            while True:
                await self._reassign(consumer)
                if not self._following:
                    self.report(0, 0)
                    await asyncio.sleep(idle_seconds)
                    continue
                fetched = await consumer.getmany(
                    timeout_ms=int(idle_seconds * 1000), max_records=5000
                )
                if self._failing:
                    log.info("standby copies following the changelog again")
                    self._failing = False
                async with self.lock:
                    for tp, records in fetched.items():
                        self._apply(tp.partition, self._whole.take(tp.partition, records))
                self.report(len(self._following), await self._lag(consumer))
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()

    def _apply(self, partition: int, changes: list[tuple[int, bytes, bytes | None]]) -> None:
        if not changes or partition in self.store.offsets or partition not in self._following:
            return  # held now: the partition's recovery and batches write its copy
        self.local.write(partition, [(key, value) for _, key, value in changes], changes[-1][0])

    async def _reassign(self, consumer: AIOKafkaConsumer) -> None:
        wanted = self.wanted()
        if wanted == set(self._following):
            return
        for partition in set(self._following) - wanted:
            self._whole.forget(partition)
        self._following = {p: TopicPartition(self.topic, p) for p in sorted(wanted)}
        tps = list(self._following.values())
        consumer.assign(tps)
        if not tps:
            return
        beginnings = await consumer.beginning_offsets(tps)
        ends = await consumer.end_offsets(tps)
        for partition, tp in self._following.items():
            known = self.local.offset(partition)
            if known is not None and not continues(
                known, beginnings[tp], ends[tp], self.exact_end_offsets
            ):
                self.local.forget(partition)
                known = None
            consumer.seek(tp, beginnings[tp] if known is None else known + 1)

    async def _lag(self, consumer: AIOKafkaConsumer) -> int:
        """Records behind the highwater of the last fetch (a commit marker counts as one)."""
        lag = 0
        for tp in self._following.values():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                lag += max(0, highwater - await consumer.position(tp))
        return lag
