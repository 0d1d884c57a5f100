"""The seams of the stream core: what the pipeline needs from Kafka, Redis and the process.

Protocols rather than classes, so the pipeline runs the same over Faust tables and Redis in
a worker and over dicts and sets in unit tests and the micro-benchmark.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from processor.domain.events import Rejection
from processor.domain.identity import Sighting

Table = MutableMapping[Any, Any]


@dataclass(frozen=True, slots=True)
class Message:
    """The parts of a Kafka record the pipeline needs."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float | None = None


class Dedup(Protocol):
    """The event-id window: what is known of each id (and now marked).

    `marks` are "topic/partition/offset content-digest" of the records carrying the ids: a
    record processed again after a crash finds its own mark; a re-sent copy finds one with
    the same digest; another event reusing the id, one with another digest. None when the
    window cannot answer (Redis unreachable): the state's own ids still dedup exactly.
    """

    async def sightings(self, event_ids: list[str], marks: list[str]) -> list[Sighting] | None: ...
    async def forget(self, event_ids: list[str]) -> None: ...


class Health(Protocol):
    """Process-local health counters (see `processor.metrics.health.HealthMetrics`)."""

    def processed(self, event_type: str, outcome: str) -> None: ...
    def processed_counts(self, counts: Mapping[tuple[str, str], int]) -> None: ...
    def dead_lettered(self, reason: str) -> None: ...
    def overflowed(self, label: str, events: int) -> None: ...
    def processing_error(self) -> None: ...
    def observe_events(
        self, event_times: Sequence[float], produced_at: Sequence[float | None]
    ) -> None: ...


class DeadLetterSink(Protocol):
    """Where rejected input goes, with its original bytes and why (`stream.deadletters`)."""

    async def put(self, message: Message, rejection: Rejection, event_type: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Committing:
    """A batch whose write has started.

    `fenced_earlier`: partitions the batch before it could not write (another worker owns
    them now); nothing of them was taken into this write and the worker gives them up.
    `written` completes with the partitions this write could not write, once the rest is
    durable: only then may the batch's records be acknowledged."""

    fenced_earlier: frozenset[int]
    written: asyncio.Future[set[int]]

    async def lost(self) -> set[int]:
        """Once written: every partition whose records must not be acknowledged."""
        return set(self.fenced_earlier) | await self.written


def committed(fenced_earlier: Iterable[int] = ()) -> Committing:
    """Nothing (more) to write: a write already complete."""
    done: asyncio.Future[set[int]] = asyncio.get_running_loop().create_future()
    done.set_result(set())
    return Committing(frozenset(fenced_earlier), done)


class Checkpoint(Protocol):
    """The end of a batch: the state's changes, progress and dead letters made durable."""

    async def commit(self) -> set[int]:
        """Write them; returns the partitions whose batch another worker fenced off."""
        ...

    async def begin(self) -> Committing:
        """Start writing them (the next batch may be processed meanwhile)."""
        ...


class NoCheckpoint:
    """Unit tests and the micro-benchmark: the tables are the whole truth."""

    async def commit(self) -> set[int]:
        return set()

    async def begin(self) -> Committing:
        return committed()
