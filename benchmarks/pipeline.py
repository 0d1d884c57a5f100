"""Micro benchmark of the processing code alone: no Kafka, no Redis, no Faust.

    .venv/bin/python benchmarks/pipeline.py [--events-per-minute 600] [--minutes 30]

Runs `processor.stream.pipeline.Pipeline` over plain dicts for the tables with synthetic events,
in batches of 500 like the agent, and prints events/s and microseconds per event: the cost
of the business logic, to set beside `socialcare bench` (the whole worker).
"""

from __future__ import annotations

import argparse
import asyncio
import time

import orjson

from processor.domain.sla import SlaPolicyCache
from processor.ingest.synthetic import SyntheticTraffic, TrafficProfile
from processor.settings import Settings
from processor.stream.deadletters import TopicDeadLetters
from processor.stream.interfaces import Message
from processor.stream.pipeline import Pipeline
from processor.stream.tables import Tables


class MemoryDedup:
    def __init__(self) -> None:
        self.seen: set[str] = set()

    async def first_times(self, event_ids: list[str], positions: list[str]) -> list[bool]:
        verdicts = [event_id not in self.seen for event_id in event_ids]
        self.seen.update(event_ids)
        return verdicts

    async def forget(self, event_ids: list[str]) -> None:
        self.seen.difference_update(event_ids)


class NoHealth:
    def processed(self, event_type: str, outcome: str) -> None: ...
    def dead_lettered(self, reason: str) -> None: ...
    def processing_error(self) -> None: ...
    def observe_event(self, event_time: float, produced_at: float | None) -> None: ...


async def run(events_per_minute: float, minutes: float) -> None:
    start = time.time() - 86400
    profile = TrafficProfile(conversations_per_minute=events_per_minute)
    documents = SyntheticTraffic(start, seed=1, profile=profile).advance(start + minutes * 60)
    settings = Settings.model_validate({"clock": "event", "partitions": 4})
    topics = {event_type: topic for topic, event_type in settings.input_topics.items()}
    messages = [
        Message(topics[str(doc["type"])], hash(doc["conversation_id"]) % 4, offset,
                str(doc["conversation_id"]).encode(), orjson.dumps(doc), None)
        for offset, doc in enumerate(documents)
    ]  # fmt: skip

    async def nowhere(partition: int, key: bytes | None, value: bytes) -> None: ...

    pipeline = Pipeline(
        settings, tables=Tables.in_memory(), policies=SlaPolicyCache(), dedup=MemoryDedup(),
        health=NoHealth(), dead_letters=TopicDeadLetters(nowhere, NoHealth()),
    )  # fmt: skip
    began = time.perf_counter()
    for first in range(0, len(messages), 500):
        await pipeline.handle_batch(messages[first : first + 500])
    elapsed = time.perf_counter() - began
    print(f"{len(messages):,} events in {elapsed:.2f}s: {len(messages) / elapsed:,.0f} events/s, "
          f"{elapsed / len(messages) * 1e6:.1f} µs per event")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events-per-minute", type=float, default=600.0,
                        help="synthetic conversations per minute")  # fmt: skip
    parser.add_argument("--minutes", type=float, default=30.0, help="minutes of traffic")
    arguments = parser.parse_args()
    asyncio.run(run(arguments.events_per_minute, arguments.minutes))


if __name__ == "__main__":
    main()
