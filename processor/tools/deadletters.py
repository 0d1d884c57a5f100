"""`socialcare deadletters list|republish`: read the dead-letter topic, send originals again.

Reading uses no consumer group (listing commits nothing and disturbs nobody); republishing
sends the original bytes with their original key, so a fixed processor counts them once.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from processor.domain.deadletters import original_value
from processor.domain.events import Rejection
from processor.settings import Settings
from processor.stream.topics import partitions_of


@dataclass(frozen=True)
class DeadLetter:
    """One record of the dead-letter topic: where it sits and its envelope."""

    partition: int
    offset: int
    document: dict[str, Any]

    @property
    def reason(self) -> str:
        return str(self.document.get("reason", "?"))

    @property
    def where(self) -> str:
        return f"{self.partition}:{self.offset}"


@dataclass(frozen=True)
class Selection:
    """Which dead letters a command works on; an empty field selects all."""

    reasons: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()
    event_ids: frozenset[str] = frozenset()
    since: datetime | None = None

    def __call__(self, letter: DeadLetter) -> bool:
        document = letter.document
        if self.reasons and letter.reason not in self.reasons:
            return False
        if self.sources and document.get("source", "topic") not in self.sources:
            return False
        if self.event_ids and document.get("event_id") not in self.event_ids:
            return False
        if self.since is not None:
            stamp = str(document.get("dead_lettered_at", "")).replace("Z", "+00:00")
            try:
                if datetime.fromisoformat(stamp) < self.since:
                    return False
            except ValueError:
                return False
        return True


async def read_dead_letters(
    bootstrap_servers: str, topic: str, progress: Callable[[int], None] | None = None
) -> list[DeadLetter]:
    """Every dead letter from the beginning of the topic to its end at the time of the call.

    No consumer group: listing commits nothing and disturbs nobody. The end is the end
    offsets at the start, confirmed by an empty fetch (a broker may report the end of the
    last batch short; Tansu 0.6 does).
    """
    letters: list[DeadLetter] = []
    partitions = [TopicPartition(topic, p) for p in await partitions_of(bootstrap_servers, topic)]
    if not partitions:
        return letters
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # Dead letters are written in the batch's transaction: an aborted batch's are not.
        isolation_level="read_committed",
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while True:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for records in batch.values():
                for record in records:
                    letters.append(
                        DeadLetter(record.partition, record.offset, _parse(record.value))
                    )
                if progress is not None:
                    progress(sum(len(records) for records in batch.values()))
            reached = all([await consumer.position(tp) >= ends[tp] for tp in partitions])
            if reached and not batch:
                break
    finally:
        await consumer.stop()
    letters.sort(
        key=lambda letter: (
            letter.document.get("dead_lettered_at", ""),
            letter.partition,
            letter.offset,
        )
    )
    return letters


def _parse(value: bytes | None) -> dict[str, Any]:
    try:
        document = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return {"reason": "unreadable_envelope", "detail": "not a dead-letter envelope"}
    return document if isinstance(document, dict) else {"reason": "unreadable_envelope"}


@dataclass
class RepublishReport:
    """What a republish did: per target topic, and every letter left out with why."""

    sent: dict[str, int] = field(default_factory=dict)
    skipped: list[tuple[DeadLetter, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Target:
    """Where a dead letter goes back: a topic, and a partition for internal records."""

    topic: str
    partition: int | None = None  # None: by its key, as the input's producers partition


def republish_target(
    letter: DeadLetter, input_topics: dict[str, str], internal_topics: frozenset[str] = frozenset()
) -> Target | Rejection:
    """Where a dead letter goes back, or why it cannot go back as it is.

    An internal record (a customer contact record: facts a conversation told its customer's
    partition, dead-lettered by a worker that could not read them, such as one of an earlier
    version during an upgrade) goes back to the partition it came from: its key does not
    say where its customers are. Facts told again change nothing already counted.
    """
    document = letter.document
    if document.get("truncated"):
        return Rejection("truncated", "only the head of an oversized input was kept")
    if "original_value_b64" not in document:
        return Rejection("unreadable", "not a dead-letter envelope")
    source_topic = document.get("source_topic")
    if source_topic in internal_topics:
        partition = document.get("source_partition")
        if not isinstance(partition, int):
            return Rejection("unroutable", "an internal record without its source partition")
        return Target(str(source_topic), partition)
    if source_topic in input_topics:
        return Target(str(source_topic))
    # From the webhook with an unknown type, or from a topic no longer configured: route
    # by the event's own type, as the webhook and `socialcare produce` do.
    try:
        event = orjson.loads(original_value(document))
    except orjson.JSONDecodeError:
        return Rejection("unroutable", "the original is not JSON: fix it and send it again")
    by_type = {event_type: topic for topic, event_type in input_topics.items()}
    if isinstance(event, dict) and event.get("type") in by_type:
        return Target(by_type[str(event["type"])])
    return Rejection("unroutable", "no input topic for its type: fix it and send it again")


async def republish(
    settings: Settings,
    letters: list[DeadLetter],
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> RepublishReport:
    """Send the original bytes of dead letters back to their input topics, same key
    (customer contact records to their source partition).

    For after a fix on the processor's side (a larger lateness, a topic configured, a bug
    fixed, every worker upgraded). Valid events already counted come back as duplicates and
    change nothing; events still bad are dead-lettered again. Each record carries a
    `socialcare-republished-from` header (dead-letter topic, partition, offset).
    """
    report = RepublishReport()
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", linger_ms=5,
        max_request_size=max(1_048_576, 2 * settings.max_event_bytes),
    )  # fmt: skip
    if not dry_run:
        await producer.start()
    try:
        for letter in letters:
            target = republish_target(
                letter, settings.input_topics, frozenset({settings.topic_customer_contacts})
            )
            if isinstance(target, Rejection):
                report.skipped.append((letter, target.detail))
                continue
            if not dry_run:
                key = letter.document.get("source_key")
                origin = f"{settings.topic_deadletters}/{letter.partition}/{letter.offset}"
                await producer.send(
                    target.topic,
                    partition=target.partition,
                    value=original_value(letter.document),
                    key=base64.b64decode(key) if key else None,
                    headers=[("socialcare-republished-from", origin.encode())],
                )
            report.sent[target.topic] = report.sent.get(target.topic, 0) + 1
            if progress is not None:
                progress(1)
        if not dry_run:
            await producer.flush()
    finally:
        if not dry_run:
            await producer.stop()
    return report
