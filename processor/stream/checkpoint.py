"""The end of a batch in a worker: each changed partition's records written as one unit.

Per partition: the dead letters and customer contacts of the batch, then the changed keys
of every table, the input progress among them. The unit is a Kafka transaction (or a
framed batch without transactions, `processor.state.writer`), so after a crash the
changelog holds either the whole batch, progress included, or none of it, and the input
from the recorded progress on is processed again. Nothing of a batch is acknowledged to
Faust before its write completes. The write runs while the next batch is processed (the
worker waited on the broker for up to half of its time otherwise); the batch after waits
for it before taking its own changes.

A commit interval (`SOCIALCARE_COMMIT_INTERVAL_SECONDS`, Kafka Streams' `commit.interval.ms`
under exactly-once) writes the batches that end within it once: live traffic comes in
fetches of a few events, and a record many events change (the all-time totals of a brand
and channel: every series of the pair) was written whole by each of them. A deferred
batch's changes stay in the store, its dead letters in the outbox, its records
unacknowledged; the next batch past the interval, or the worker's timer, writes them all
in one unit, and every deferred batch completes with that write.

While the worker is catching up (a backlog after an outage, a replay: from an input lag of
`SOCIALCARE_CATCH_UP_LAG_RECORDS` until it is under `SOCIALCARE_CAUGHT_UP_LAG_RECORDS`,
`CatchUp`) the interval is `SOCIALCARE_CATCH_UP_COMMIT_INTERVAL_SECONDS` (1 s) instead:
the records are late already, a write a second later does not make them later by much,
and a conversation changed by several batches of a second is written once (on the bench's
backlog: a third fewer changelog bytes, half the broker's CPU). Caught up, the short
interval again, so live latency is as before.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from functools import partial

from processor.errors import SocialcareError
from processor.metrics.health import HealthMetrics
from processor.state.records import Outgoing
from processor.state.store import StateStore
from processor.state.writer import ChangelogWriter
from processor.stream.interfaces import Committing, committed


class ChangelogWriteFailed(SocialcareError):
    """A batch's changelog write failed: the state in memory is ahead of the changelog."""


class CatchUp:
    """Whether the worker is catching up, from the owned input not processed yet: from
    `start` records behind until fewer than `end`. One threshold left a backlog's tail
    (its last `start` records, a second or more of work) at the live interval, each batch
    its own transaction, at a third of the speed; live traffic never reaches `start`."""

    def __init__(self, start: int, end: int) -> None:
        self.start = start
        self.end = end
        self.catching_up = False

    def update(self, unprocessed: int | None) -> bool:
        """The state after this count (None: no input owned, not catching up)."""
        if unprocessed is None:
            self.catching_up = False
        else:
            self.catching_up = unprocessed >= (self.end if self.catching_up else self.start)
        return self.catching_up


class StateCheckpoint:
    """Collects a batch's dead letters and writes them with the store's changes."""

    def __init__(
        self,
        store: StateStore,
        writer: ChangelogWriter,
        dead_letter_topic: str,
        health: HealthMetrics | None = None,
        interval: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        catch_up_interval: float | None = None,
        catching_up: Callable[[], bool] = lambda: False,
    ) -> None:
        self.store = store
        self.writer = writer
        self.health = health
        self.dead_letter_topic = dead_letter_topic
        self.interval = interval
        self.catch_up_interval = catch_up_interval
        self._catching_up = catching_up
        self._clock = clock
        self._outbox: dict[int, list[Outgoing]] = defaultdict(list)
        # The batch being written while the next one is processed (at most one).
        self._writing: asyncio.Task[set[int]] | None = None
        # When the last write began, and what the batches deferred since wait on.
        self._began = float("-inf")
        self._deferred: asyncio.Future[set[int]] | None = None
        # Partitions a write found fenced off while batches were deferred: those batches
        # processed records of them too, which must not be acknowledged.
        self._fenced_while_deferred: set[int] = set()
        # Once a write failed no later one may start: its changes build on the lost ones.
        self._failure: ChangelogWriteFailed | None = None

    async def stage_dead_letter(self, partition: int, key: bytes | None, value: bytes) -> None:
        self._outbox[partition].append(Outgoing(self.dead_letter_topic, key, value))

    def stage(self, partition: int, record: Outgoing) -> None:
        """A record for another topic (a customer contact) in the partition's batch."""
        self._outbox[partition].append(record)

    async def commit(self) -> set[int]:
        """Write the batch (and any deferred); returns the partitions fenced off by their
        new owner."""
        return await (await self.begin(force=True)).lost()

    def current_interval(self) -> float:
        """The catch-up interval while the input is far behind, else the live one."""
        if self.catch_up_interval is not None and self._catching_up():
            return self.catch_up_interval
        return self.interval

    def overdue(self) -> bool:
        """Deferred batches whose interval is over (the worker's timer writes them)."""
        if self._deferred is None:
            return False
        return self._clock() - self._began >= self.current_interval()

    async def begin(self, force: bool = False) -> Committing:
        """Start writing the batch, once the batch before it is written; or, within the
        commit interval of the last write (and not `force`), defer it to the next write.

        A partition's transactions go one at a time, and a batch's changes build on the
        previous batch's: so the previous write is awaited first (its partitions fenced
        off are left out of this one, the worker gives them up), then this batch's changes
        are taken and written in the background while the next batch is processed. The
        store serves reads from changes taken but not yet on disk, so that processing sees
        every change, written or not. A failed previous write raises here
        (`ChangelogWriteFailed`).
        """
        if self._failure is not None:
            raise self._failure
        if not force and self._clock() - self._began < self.current_interval():
            return self._defer()
        waited = time.perf_counter()
        fenced_earlier = await self._settle_writing()
        if self.health is not None:
            self.health.write_wait.inc(time.perf_counter() - waited)
        left_out = fenced_earlier | self._fenced_while_deferred
        self._fenced_while_deferred = set()
        partitions = (self.store.changed_partitions() | set(self._outbox)) - left_out
        batches = {
            partition: self._outbox.pop(partition, []) + self.store.take_changes(partition)
            for partition in sorted(partitions)
        }
        deferred, self._deferred = self._deferred, None
        if not batches:
            if deferred is not None:  # their partitions fenced off, or nothing changed
                deferred.set_result(left_out)
            return committed(fenced_earlier)
        self._began = self._clock()
        writing = asyncio.get_running_loop().create_task(self._write(batches))
        self._writing = writing
        if deferred is not None:
            writing.add_done_callback(partial(_complete, deferred, frozenset(left_out)))
        return Committing(frozenset(fenced_earlier), writing)

    def _defer(self) -> Committing:
        """The batch left to the next write: what it waits on, and the partitions the
        write before found fenced off if that write is over (a failed one raises)."""
        fenced_earlier: set[int] = set()
        writing = self._writing
        if writing is not None and writing.done():
            self._writing = None
            if writing.cancelled() or writing.exception() is not None:
                cause = writing.exception() if not writing.cancelled() else None
                raise self._failed(cause) from cause
            fenced_earlier = set(writing.result())
            self._fenced_while_deferred |= fenced_earlier
        if self._deferred is None:
            self._deferred = asyncio.get_running_loop().create_future()
        return Committing(frozenset(fenced_earlier), self._deferred)

    async def settle(self) -> set[int]:
        """Write what was deferred, then wait for the batch being written, if any; the
        partitions it could not write. Raises `ChangelogWriteFailed` if the write failed
        (its records stay unacknowledged)."""
        if self._deferred is not None:  # written first (never after a failed write)
            fenced_earlier = (await self.begin(force=True)).fenced_earlier
            return set(fenced_earlier) | await self._settle_writing()
        return await self._settle_writing()

    async def _settle_writing(self) -> set[int]:
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
            raise self._failed(exc) from exc
        finally:
            if writing.done() and self._writing is writing:
                self._writing = None

    def _failed(self, cause: BaseException | None) -> ChangelogWriteFailed:
        """The failure every later write refuses to build on."""
        self._failure = ChangelogWriteFailed(
            f"a batch's changelog write failed ({type(cause).__name__}: {cause})"
        )
        return self._failure

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


def _complete(
    deferred: asyncio.Future[set[int]], left_out: frozenset[int], writing: asyncio.Task[set[int]]
) -> None:
    """The deferred batches complete as the write that took their changes (with the
    partitions fenced off before it, whose changes it left out)."""
    if deferred.done():
        return
    if writing.cancelled():
        deferred.cancel()
    elif writing.exception() is not None:
        deferred.set_exception(writing.exception())  # type: ignore[arg-type]
    else:
        deferred.set_result(set(left_out) | writing.result())
