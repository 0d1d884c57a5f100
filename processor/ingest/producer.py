"""Putting v1 events onto their topics, keyed by conversation: one producer, files, lists."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from processor.domain.events import AnyEvent
from processor.settings import Settings


@dataclass
class ProduceReport:
    """What a file produce did, line by line problems included."""

    sent: int = 0
    by_topic: dict[str, int] = field(default_factory=dict)
    unroutable: list[tuple[int, str]] = field(default_factory=list)


class EventProducer:
    """An aiokafka producer that routes events to their topic, keyed by conversation."""

    def __init__(self, settings: Settings, **producer_options: Any) -> None:
        self._topics = {event_type: topic for topic, event_type in settings.input_topics.items()}
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            linger_ms=producer_options.pop("linger_ms", 5),
            max_batch_size=producer_options.pop("max_batch_size", 256 * 1024),
            acks=producer_options.pop("acks", "all"),
            **producer_options,
        )

    async def __aenter__(self) -> EventProducer:
        await self._producer.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._producer.stop()

    def topic_for(self, document: dict[str, Any]) -> str | None:
        event_type = document.get("type")
        return self._topics.get(event_type) if isinstance(event_type, str) else None

    async def send_raw(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Queue one record (returns once it is in the producer's batch)."""
        await self._producer.send(topic, value=value, key=key)

    async def send(self, document: dict[str, Any]) -> str:
        """Queue one event on its topic; raises ValueError when it has no routable type."""
        topic = self.topic_for(document)
        if topic is None:
            raise ValueError(f"unknown event type {document.get('type')!r}")
        await self._producer.send(topic, value=orjson.dumps(document), key=message_key(document))
        return topic

    async def flush(self) -> None:
        await self._producer.flush()


def message_key(document: dict[str, Any]) -> bytes | None:
    """Conversation events are keyed by conversation; contact counts by brand."""
    key = document.get("conversation_id") or document.get("brand")
    return str(key).encode() if key else None


def event_key(event: AnyEvent) -> bytes:
    """`message_key` of a decoded event, without reading its JSON again."""
    return str(getattr(event, "conversation_id", None) or event.brand).encode()


def read_json_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, raw line) of the non-blank lines of a JSON-lines file."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            stripped = line.strip()
            if stripped:
                yield number, stripped


async def produce_file(
    settings: Settings,
    path: Path,
    progress: Callable[[int], None] | None = None,
    speed: float | None = None,
) -> ProduceReport:
    """Send every event of a JSON-lines file to its topic.

    With `speed` None: in file order, as fast as possible (`socialcare produce`). With a
    speed (`socialcare replay`): in event-time order, 0 as fast as possible, 1 in real time,
    N at N times real time, pacing each event by its `occurred_at` from the first one, and
    flushing each half allowed lateness of event time (topics never far apart on the broker).
    Lines that are not JSON objects with a known `type` cannot be routed to a topic; they
    are reported with their line numbers instead of being sent (nothing is dropped silently).
    """
    report = ProduceReport()
    async with EventProducer(settings) as producer:
        routable: list[tuple[float, int, str, bytes | None, bytes]] = []
        for number, line in read_json_lines(path):
            try:
                document = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                report.unroutable.append((number, f"not JSON: {exc}"))
                continue
            topic = producer.topic_for(document) if isinstance(document, dict) else None
            if topic is None:
                kind = document.get("type") if isinstance(document, dict) else None
                report.unroutable.append((number, f"no known event type ({kind!r})"))
                continue
            at = event_time(document) if speed is not None else 0.0
            routable.append((at, number, topic, message_key(document), line))
        if speed is not None:
            routable.sort(key=lambda item: (item[0], item[1]))  # event time, then file order
        started = time.monotonic()
        first_at = next((at for at, *_ in routable if at != float("-inf")), 0.0)
        # The topics' records reach the broker in batches, each topic-partition at its own
        # pace: a fast replay could make a topic visible hours of event time ahead of
        # another, and the workers would find the other's records late. Everything sent
        # is flushed each time event time moves half the allowed lateness on.
        flush_every = max(settings.allowed_lateness_seconds / 2, 1.0)
        flushed_at = first_at
        for at, _, topic, key, line in routable:
            if speed is not None and at - flushed_at >= flush_every:
                await producer.flush()
                flushed_at = at
            if speed and at != float("-inf"):
                delay = (at - first_at) / speed - (time.monotonic() - started)
                if delay > 0:
                    await producer.flush()  # what is due goes out before the pause
                    await asyncio.sleep(delay)
            await producer.send_raw(topic, key, line)
            report.sent += 1
            report.by_topic[topic] = report.by_topic.get(topic, 0) + 1
            if progress is not None:
                progress(1)
        await producer.flush()
    return report


def event_time(document: dict[str, Any]) -> float:
    """`occurred_at` as POSIX seconds; -inf when absent or unreadable (sent first; the
    worker dead-letters it)."""
    value = document.get("occurred_at")
    if not isinstance(value, str):
        return float("-inf")
    try:
        return datetime.fromisoformat(
            value.replace("Z", "+00:00").replace("z", "+00:00")
        ).timestamp()
    except ValueError:
        return float("-inf")


async def produce_events(settings: Settings, events: Iterable[dict[str, Any]]) -> int:
    """Send a finite collection of events and flush; returns how many were sent."""
    sent = 0
    async with EventProducer(settings) as producer:
        for document in events:
            await producer.send(document)
            sent += 1
        await producer.flush()
    return sent
