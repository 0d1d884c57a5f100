"""Recovery benchmark: how long a worker needs to get its state back, and its memory.

    .venv/bin/python benchmarks/recovery.py [--conversations 50000 1000000] [--bootstrap H:P]

For each size: conversation states (copies of real ones, made by the pipeline from
synthetic traffic) are written to a changelog topic on Apache Kafka (a broker started here,
or --bootstrap), in transactions as a worker writes them. Then, each in a fresh process, as
a worker does on an assignment (`processor.state.recovery.recover`, then the indexes):

- takeover: no local copy (a worker taking over partitions it never held, with no standby
  copy): the whole changelog is read into the local RocksDB copy, then indexed;
- restart: the same worker started again on its local copy: the copy is taken up, the
  changelog after it read (here empty), the partitions indexed.

Each is the time to full totals (for a takeover, after the session timeout that detects
the dead worker). It prints the times, the records per second and the resident memory per
conversation once indexed (the states themselves stay on disk), and what a full garbage
collection then costs (the objects it walks, the pause).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

PARTITIONS = 8


async def sample_states(count: int = 2000) -> list[dict[str, Any]]:
    """Conversation documents as the pipeline stores them, from a synthetic day."""
    from processor.domain.sla import SlaPolicyCache
    from processor.ingest.synthetic import SyntheticTraffic, TrafficProfile
    from processor.settings import Settings
    from processor.stream.deadletters import TopicDeadLetters
    from processor.stream.pipeline import Pipeline
    from processor.stream.tables import Tables
    from processor.tools.backtest.offline import MemoryDedup, NoHealth

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script
    from benchmarks.data import messages_of

    async def nowhere(partition: int, key: bytes | None, value: bytes) -> None: ...

    settings = Settings.model_validate({"clock": "event", "partitions": 1})
    tables = Tables.in_memory()
    pipeline = Pipeline(
        settings, tables=tables, policies=SlaPolicyCache(), dedup=MemoryDedup(),
        health=NoHealth(), dead_letters=TopicDeadLetters(nowhere, NoHealth()),
    )  # fmt: skip
    start = time.time() - 86400
    traffic = SyntheticTraffic(start, seed=3, profile=TrafficProfile(conversations_per_minute=4))
    messages = messages_of(traffic.advance(start + 86400), settings, partitions=1)

    for first in range(0, len(messages), 500):
        await pipeline.handle_batch(messages[first : first + 500])
    states = list(tables.conversations.values())
    return states[:count]


async def write_changelog(
    bootstrap: str, topic: str, conversations: int, console: Console
) -> tuple[int, float]:
    """Write the changelog a worker with this many conversations leaves; (records, bytes/conv)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from processor.state.records import Outgoing, encode_key, encode_value
    from processor.state.writer import TransactionalWriter

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, PARTITIONS, 1,
                                        topic_configs={"cleanup.policy": "compact"})])  # fmt: skip
    await admin.close()
    samples = await sample_states()
    writer = TransactionalWriter(bootstrap, f"bench{uuid.uuid4().hex[:6]}", topic)
    await writer.start(set(range(PARTITIONS)))
    written = 0
    size = 0
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(
            f"changelog of {conversations:,} conversations", total=conversations
        )
        for first in range(0, conversations, 4000):
            batches: dict[int, list[Outgoing]] = {p: [] for p in range(PARTITIONS)}
            for n in range(first, min(first + 4000, conversations)):
                partition = n % PARTITIONS
                state = dict(samples[n % len(samples)], conversation_id=f"bench-{n}",
                             partition=partition)  # fmt: skip
                value = encode_value(state)
                size += len(value)
                key = f"{partition}|{state['conversation_id']}"
                batches[partition].append(Outgoing("", encode_key("conversations", key), value))
            await writer.write(batches)
            written += sum(len(records) for records in batches.values())
            progress.update(task, completed=min(first + 4000, conversations))
    await writer.close()
    return written, size / max(conversations, 1)


def measure_recovery(bootstrap: str, topic: str, data_dir: Path) -> dict[str, float]:
    """In a fresh process: recover every partition and index it; time and memory."""
    code = f"""
import asyncio, json, time
from pathlib import Path
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
from processor.state.local import LocalState
from processor.state.recovery import recover
from processor.state.store import StateStore
from processor.stream.conversations import ConversationStore
from processor.stream.tables import ON_DISK, PARTITION_OF
before = rss()
store = StateStore(PARTITION_OF, LocalState(Path({str(data_dir)!r})), on_disk=ON_DISK)
began = time.monotonic()
recovered = asyncio.run(recover(store, bootstrap_servers={bootstrap!r}, topic={topic!r},
                                partitions=set(range({PARTITIONS})), transactional=True))
read = time.monotonic() - began
after_read = rss()
conversations = ConversationStore(store["conversations"])
conversations.index(set(range({PARTITIONS})))
total = time.monotonic() - began
indexed = sum(len(c) for c in conversations._idle.values())
import gc
gc.collect()
tracked = len(gc.get_objects())
gc_began = time.perf_counter()
gc.collect()
full_gc = time.perf_counter() - gc_began
print(json.dumps({{"records": sum(recovered.applied.values()), "read_seconds": read,
                  "local": len(recovered.local), "seconds": total, "conversations": indexed,
                  "rss_read_bytes": after_read - before, "rss_bytes": rss() - before,
                  "tracked": tracked, "full_gc_seconds": full_gc}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the recovery process failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, nargs="+", default=[50_000, 1_000_000])
    parser.add_argument("--bootstrap", help="an Apache Kafka broker (default: start one here)")
    arguments = parser.parse_args()
    console = Console(stderr=True, width=120)
    broker = None
    bootstrap = arguments.bootstrap
    if bootstrap is None:
        from processor.tools.kafka_broker import start_kafka

        folder = Path(tempfile.mkdtemp(prefix="socialcare-recovery-"))
        console.print(f"starting Apache Kafka in {folder}")
        broker, bootstrap = start_kafka(folder, partitions=PARTITIONS)
    table = Table(title="Recovery to full totals (local RocksDB copy, states on disk)")
    for column in ("conversations", "case", "changelog records read", "bytes/state",
                   "read s", "read+index s", "records/s", "RSS MB", "RSS B/conv.",
                   "GC objects", "full GC ms"):  # fmt: skip
        table.add_column(column, justify="right")
    try:
        for conversations in arguments.conversations:
            topic = f"bench-{uuid.uuid4().hex[:8]}-state-changelog"
            records, state_bytes = asyncio.run(
                write_changelog(bootstrap, topic, conversations, console)
            )
            data_dir = Path(tempfile.mkdtemp(prefix="socialcare-state-")) / "state"
            for case in ("takeover", "restart"):
                console.print(f"{records:,} records written; {case} in a fresh process...")
                result = measure_recovery(bootstrap, topic, data_dir)
                assert result["conversations"] == conversations, result
                assert (result["local"] == PARTITIONS) == (case == "restart"), result
                read = int(result["records"])
                table.add_row(
                    f"{conversations:,}", case, f"{read:,}", f"{state_bytes:,.0f}",
                    f"{result['read_seconds']:.1f}", f"{result['seconds']:.1f}",
                    f"{read / result['read_seconds']:,.0f}", f"{result['rss_bytes'] / 1e6:,.0f}",
                    f"{result['rss_bytes'] / conversations:,.0f}", f"{result['tracked']:,}",
                    f"{result['full_gc_seconds'] * 1e3:,.0f}",
                )  # fmt: skip
            shutil.rmtree(data_dir.parent, ignore_errors=True)
            console.print(table)
    finally:
        if broker is not None:
            broker.stop(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
