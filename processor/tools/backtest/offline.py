"""The pipeline in this process over in-memory tables: the backtests' and benchmarks' engine.

No broker, no Redis: the dedup window is a dict with the same rule (`sighting`), health
numbers go nowhere, dead letters are kept in a list. Events are keyed to partitions with
Kafka's default partitioner and handled in batches, as a worker reading them would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import orjson

from processor.domain.events import Rejection
from processor.domain.identity import Sighting, sighting
from processor.domain.sla import SlaPolicyCache
from processor.metrics.series import SeriesKey, parse_field
from processor.settings import Settings
from processor.stream.customers import partition_for
from processor.stream.interfaces import Checkpoint, Message
from processor.stream.pipeline import Pipeline
from processor.stream.tables import Tables


class MemoryDedup:
    """The Redis window's rule (`sighting`) over a dict: marks kept for good."""

    def __init__(self) -> None:
        self.marks: dict[str, str] = {}

    async def sightings(self, event_ids: list[str], marks: list[str]) -> list[Sighting]:
        verdicts = []
        for event_id, mark in zip(event_ids, marks, strict=True):
            earlier = self.marks.setdefault(event_id, mark)
            verdicts.append(sighting(mark, None if earlier is mark else earlier))
        return verdicts

    async def forget(self, event_ids: list[str]) -> None:
        for event_id in event_ids:
            self.marks.pop(event_id, None)


class NoHealth:
    def processed(self, event_type: str, outcome: str) -> None: ...
    def processed_counts(self, counts: Mapping[tuple[str, str], int]) -> None: ...
    def dead_lettered(self, reason: str) -> None: ...
    def overflowed(self, label: str, events: int) -> None: ...
    def processing_error(self) -> None: ...
    def observe_events(
        self, event_times: Sequence[float], produced_at: Sequence[float | None]
    ) -> None: ...


class KeptDeadLetters:
    """Dead letters kept in a list (a backtest reports them)."""

    def __init__(self) -> None:
        self.letters: list[tuple[Message, Rejection, str]] = []

    async def put(self, message: Message, rejection: Rejection, event_type: str) -> None:
        self.letters.append((message, rejection, event_type))


def offline_pipeline(
    settings: Settings,
    tables: Tables | None = None,
    checkpoint: Checkpoint | None = None,
    dead_letters: KeptDeadLetters | None = None,
) -> Pipeline:
    """A pipeline over in-memory tables (or `tables`) with the default SLA policies."""
    return Pipeline(
        settings,
        tables=tables or Tables.in_memory(),
        policies=SlaPolicyCache(),
        dedup=MemoryDedup(),
        health=NoHealth(),
        dead_letters=dead_letters or KeptDeadLetters(),
        checkpoint=checkpoint,
    )


def messages_of(documents: Iterable[dict[str, Any]], settings: Settings) -> list[Message]:
    """Events as the records a worker reads: topic of their type, partition of their key."""
    topics = {event_type: topic for topic, event_type in settings.input_topics.items()}
    offsets: dict[tuple[str, int], int] = {}
    messages = []
    for document in documents:
        key = str(document["conversation_id"]).encode()
        topic = topics[str(document["type"])]
        partition = partition_for(key, settings.partitions)
        offset = offsets.get((topic, partition), 0)
        offsets[(topic, partition)] = offset + 1
        messages.append(Message(topic, partition, offset, key, orjson.dumps(document), None))
    return messages


async def run_batches(
    pipeline: Pipeline,
    messages: Sequence[Message],
    batch: int = 500,
    progress: Callable[[int], None] = lambda done: None,
) -> None:
    """Hand the records to the pipeline in batches, as the worker's agent does."""
    for first in range(0, len(messages), batch):
        chunk = messages[first : first + batch]
        await pipeline.handle_batch(list(chunk))
        progress(len(chunk))


def totals(pipeline: Pipeline) -> dict[SeriesKey, float]:
    """The all-time series of every partition, summed over partitions (what Prometheus sums)."""
    summed: dict[SeriesKey, float] = {}
    partitions = set(range(pipeline.settings.partitions))
    for _, brand, channel, values in pipeline.view.owned_totals(partitions):
        for field, amount in values.items():
            key = parse_field(brand, channel, field)
            summed[key] = summed.get(key, 0.0) + amount
    return summed
