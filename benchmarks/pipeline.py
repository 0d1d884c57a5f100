"""Micro benchmark of the processing code alone: no Kafka, no Redis, no Faust.

    .venv/bin/python -m benchmarks.pipeline [--events-per-minute 600] [--minutes 30]
                                            [--thread-posts 2000 --events 20000] [--disk]
                                            [--no-predictions]

Runs `processor.stream.pipeline.Pipeline` over plain dicts for the tables with synthetic events,
in batches of 500 like the agent, and prints events/s and microseconds per event: the cost
of the business logic, to set beside `socialcare bench` (the whole worker).
`--thread-posts N` replaces the synthetic mix with threads of N posts (the bench's long
threads); `--disk` runs over the worker's state store instead of dicts (RocksDB in a
scratch folder, each batch's changes encoded as changelog records and persisted, no
broker) and prints the changelog bytes per event too. The last figure is the clock
checks' heap at the end (about one entry per conversation with a deadline ahead).
`--no-predictions` runs it with `SOCIALCARE_PREDICTIONS=false` (issue 16's share of the
processing: alternate the two). `--result FILE` writes the events and seconds as JSON too
(`benchmarks.parallel` runs copies of it at once: target 3's ceiling on this machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.data import messages_of, thread_events
from processor.domain.sla import SlaPolicyCache
from processor.ingest.synthetic import SyntheticTraffic, TrafficProfile
from processor.settings import Settings
from processor.state.local import LocalState
from processor.state.store import StateStore
from processor.stream.deadletters import TopicDeadLetters
from processor.stream.interfaces import Committing, Message, committed
from processor.stream.pipeline import Pipeline
from processor.stream.tables import ON_DISK, PARTITION_OF, Tables
from processor.stream.worker import tune_garbage_collector
from processor.tools.backtest.offline import MemoryDedup, NoHealth


class LocalCheckpoint:
    """The worker's checkpoint without a broker: changes encoded, persisted to RocksDB."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.offset = 0
        self.records = 0
        self.bytes = 0

    async def commit(self) -> set[int]:
        written = {}
        for partition in sorted(self.store.changed_partitions()):
            records = self.store.take_changes(partition)
            self.records += len(records)
            self.bytes += sum(record.size for record in records)
            self.offset += len(records)
            written[partition] = self.offset
        self.store.persist(written)
        return set()

    async def begin(self) -> Committing:
        return committed(await self.commit())  # the fenced: none, without a broker


async def _nowhere(partition: int, key: bytes | None, value: bytes) -> None: ...


def build(
    settings: Settings, scratch: Path, disk: bool
) -> tuple[Pipeline, LocalCheckpoint | None, LocalState | None]:
    """The pipeline over dicts, or over the worker's state store in `scratch` (`disk`):
    then with its checkpoint and the local state to close."""
    checkpoint = local = None
    tables = Tables.in_memory()
    if disk:
        local = LocalState(scratch / "state")
        store = StateStore(PARTITION_OF, local, on_disk=ON_DISK)
        store.offsets.update({partition: -1 for partition in range(settings.partitions)})
        tables, checkpoint = Tables.of_store(store), LocalCheckpoint(store)
    pipeline = Pipeline(
        settings, tables=tables, policies=SlaPolicyCache(), dedup=MemoryDedup(),
        health=NoHealth(), dead_letters=TopicDeadLetters(_nowhere, NoHealth()),
        checkpoint=checkpoint,
    )  # fmt: skip
    return pipeline, checkpoint, local


async def handle_all(pipeline: Pipeline, messages: list[Message], batch: int = 500) -> None:
    """The messages through the pipeline in batches, as the agent hands them over."""
    for first in range(0, len(messages), batch):
        await pipeline.handle_batch(messages[first : first + batch])


async def run(
    events_per_minute: float,
    minutes: float,
    thread_posts: int,
    events: int,
    disk: bool,
    batch: int = 500,
    predictions: bool = True,
    result: Path | None = None,
) -> None:
    settings = Settings.model_validate(
        {"clock": "event", "partitions": 4, "predictions": predictions}
    )
    if thread_posts:
        documents: list[dict[str, Any]] = thread_events(events, thread_posts, seed=1)
    else:
        start = time.time() - 86400
        profile = TrafficProfile(conversations_per_minute=events_per_minute)
        documents = SyntheticTraffic(start, seed=1, profile=profile).advance(start + minutes * 60)
    messages = messages_of(documents, settings, 4)
    if not messages:
        raise SystemExit("no events to process: give --minutes above 0 (--events with threads)")

    with tempfile.TemporaryDirectory(prefix="socialcare-pipeline-") as scratch:
        pipeline, checkpoint, local = build(settings, Path(scratch), disk)
        began = time.perf_counter()
        await handle_all(pipeline, messages, batch)
        elapsed = time.perf_counter() - began
        store = pipeline.conversations
        checks = sum(len(store.clock_checks(p)) for p in range(settings.partitions))
        if local is not None:
            local.close()
    kind = f"threads of {thread_posts} posts" if thread_posts else "synthetic mix"
    kind += f", batches of {batch}" + ("" if predictions else ", without predictions")
    print(f"{len(messages):,} events ({kind}) in {elapsed:.2f}s: "
          f"{len(messages) / elapsed:,.0f} events/s, "
          f"{elapsed / len(messages) * 1e6:.1f} µs per event"
          + (f", {checkpoint.bytes / len(messages):,.0f} changelog bytes per event"
             if checkpoint is not None else "")
          + f"; {checks:,} clock check entries")  # fmt: skip
    if result is not None:  # for a benchmark running copies of this one (benchmarks.parallel)
        result.write_text(json.dumps({"events": len(messages), "seconds": elapsed}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events-per-minute", type=float, default=600.0,
                        help="synthetic conversations per minute")  # fmt: skip
    parser.add_argument("--minutes", type=float, default=30.0, help="minutes of traffic")
    parser.add_argument("--thread-posts", type=int, default=0,
                        help="threads of this many posts instead of the synthetic mix")  # fmt: skip
    parser.add_argument("--events", type=int, default=20_000, help="events, with --thread-posts")
    parser.add_argument("--disk", action="store_true",
                        help="the worker's state store (RocksDB) instead of dicts")  # fmt: skip
    parser.add_argument("--batch", type=int, default=500,
                        help="events per batch (1: live, each event its own changelog "
                             "records)")  # fmt: skip
    parser.add_argument("--no-predictions", action="store_true",
                        help="SOCIALCARE_PREDICTIONS=false: no predicted CSAT, no breach "
                             "forecast history")  # fmt: skip
    parser.add_argument("--result", type=Path,
                        help="also write the events and seconds to this JSON file")  # fmt: skip
    arguments = parser.parse_args()
    tune_garbage_collector()  # as the worker does
    asyncio.run(run(arguments.events_per_minute, arguments.minutes, arguments.thread_posts,
                    arguments.events, arguments.disk, arguments.batch,
                    not arguments.no_predictions, arguments.result))  # fmt: skip


if __name__ == "__main__":
    main()
