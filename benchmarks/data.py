"""The benchmark's data: a synthetic backlog, the latency phase's fresh events, producing them.

Every consumer in a run reads the same backlog, so their events/s compare like with like.
"""

from __future__ import annotations

import time
import zlib
from datetime import UTC, datetime
from typing import Any

import orjson

from benchmarks.harness import Advance
from processor.ingest.producer import EventProducer
from processor.ingest.synthetic import SyntheticTraffic, TrafficProfile
from processor.settings import Settings
from processor.stream.interfaces import Message

# The backlog is dense (20x the default profile): ~50,000 events span ~25 minutes of event
# time and end a few minutes before now, a realistic burst for one worker to work through.
BACKLOG_CONVERSATIONS_PER_MINUTE = 600.0
EVENTS_PER_CONVERSATION = 3.2  # measured mean of the synthetic profile


def messages_of(
    documents: list[dict[str, Any]], settings: Settings, partitions: int
) -> list[Message]:
    """The documents, in their order, as records of their topics, keyed and partitioned by
    conversation (in-process benchmarks: the pipeline without a broker)."""
    topics = {kind: topic for topic, kind in settings.input_topics.items()}
    messages = []
    for offset, document in enumerate(documents):
        key = str(document["conversation_id"]).encode()
        topic = topics[str(document["type"])]
        messages.append(
            Message(topic, zlib.crc32(key) % partitions, offset, key, orjson.dumps(document))
        )
    return messages


def _generate(count: int, seed: int, start: float) -> list[dict[str, Any]]:
    profile = TrafficProfile(conversations_per_minute=BACKLOG_CONVERSATIONS_PER_MINUTE)
    traffic = SyntheticTraffic(start=start, seed=seed, profile=profile)
    events: list[dict[str, Any]] = []
    until = start
    while len(events) < count:
        until += 60.0
        events.extend(traffic.advance(until))
    return events[:count]


def backlog_events(count: int, seed: int, ending: float | None = None) -> list[dict[str, Any]]:
    """`count` synthetic v1 events in event-time order, ending a few minutes before `ending`
    (now by default; a fixed one gives the same events at every run)."""
    per_second = BACKLOG_CONVERSATIONS_PER_MINUTE * EVENTS_PER_CONVERSATION / 60.0
    span = count / per_second * 1.5 + 600.0
    return _generate(count, seed, start=(time.time() if ending is None else ending) - span)


def latency_events(count: int, seed: int, prefix: str) -> list[dict[str, Any]]:
    """Fresh conversations for the latency phase: ids prefixed (unique against the backlog);
    `occurred_at` is stamped with the wall clock when each one is sent."""
    events = _generate(count, seed, start=time.time() - 86_400.0)
    for event in events:
        for key in ("event_id", "conversation_id", "in_reply_to"):
            if isinstance(event.get(key), str):
                event[key] = f"{prefix}{event[key]}"
    return events


async def produce(settings: Settings, events: list[dict[str, Any]], advance: Advance) -> float:
    """Send the events in order with the product's producer (acks=all), flush; returns the
    seconds it took."""
    async with EventProducer(settings) as producer:
        started = time.perf_counter()
        for number, document in enumerate(events, start=1):
            await producer.send(document)
            if number % 1000 == 0:
                advance(1000)
        await producer.flush()
        elapsed = time.perf_counter() - started
    advance(len(events) % 1000)
    return elapsed


# Long threads: one customer writes, a human agent answers, every 30 s of event time; every
# 100th reply resolves the thread and the next customer post reopens it.
THREAD_POST_INTERVAL = 30.0


def thread_events(count: int, posts_per_thread: int, seed: int) -> list[dict[str, Any]]:
    """`count` events of threads `posts_per_thread` posts long, all threads in parallel,
    interleaved in event-time order and ending a few minutes before now."""
    threads = max(1, -(-count // posts_per_thread))
    span = posts_per_thread * THREAD_POST_INTERVAL
    start = time.time() - span - 600.0
    brands = TrafficProfile().brands
    events: list[tuple[float, dict[str, Any]]] = []
    for thread in range(threads):
        conversation = f"thread-{seed}-{thread}"
        brand = brands[thread % len(brands)]
        opened = start + thread * THREAD_POST_INTERVAL / threads
        for post in range(posts_per_thread):
            at = opened + post * THREAD_POST_INTERVAL
            document: dict[str, Any] = {
                "event_id": f"{conversation}-{post}", "conversation_id": conversation,
                "occurred_at": _iso(at), "brand": brand, "channel": "twitter",
                "schema_version": 1,
            }  # fmt: skip
            if post % 2 == 0:
                document |= {"type": "mention", "author_id": f"cust-{thread}",
                             "text": "still waiting on this", "sentiment": -0.2}  # fmt: skip
            else:
                document |= {"type": "reply", "agent_id": "agent-1", "team": "care",
                             "in_reply_to": conversation, "text": "looking into it",
                             "automated": False, "resolves": post % 200 == 199}  # fmt: skip
            events.append((at, document))
    events.sort(key=lambda pair: pair[0])
    return [document for _, document in events[:count]]


def _iso(at: float) -> str:
    return (
        datetime.fromtimestamp(at, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )
