"""The end of a batch in a worker: each changed partition's records written as one unit.

Per partition: the dead letters and customer contacts of the batch, then the changed keys
of every table, the input progress among them. The unit is a Kafka transaction (or a
framed batch without transactions, `processor.state.writer`), so after a crash the
changelog holds either the whole batch, progress included, or none of it, and the input
from the recorded progress on is processed again. Nothing of a batch is acknowledged to
Faust before its write completes. The write runs while the next batch is processed (the
worker waited on the broker for up to half of its time otherwise); the batch after waits
for it before taking its own changes.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence

from processor.errors import SocialcareError
from processor.metrics.health import HealthMetrics
from processor.state.records import Outgoing
from processor.state.store import StateStore
from processor.state.writer import ChangelogWriter
from processor.stream.interfaces import Committing, committed


class ChangelogWriteFailed(SocialcareError):
    """A batch's changelog write failed: the state in memory is ahead of the changelog."""


class StateCheckpoint:
    """Collects a batch's dead letters and writes them with the store's changes."""

    def __init__(
        self,
        store: StateStore,
        writer: ChangelogWriter,
        dead_letter_topic: str,
        health: HealthMetrics | None = None,
    ) -> None:
        self.store = store
        self.writer = writer
        self.health = health
        self.dead_letter_topic = dead_letter_topic
        self._outbox: dict[int, list[Outgoing]] = defaultdict(list)
        # The batch being written while the next one is processed (at most one).
        self._writing: asyncio.Task[set[int]] | None = None

    async def stage_dead_letter(self, partition: int, key: bytes | None, value: bytes) -> None:
        self._outbox[partition].append(Outgoing(self.dead_letter_topic, key, value))

    def stage(self, partition: int, record: Outgoing) -> None:
        """A record for another topic (a customer contact) in the partition's batch."""
        self._outbox[partition].append(record)

    async def commit(self) -> set[int]:
        """Write the batch; returns the partitions fenced off by their new owner."""
        return await (await self.begin()).lost()

    async def begin(self) -> Committing:
        """Start writing the batch, once the batch before it is written.

        A partition's transactions go one at a time, and a batch's changes build on the
        previous batch's: so the previous write is awaited first (its partitions fenced
        off are left out of this one, the worker gives them up), then this batch's changes
        are taken and written in the background while the next batch is processed. The
        store serves reads from changes taken but not yet on disk, so that processing sees
        every change, written or not. A failed previous write raises here
        (`ChangelogWriteFailed`).
        """
        waited = time.perf_counter()
        fenced_earlier = await self.settle()
        if self.health is not None:
            self.health.write_wait.inc(time.perf_counter() - waited)
        partitions = (self.store.changed_partitions() | set(self._outbox)) - fenced_earlier
        batches = {
            partition: self._outbox.pop(partition, []) + self.store.take_changes(partition)
            for partition in sorted(partitions)
        }
        if not batches:
            return committed(fenced_earlier)
        writing = asyncio.get_running_loop().create_task(self._write(batches))
        self._writing = writing
        return Committing(frozenset(fenced_earlier), writing)

    async def settle(self) -> set[int]:
        """Wait for the batch being written, if any; the partitions it could not write.
        Raises `ChangelogWriteFailed` if the write failed (its records stay
        unacknowledged)."""
        writing = self._writing
        if writing is None:
            return set()
        try:
            # Shielded: a cancelled wait (a stopping agent) leaves the write running, and
            # still in `_writing` for the next wait.
            return set(await asyncio.shield(writing))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise ChangelogWriteFailed(
                f"a batch's changelog write failed ({type(exc).__name__}: {exc})"
            ) from exc
        finally:
            if writing.done() and self._writing is writing:
                self._writing = None

    async def _write(self, batches: Mapping[int, Sequence[Outgoing]]) -> set[int]:
        written = await self.writer.write(batches)
        self.store.persist(written.offsets)
        if self.health is not None:
            changed = [
                record
                for partition, records in batches.items()
                if partition not in written.fenced
                for record in records
                if not record.topic
            ]
            self.health.changelog_records.inc(len(changed))
            self.health.changelog_bytes.inc(sum(record.size for record in changed))
        return written.fenced

    def discard(self, partitions: set[int]) -> None:
        """Dead letters of partitions this worker gave up: their next owner writes them."""
        for partition in partitions:
            self._outbox.pop(partition, None)
