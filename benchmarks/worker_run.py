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
from processor.tools.local_services import ChildProcess


def start_worker(bench: BenchRun, settings: Settings) -> ChildProcess:
    """The worker, configured like the benchmark's own clients, its CPU metered."""
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
        "SOCIALCARE_DATA_DIR": str(bench.workdir / "worker-data"),
        # Tansu has no transactions (README, Guarantees).
        "SOCIALCARE_PROCESSING_GUARANTEE": (
            "exactly_once" if bench.broker == "kafka" else "at_least_once"
        ),
    }
    worker = bench.start("worker", [sys.executable, "-m", "processor", "worker"], env)
    bench.meter.pids["worker"] = worker.pid
    return worker


async def worker_throughput(
    metrics: MetricsClient, worker: ChildProcess, count: int, advance: Advance, meter: CpuMeter
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
    last_whole = started_perf
    while True:
        if not worker.alive:
            raise BenchError(f"worker exited with code {worker.returncode}; {log_excerpt(worker)}")
        tick = time.perf_counter()
        whole = tick - last_whole >= WHOLE_SCRAPE_INTERVAL
        if whole:
            last_whole = tick
        snapshot = await metrics.scrape(whole=whole)
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
                f"worker stalled at {shown} of {count} events processed; {log_excerpt(worker)}"
            )
        await asyncio.sleep(max(0.0, SCRAPE_INTERVAL - (time.perf_counter() - tick)))
