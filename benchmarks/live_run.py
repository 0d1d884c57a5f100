"""One live run: fresh events at a steady rate through a worker that owns its partitions.

On topics of its own (so nothing of an earlier run is read), once the worker owns its
partitions, its first ticks and timers are past and three seconds of the same traffic went
through it untimed (a fresh partition's first records wait the alignment's settle time
once): the worker's CPU per event and in
cores, the broker's cores, changelog bytes and records per event, records per batch, and
the end-to-end latency (`socialcare_pipeline_latency_seconds`) beside a raw consumer's.
The comparisons of a setting (`benchmarks.commit_interval`, `benchmarks.fetch_wait`)
alternate such runs.
"""

from __future__ import annotations

import asyncio
import logging
import math
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import AliasChoices
from rich.console import Console

from benchmarks.data import latency_events
from benchmarks.harness import BenchError, BenchRun, cpu_seconds, progress_bar
from benchmarks.latency import Latency, LatencyProbe, latency_phase
from benchmarks.target_phases import owning, variant
from benchmarks.worker_metrics import MetricsClient, Snapshot
from benchmarks.worker_run import start_worker
from processor.settings import Settings
from processor.stream.topics import ensure_topics
from processor.tools.local_services import ChildProcess, stop_all

T = TypeVar("T")


def alternated(settings: tuple[T, T], rounds: int) -> list[T]:
    """`a, b, b, a, a, b, ...`: neither setting always runs first or in the same minute
    (this machine's speed drifts by a quarter from minute to minute)."""
    first, second = settings
    pairs = ((first, second) if n % 2 == 0 else (second, first) for n in range(rounds))
    return [value for pair in pairs for value in pair]


@dataclass(frozen=True)
class LiveRun:
    """One live run's figures."""

    label: str
    rate: float  # events/s sent
    cpu_per_event: float  # µs of the worker's CPU
    worker_cores: float
    broker_cores: float
    changelog_bytes: float  # per event
    changelog_records: float  # per event
    batch_records: float  # records per batch of the pipeline, on average
    p50: float  # seconds
    p99: float
    probe_p50: float  # a raw consumer with the run's fetch settings


def variable_of(field: str) -> str:
    """The environment variable of a settings field."""
    alias = Settings.model_fields[field].validation_alias
    assert isinstance(alias, AliasChoices), field
    return str(alias.choices[0])


async def scrape(metrics: MetricsClient) -> Snapshot:
    snapshot = await metrics.scrape()
    if snapshot is None:
        raise BenchError("the worker's /metrics did not answer")
    return snapshot


def per_event(after: Snapshot, before: Snapshot) -> tuple[float, float, float]:
    """Events processed between two snapshots, and changelog bytes and records per event."""
    processed = after.processed_total - before.processed_total
    if processed <= 0:
        raise BenchError("the worker processed nothing in the run")
    return (
        processed,
        (after.changelog_bytes - before.changelog_bytes) / processed,
        (after.changelog_records - before.changelog_records) / processed,
    )


@dataclass
class Window:
    """What a run measured between two scrapes of its worker."""

    before: Snapshot
    after: Snapshot
    elapsed: float  # seconds
    worker_cpu: float  # seconds
    broker_cpu: float  # seconds, NaN if the broker is not a child of the bench

    @property
    def batches(self) -> float:
        return self.after.batches - self.before.batches

    def records_per_batch(self) -> float:
        held = self.after.batch_records - self.before.batch_records
        return held / self.batches if self.batches else math.nan


# Seconds of live traffic each live run sends before its timed window.
WARM_UP_SECONDS = 3.0


async def measured(
    bench: BenchRun,
    settings: Settings,
    name: str,
    fields: dict[str, Any],
    during: Callable[[Settings, MetricsClient, ChildProcess, Snapshot], Awaitable[T]],
    warm_up: Callable[[Settings, MetricsClient, ChildProcess, Snapshot], Awaitable[object]]
    | None = None,
) -> tuple[T, Window]:
    """A worker on topics of its own, its settings changed by `fields` (passed as their
    environment variables), once it owns its partitions (and `warm_up` ran, untimed):
    `during` runs, timed, between two scrapes."""
    app = variant(settings, bench, name).model_copy(update=fields)
    await ensure_topics(app, timeout=30.0)
    env = {variable_of(field): str(value) for field, value in fields.items()}
    worker = start_worker(bench, app, name, env)
    metrics = MetricsClient(app.metrics_port)
    broker = bench.meter.pids.get(bench.broker)
    try:
        await owning([metrics], [worker], app.partitions)
        await asyncio.sleep(2.0)  # the first ticks and timers, out of the timed window
        if warm_up is not None:
            await warm_up(app, metrics, worker, await scrape(metrics))
        before = await scrape(metrics)
        started = time.monotonic()
        cpu_before = cpu_seconds(worker.pid)
        broker_before = math.nan if broker is None else cpu_seconds(broker)
        result = await during(app, metrics, worker, before)
        after = await scrape(metrics)
        cpu = cpu_seconds(worker.pid) - cpu_before
        broker_cpu = math.nan if broker is None else cpu_seconds(broker) - broker_before
        elapsed = time.monotonic() - started
    finally:
        await metrics.close()
    worker.stop(timeout=10)
    return result, Window(before, after, elapsed, cpu, broker_cpu)


async def live_run(
    bench: BenchRun,
    settings: Settings,
    name: str,
    label: str,
    fields: dict[str, Any],
    rate: float,
    count: int,
    seed: int,
) -> LiveRun:
    """`count` fresh events at `rate`/s through a worker whose settings differ from
    `settings` by `fields` (the raw consumer fetches with them too)."""

    def sending(events: int, tag: str) -> Callable[..., Awaitable[Latency]]:
        async def send(
            app: Settings, metrics: MetricsClient, worker: ChildProcess, before: Snapshot
        ) -> Latency:
            fresh = latency_events(events, seed=seed, prefix=f"{name}{tag}-{bench.run_id}-")
            probe = LatencyProbe(app, f"{app.app_id}-probe{tag}")
            with progress_bar(bench.console, f"live {label}{tag}, {rate:,.0f}/s", events) as go:
                return await latency_phase(app, metrics, worker, before, fresh, rate, go, probe)

        return send

    # A few seconds of traffic first, untimed: a fresh partition's first records wait the
    # alignment's settle time once (nothing on it is settled yet), which is a start-up
    # cost, not the live latency compared here.
    warm_up = sending(max(20, round(rate * WARM_UP_SECONDS)), "-warm-up")
    latency, window = await measured(bench, settings, name, fields, sending(count, ""), warm_up)
    processed, bytes_, records = per_event(window.after, window.before)
    return LiveRun(
        label, rate, window.worker_cpu / processed * 1e6, window.worker_cpu / window.elapsed,
        window.broker_cpu / window.elapsed, bytes_, records, window.records_per_batch(),
        latency.p50, latency.p99, latency.probe_p50,
    )  # fmt: skip


@dataclass(frozen=True)
class IdleRun:
    """A worker owning its partitions with no input: what it costs to wait."""

    label: str
    worker_cores: float
    broker_cores: float
    batches_per_second: float  # the clock ticks' batches


async def idle_run(
    bench: BenchRun, settings: Settings, name: str, label: str, fields: dict[str, Any],
    seconds: float,
) -> IdleRun:  # fmt: skip
    """A worker (settings changed by `fields`) with no input for `seconds`."""

    async def wait(*_: object) -> None:
        await asyncio.sleep(seconds)

    _, window = await measured(bench, settings, name, fields, wait)
    return IdleRun(
        label, window.worker_cpu / window.elapsed, window.broker_cpu / window.elapsed,
        window.batches / window.elapsed,
    )  # fmt: skip


def run_comparison(
    broker: str, prefix: str, compare: Callable[[BenchRun], Coroutine[Any, Any, None]]
) -> int:
    """A comparison's command: its services and workers under a scratch directory, a
    failure said in one line with where the logs are (exit status 1), all stopped after."""
    for noisy in ("aiokafka", "processor.stream.topics"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    console = Console(stderr=True)
    bench = BenchRun(console, Path(tempfile.mkdtemp(prefix=prefix)), broker)
    try:
        asyncio.run(compare(bench))
    except BenchError as exc:
        console.print(f"[red]benchmark failed:[/red] {exc} (logs in {bench.workdir})")
        return 1
    finally:
        stop_all(bench.children, timeout=10)
    return 0


def describe_idle(run: IdleRun) -> str:
    return (
        f"idle, {run.label}: worker {run.worker_cores:.3f} cores, broker "
        f"{run.broker_cores:.3f} cores, {run.batches_per_second:.1f} batches/s"
    )


def describe(run: LiveRun) -> str:
    return (
        f"{run.rate:,.0f} events/s, {run.label}: worker {run.cpu_per_event:,.0f} µs CPU/event "
        f"({run.worker_cores:.2f} cores), broker {run.broker_cores:.2f} cores, "
        f"{run.batch_records:,.1f} records/batch, changelog {run.changelog_bytes:,.0f} B and "
        f"{run.changelog_records:.2f} records/event, latency p50 {run.p50 * 1e3:,.0f} ms, "
        f"p99 {run.p99 * 1e3:,.0f} ms (raw consumer p50 {run.probe_p50 * 1e3:,.0f} ms)"
    )
