"""The seams of the stream core: what the pipeline needs from Kafka, Redis and the process.

Protocols rather than classes, so the pipeline runs the same over Faust tables and Redis in
a worker and over dicts and sets in unit tests and the micro-benchmark.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any, Protocol

from processor.domain.events import Rejection

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
    """The event-id window: which ids are seen for the first time (and now marked)."""

    async def first_times(self, event_ids: list[str]) -> list[bool]: ...
    async def forget(self, event_ids: list[str]) -> None: ...


class Health(Protocol):
    """Process-local health counters (see `processor.metrics.health.HealthMetrics`)."""

    def processed(self, event_type: str, outcome: str) -> None: ...
    def dead_lettered(self, reason: str) -> None: ...
    def processing_error(self) -> None: ...
    def observe_event(self, event_time: float, produced_at: float | None) -> None: ...


class DeadLetterSink(Protocol):
    """Where rejected input goes, with its original bytes and why (`stream.deadletters`)."""

    async def put(self, message: Message, rejection: Rejection, event_type: str) -> None: ...


class Flushable(Protocol):
    """Tables whose changelog records are sent once per batch."""

    def flush(self) -> None: ...
