"""Throughput of the real worker (`python -m processor worker`) on the backlog.

The worker is measured from the outside, as Prometheus would: its /metrics is polled until
`socialcare_events_processed_total` reaches the backlog size. The clock runs from the first
processed event seen to the last, so process start and group join are reported apart.
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
from collections.abc import Sequence

from benchmarks.harness import (
    REBALANCE_TIMEOUT,
    SCRAPE_INTERVAL,
    SESSION_TIMEOUT,
    STALL_TIMEOUT,
    START_TIMEOUT,
    WHOLE_SCRAPE_INTERVAL,
    Advance,
    BenchError,
    BenchRun,
    CpuMeter,
    log_excerpt,
)
from benchmarks.worker_metrics import MetricsClient, Snapshot
from processor.settings import Settings
from processor.tools.local_services import ChildProcess, free_port


def fresh_application(bench: BenchRun, settings: Settings, name: str) -> Settings:
    """Another application on the same backlog: its own consumer group, changelog and port."""
    return settings.model_copy(
        update={"app_id": f"{bench.app_id}-{name}", "metrics_port": free_port()}
    )


def start_worker(
    bench: BenchRun,
    settings: Settings,
    name: str = "worker",
    extra: dict[str, str] | None = None,
) -> ChildProcess:
    """A worker, configured like the benchmark's own clients (its topics, app id, port)
    and `extra` variables, its CPU metered under `name`."""
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "REDIS_URL": settings.redis_url,
        "METRICS_PORT": str(settings.metrics_port),
        "METRICS_BIND": "127.0.0.1",
        "SOCIALCARE_APP_ID": settings.app_id,
        "SOCIALCARE_PARTITIONS": str(settings.partitions),
        "SOCIALCARE_CLOCK": "event",
        "SOCIALCARE_SESSION_TIMEOUT_SECONDS": f"{SESSION_TIMEOUT:g}",
        "SOCIALCARE_REBALANCE_TIMEOUT_SECONDS": f"{REBALANCE_TIMEOUT:g}",
        "SOCIALCARE_TOPIC_MENTIONS": settings.topic_mentions,
        "SOCIALCARE_TOPIC_REPLIES": settings.topic_replies,
        "SOCIALCARE_TOPIC_REDIRECTIONS": settings.topic_redirections,
        "SOCIALCARE_TOPIC_SURVEYS": settings.topic_surveys,
        "SOCIALCARE_TOPIC_DEADLETTERS": settings.topic_deadletters,
        "SOCIALCARE_DATA_DIR": str(bench.workdir / f"{name}-data"),
        # Tansu has no transactions (README, Guarantees).
        "SOCIALCARE_PROCESSING_GUARANTEE": (
            "exactly_once" if bench.broker == "kafka" else "at_least_once"
        ),
        **(extra or {}),
    }
    worker = bench.start(name, [sys.executable, "-m", "processor", "worker"], env)
    bench.meter.pids[name] = worker.pid
    bench.meter.main_threads.add(name)
    return worker


async def worker_throughput(
    metrics: MetricsClient, worker: ChildProcess, count: int, advance: Advance, meter: CpuMeter
) -> tuple[float, float, Snapshot, dict[str, float]]:
    """Poll /metrics until `count` events are processed.

    Returns (events/s, seconds from start to the first processed event, the last snapshot,
    CPU use of the processes between the first and the last event).
    """
    eps, startup, snapshots, cpu = await workers_throughput(
        [metrics], [worker], count, advance, meter
    )
    return eps, startup, snapshots[0], cpu


async def workers_throughput(
    clients: Sequence[MetricsClient],
    workers: Sequence[ChildProcess],
    count: int,
    advance: Advance,
    meter: CpuMeter,
) -> tuple[float, float, list[Snapshot], dict[str, float]]:
    """Poll the workers' /metrics until together they processed `count` events.

    Returns (events/s, seconds from the call to the first processed event, each worker's
    last snapshot, CPU use of the processes between the first and the last event).
    """
    started = time.monotonic()
    started_perf = time.perf_counter()
    first: tuple[float, float] | None = None  # (perf_counter, processed) at first sight
    cpu_before = meter.read()
    shown = 0
    last_change = started
    last_whole = started_perf
    while True:
        for worker in workers:
            if not worker.alive:
                raise BenchError(
                    f"{worker.name} exited with code {worker.returncode}; {log_excerpt(worker)}"
                )
        tick = time.perf_counter()
        whole = tick - last_whole >= WHOLE_SCRAPE_INTERVAL
        if whole:
            last_whole = tick
        snapshots = [await client.scrape(whole=whole) for client in clients]
        done = int(sum(s.processed_total for s in snapshots if s is not None))
        if done > shown:
            advance(done - shown)
            shown = done
            last_change = time.monotonic()
            if first is None:
                first = (tick, float(done))
                cpu_before = meter.read()
        if first is not None and done >= count and all(s is not None for s in snapshots):
            elapsed = tick - first[0]
            eps = (count - first[1]) / elapsed if elapsed > 0 else math.inf
            cpu = CpuMeter.usage(cpu_before, meter.read())
            return eps, first[0] - started_perf, [s for s in snapshots if s is not None], cpu
        waited = time.monotonic() - last_change
        if waited > (STALL_TIMEOUT if shown else START_TIMEOUT):
            raise BenchError(
                f"workers stalled at {shown} of {count} events processed; "
                + "; ".join(log_excerpt(worker) for worker in workers)
            )
        await asyncio.sleep(max(0.0, SCRAPE_INTERVAL - (time.perf_counter() - tick)))
