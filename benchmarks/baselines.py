"""The two baselines the worker is set against, on the same backlog.

A: a bare aiokafka consumer that reads without decoding: what the broker and the client can
   deliver at most on this machine.
B: a Faust agent that only iterates its stream (`benchmarks.noop_agent`, own process): what
   Faust itself costs before any of our code runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import sys
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from benchmarks.harness import (
    REBALANCE_TIMEOUT,
    SCRAPE_INTERVAL,
    SESSION_TIMEOUT,
    SOURCE_ROOT,
    STALL_TIMEOUT,
    START_TIMEOUT,
    Advance,
    BenchError,
    BenchRun,
    CpuMeter,
    CpuReading,
    log_excerpt,
)
from processor.settings import Settings


async def raw_consume(
    settings: Settings, count: int, group: str, advance: Advance, meter: CpuMeter
) -> tuple[float, dict[str, float]]:
    """Read `count` records with a bare aiokafka consumer (a fresh group), without decoding.

    The partitions are paused as they are assigned, so the group join is not timed: the clock
    starts when they are resumed and stops at the `count`-th record.
    Returns (events/s, CPU use of the processes while reading).
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=int(SESSION_TIMEOUT * 1000),
        heartbeat_interval_ms=int(SESSION_TIMEOUT * 100),
        rebalance_timeout_ms=int(REBALANCE_TIMEOUT * 1000),
    )
    expected = len(settings.input_topics) * settings.partitions
    assigned: set[TopicPartition] = set()

    class PauseOnAssign(ConsumerRebalanceListener):  # type: ignore[misc]
        async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
            assigned.difference_update(revoked)

        async def on_partitions_assigned(self, partitions: set[TopicPartition]) -> None:
            consumer.pause(*partitions)
            assigned.update(partitions)

    await consumer.start()
    try:
        consumer.subscribe(list(settings.input_topics), listener=PauseOnAssign())
        deadline = time.monotonic() + START_TIMEOUT
        while len(assigned) < expected:
            await consumer.getmany(timeout_ms=100)  # drives the join; paused: no records
            if time.monotonic() > deadline:
                raise BenchError(f"raw consumer got {len(assigned)} of {expected} partitions")
        seen = 0
        cpu_before = meter.read()
        started = time.perf_counter()
        consumer.resume(*assigned)
        last_progress = time.monotonic()
        while seen < count:
            batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
            got = sum(len(records) for records in batches.values())
            now = time.monotonic()
            if got:
                seen += got
                advance(got)
                last_progress = now
            elif now - last_progress > STALL_TIMEOUT:
                raise BenchError(f"raw consumer stalled at {seen} of {count} records")
        elapsed = time.perf_counter() - started
        cpu = CpuMeter.usage(cpu_before, meter.read())
    finally:
        await consumer.stop()
    if seen > count:
        raise BenchError(f"raw consumer read {seen} records, expected {count}")
    return (count / elapsed if elapsed > 0 else math.inf), cpu


async def noop_agent(
    bench: BenchRun, settings: Settings, count: int, app_id: str, advance: Advance
) -> tuple[float, float, dict[str, float]]:
    """Baseline B in a subprocess: (events/s, seconds from start to first event, CPU use).

    The agent writes its progress and, at the `count`-th event, its own timing to files: its
    clock starts at its first event, so neither process start nor group join is timed.
    """
    out = bench.workdir / f"{app_id}-result.json"
    progress_file = bench.workdir / f"{app_id}-progress"
    argv = [
        sys.executable, "-m", "benchmarks.noop_agent",
        "--bootstrap", settings.kafka_bootstrap_servers,
        "--topics", ",".join(settings.input_topics),
        "--partitions", str(settings.partitions),
        "--events", str(count),
        "--app-id", app_id,
        "--out", str(out),
        "--progress", str(progress_file),
    ]  # fmt: skip
    python_path = os.pathsep.join(filter(None, [str(SOURCE_ROOT), os.environ.get("PYTHONPATH")]))
    started = time.monotonic()
    started_wall = time.time()
    agent = bench.start("faust-noop", argv, {"PYTHONPATH": python_path})
    try:
        shown = 0
        cpu_before: CpuReading | None = None
        last_change = started
        while not out.exists():
            if not agent.alive and not out.exists():
                raise BenchError(
                    f"Faust no-op agent exited with code {agent.returncode}; {log_excerpt(agent)}"
                )
            with contextlib.suppress(OSError, ValueError):
                done = int(progress_file.read_text() or 0)
                if done > shown:
                    advance(done - shown)
                    shown = done
                    last_change = time.monotonic()
                    if cpu_before is None:
                        cpu_before = bench.meter.read()
            waited = time.monotonic() - last_change
            if waited > (STALL_TIMEOUT if shown else START_TIMEOUT):
                raise BenchError(
                    f"Faust no-op agent stalled at {shown} of {count} events; {log_excerpt(agent)}"
                )
            await asyncio.sleep(SCRAPE_INTERVAL)
        cpu_after = bench.meter.read()
        result: dict[str, Any] = json.loads(out.read_text())
        advance(count - shown)
    finally:
        agent.stop(timeout=10)
    seconds = float(result["seconds"])
    startup = float(result["first_at"]) - started_wall
    cpu = CpuMeter.usage(cpu_before, cpu_after) if cpu_before is not None else {}
    cpu["faust-noop"] = float(result["cpu_seconds"]) / seconds if seconds > 0 else math.nan
    return ((count - 1) / seconds if seconds > 0 else math.inf), startup, cpu
