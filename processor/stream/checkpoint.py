"""The end of a batch in a worker: each changed partition's records written as one unit.

Per partition: the dead letters and customer contacts of the batch, then the changed keys
of every table, the input progress among them. The unit is a Kafka transaction (or a
framed batch without transactions, `processor.state.writer`), so after a crash the
changelog holds either the whole batch, progress included, or none of it, and the input
from the recorded progress on is processed again. Nothing of a batch is acknowledged to
Faust before this returns.
"""

from __future__ import annotations

from collections import defaultdict

from processor.metrics.health import HealthMetrics
from processor.state.records import Outgoing
from processor.state.store import StateStore
from processor.state.writer import ChangelogWriter


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

    async def stage_dead_letter(self, partition: int, key: bytes | None, value: bytes) -> None:
        self._outbox[partition].append(Outgoing(self.dead_letter_topic, key, value))

    def stage(self, partition: int, record: Outgoing) -> None:
        """A record for another topic (a customer contact) in the partition's batch."""
        self._outbox[partition].append(record)

    async def commit(self) -> set[int]:
        """Write the batch; returns the partitions fenced off by their new owner."""
        partitions = self.store.changed_partitions() | set(self._outbox)
        if not partitions:
            return set()
        batches = {
            partition: self._outbox.pop(partition, []) + self.store.take_changes(partition)
            for partition in sorted(partitions)
        }
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
