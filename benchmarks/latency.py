"""End-to-end latency: with the worker caught up, fresh events at a steady rate.

Latency runs from the record's timestamp at produce to the end of its processing, as the
worker's `socialcare_pipeline_latency_seconds` histogram has it, differenced over the phase.
A raw consumer with the worker's fetch settings (`SOCIALCARE_FETCH_MAX_WAIT_SECONDS`,
`SOCIALCARE_FETCH_MIN_BYTES`) reads the same records alongside: the floor the broker and
the client set, so the worker's own share can be told apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer

from benchmarks.data import latency_events
from benchmarks.harness import (
    REBALANCE_TIMEOUT,
    SCRAPE_INTERVAL,
    SESSION_TIMEOUT,
    STALL_TIMEOUT,
    START_TIMEOUT,
    Advance,
    BenchError,
    BenchRun,
    log_excerpt,
    progress_bar,
)
from benchmarks.worker_metrics import (
    MetricsClient,
    Snapshot,
    bucket_difference,
    histogram_quantile,
    max_bucket,
)
from processor.ingest.producer import EventProducer
from processor.ingest.synthetic import format_event_time
from processor.settings import Settings
from processor.stream.fetch import FetchWait
from processor.stream.topics import ensure_topics
from processor.tools.local_services import ChildProcess

Item = TypeVar("Item")

LATENCY_EVENTS = 5_000
LATENCY_RATE = 500.0  # events/s, capped at half the measured worker throughput


@dataclass
class Latency:
    """End-to-end latency of the latency phase: the worker's histogram and the raw floor."""

    events: int
    rate: float
    observed: float
    p50: float
    p99: float
    mean: float
    max_le: float
    # The same events seen by a raw aiokafka consumer with Faust's fetch settings: the floor
    # that the broker and the client set (exact quantiles, not from buckets).
    probe_p50: float = math.nan
    probe_p99: float = math.nan
    probe_max: float = math.nan
    probe_seen: int = 0
    probe_skipped: int = 0
    probe_fetch: str = ""  # the probe's fetch settings (the worker's)


@dataclass
class Floor:
    """A raw consumer's latency on a broker, fetching as the worker does (exact quantiles):
    what that broker and the client alone cost at the rate."""

    p50: float
    p99: float
    seen: int


class LatencyProbe:
    """A raw aiokafka consumer that times records from their timestamp to their arrival.

    It fetches as the worker's consumer does (its fetch wait and minimum bytes), so that its
    latency is what the broker and the client alone cost, before any Faust or worker code.
    """

    def __init__(self, settings: Settings, group: str) -> None:
        self.fetch = FetchWait.of(settings)
        self.latencies: list[float] = []
        # Tansu 0.6 (memory storage) answers ListOffsets(latest) with the base offset of the
        # last record batch + 1, so a "latest" consumer re-reads the tail of that batch:
        # records stamped before the phase started are skipped (and counted here).
        self.since_ms = math.inf
        self.skipped = 0
        self._consumer = AIOKafkaConsumer(
            *settings.input_topics,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=group,
            auto_offset_reset="latest",
            enable_auto_commit=False,
            fetch_max_wait_ms=self.fetch.max_wait_ms,
            fetch_min_bytes=self.fetch.min_bytes,
            session_timeout_ms=int(SESSION_TIMEOUT * 1000),
            heartbeat_interval_ms=int(SESSION_TIMEOUT * 100),
            rebalance_timeout_ms=int(REBALANCE_TIMEOUT * 1000),
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self, partitions: int) -> None:
        """Join, and fix the positions at the end of the topics before anything is sent."""
        consumer = self._consumer
        await consumer.start()
        deadline = time.monotonic() + START_TIMEOUT
        while len(consumer.assignment()) < partitions:
            records = await consumer.getmany(timeout_ms=100)
            if records:
                raise BenchError("latency probe received records before the phase started")
            if time.monotonic() > deadline:
                raise BenchError("latency probe got no partitions")
        for tp in consumer.assignment():
            await consumer.position(tp)
        self.since_ms = time.time() * 1000
        self._task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=1000)
            now_ms = time.time() * 1000
            for records in batches.values():
                for record in records:
                    if record.timestamp >= self.since_ms:
                        self.latencies.append((now_ms - record.timestamp) / 1000)
                    else:
                        self.skipped += 1

    async def stop(self, expected: int, wait: float = 10.0) -> None:
        """Give it up to `wait` s to see the `expected` records, then leave the group."""
        deadline = time.monotonic() + wait
        while len(self.latencies) < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    def quantile(self, q: float) -> float:
        """Exact, from every latency seen (nearest rank)."""
        ordered = sorted(self.latencies)
        if not ordered:
            return math.nan
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def steadily(items: Sequence[Item], rate: float) -> AsyncIterator[tuple[int, Item]]:
    """The items, numbered, one by one at a steady `rate` a second, as live traffic comes."""
    started = time.perf_counter()
    for number, item in enumerate(items):
        delay = started + number / rate - time.perf_counter()
        if delay > 0.001:
            await asyncio.sleep(delay)
        yield number, item


async def _produce_at_rate(
    settings: Settings, events: list[dict[str, Any]], rate: float, advance: Advance
) -> None:
    """Send at a steady `rate`, stamping each event with the wall clock as it goes out."""
    async with EventProducer(settings) as producer:
        async for number, document in steadily(events, rate):
            document["occurred_at"] = format_event_time(int(time.time() * 1000))
            await producer.send(document)
            if (number + 1) % 100 == 0:
                advance(100)
        await producer.flush()
    advance(len(events) % 100)


async def _wait_until_processed(
    metrics: MetricsClient, worker: ChildProcess, target: float
) -> Snapshot:
    """The first scrape at which the worker has processed `target` events in all."""
    deadline = time.monotonic() + STALL_TIMEOUT
    while True:
        if not worker.alive:
            raise BenchError(
                f"worker exited with code {worker.returncode} in the latency phase; "
                f"{log_excerpt(worker)}"
            )
        after = await metrics.scrape()
        if after is not None and after.processed_total >= target:
            return after
        if time.monotonic() > deadline:
            got = after.processed_total if after is not None else "?"
            raise BenchError(f"worker did not catch up in the latency phase ({got} of {target})")
        await asyncio.sleep(SCRAPE_INTERVAL)


async def latency_phase(
    settings: Settings,
    metrics: MetricsClient,
    worker: ChildProcess,
    before: Snapshot,
    events: list[dict[str, Any]],
    rate: float,
    advance: Advance,
    probe: LatencyProbe,
) -> Latency:
    """Produce `events` at `rate`/s with fresh occurred_at; latency from the histogram."""
    target = before.processed_total + len(events)
    await probe.start(len(settings.input_topics) * settings.partitions)
    after: Snapshot | None = None
    try:
        await _produce_at_rate(settings, events, rate, advance)
        after = await _wait_until_processed(metrics, worker, target)
    finally:
        await probe.stop(len(events) if after is not None else 0)
    buckets = bucket_difference(before, after)
    observed = after.latency_count - before.latency_count
    mean = (after.latency_sum - before.latency_sum) / observed if observed else math.nan
    return Latency(
        events=len(events),
        rate=rate,
        observed=observed,
        p50=histogram_quantile(0.5, buckets),
        p99=histogram_quantile(0.99, buckets),
        mean=mean,
        max_le=max_bucket(buckets),
        probe_p50=probe.quantile(0.5),
        probe_p99=probe.quantile(0.99),
        probe_max=probe.quantile(1.0),
        probe_seen=len(probe.latencies),
        probe_skipped=probe.skipped,
        probe_fetch=f"fetch_max_wait_ms={probe.fetch.max_wait_ms}, "
        f"fetch_min_bytes={probe.fetch.min_bytes:,} as the worker",
    )


async def fresh_latency(
    bench: BenchRun,
    settings: Settings,
    metrics: MetricsClient,
    worker: ChildProcess,
    caught_up: Snapshot,
    rate: float,
    count: int,
    seed: int,
    tag: str,
) -> Latency:
    """`count` fresh events (ids prefixed `<tag>-<run>-`) at `rate`/s through the caught-up
    worker, a raw probe reading them alongside; the phase's latency."""
    fresh = latency_events(count, seed=seed, prefix=f"{tag}-{bench.run_id}-")
    bench.console.print(f"{tag} phase: {count:,} fresh events at {rate:,.0f}/s")
    probe = LatencyProbe(settings, f"{bench.app_id}-probe-{tag}")
    with progress_bar(bench.console, f"{tag} phase (sent)", count) as advance:
        return await latency_phase(
            settings, metrics, worker, caught_up, fresh, rate, advance, probe
        )


async def probe_floor(
    bench: BenchRun, settings: Settings, name: str, rate: float, count: int, seed: int
) -> Floor:
    """`count` fresh events at `rate`/s to `settings`' broker (its own topics), read by a
    raw probe with the worker's fetch settings and no worker: the broker's floor."""
    await ensure_topics(settings, timeout=30.0)
    fresh = latency_events(count, seed=seed, prefix=f"floor-{bench.run_id}-")
    probe = LatencyProbe(settings, f"{settings.app_id}-floor")
    await probe.start(len(settings.input_topics) * settings.partitions)
    seen = False
    try:
        with progress_bar(bench.console, f"{name} floor (sent)", count) as advance:
            await _produce_at_rate(settings, fresh, rate, advance)
        seen = True
    finally:
        await probe.stop(count if seen else 0)
    return Floor(probe.quantile(0.5), probe.quantile(0.99), len(probe.latencies))
