"""The run's figures and the tables printed at its end.

Kept apart from the measuring so that what is shown (and the wording of docs/benchmarks.md,
which quotes these tables) changes in one place.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import shlex
import sys
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from benchmarks.harness import WHOLE_SCRAPE_INTERVAL
from benchmarks.latency import Floor, Latency
from benchmarks.parallel import Parallel
from benchmarks.scrape import ScrapeCost

if TYPE_CHECKING:
    from benchmarks.turns import TakingTurns


@dataclass
class Results:
    """Every figure of one run, filled in phase by phase; NaN where a phase did not get to."""

    events: int
    partitions: int
    produce_eps: float = math.nan
    produce_seconds: float = math.nan
    raw_eps: float = math.nan
    noop_eps: float = math.nan  # the best of the alternated runs, as `worker_eps`
    noop_startup: float = math.nan
    worker_eps: float = math.nan
    # Each alternated run of the two (events/s, µs of the process's CPU an event).
    noop_runs: list[tuple[float, float]] = field(default_factory=list)
    worker_runs: list[tuple[float, float]] = field(default_factory=list)
    # Issue 16: the worker with SOCIALCARE_PREDICTIONS=false, alternated with the others.
    unpredicted_runs: list[tuple[float, float]] = field(default_factory=list)
    unpredicted_eps: float = math.nan
    # ... and the two taking turns on the machine (what issue 16 is judged on).
    taking_turns: list[TakingTurns] = field(default_factory=list)
    worker_startup: float = math.nan
    worker_outcomes: dict[str, float] = field(default_factory=dict)
    scrape_ms: float = math.nan
    cpu: dict[str, dict[str, float]] = field(default_factory=dict)  # phase -> process -> cores
    scrapes: int = 0
    worker_seconds: float = math.nan
    worker_gc_seconds: float = math.nan  # the collector's pauses until caught up (first run)
    worker_gc_share: float = math.nan  # ... over the worker's CPU seconds on the backlog
    latency: Latency | None = None
    alignment_eps: float = math.nan
    # Issue 12's targets (benchmarks.target_phases).
    short_bytes_per_event: float = math.nan
    long_eps: float = math.nan
    long_bytes_per_event: float = math.nan
    scale_one_eps: float = math.nan  # the median round's (by ratio)
    scale_two_eps: float = math.nan
    scale_rounds: list[tuple[float, float]] = field(default_factory=list)  # (one, two) each
    parallel: Parallel | None = None  # target 3's ceiling measured: the processing, 2 copies
    target_latency: Latency | None = None
    # Beside target 4 on Kafka: Tansu's floor at the same rate (the embedded default's).
    tansu_floor: Floor | None = None
    scrape: ScrapeCost | None = None


def _seconds(value: float) -> str:
    """Milliseconds below a second, seconds above; the +Inf bucket said as such."""
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "> 60 s (+Inf bucket)"
    return f"{value * 1000:,.1f} ms" if value < 1 else f"{value:,.2f} s"


def usable_cores() -> int:
    """The cores this process may run on (its affinity), as `nproc` counts them."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def machine() -> dict[str, str]:
    """What the figures depend on besides the code: cores, CPU, versions, the command."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = []
    for package in ("faust-streaming", "aiokafka", "prometheus-client"):
        with contextlib.suppress(Exception):
            versions.append(f"{package} {version(package)}")
    return {
        "nproc": str(usable_cores()),
        "cpu": cpu,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": f"{platform.system()} {platform.release()}",
        "libraries": ", ".join(versions),
        "command": " ".join([_program(), shlex.join(sys.argv[1:])]).strip(),
    }


def _program() -> str:
    """How this run was started: `socialcare` (bench) or `python -m benchmarks`."""
    name = Path(sys.argv[0]).name
    return "python -m benchmarks" if name == "__main__.py" else name


def summary(results: Results, console: Console) -> None:
    """The throughput table, the details (latency, start-up, machine) and the CPU table."""
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
    best = f", best of {len(results.noop_runs)} runs" if len(results.noop_runs) > 1 else ""
    table.add_row("Faust no-op agent", f"{noop:,.0f}", f"async for _ in stream.events(){best}")
    share = f"{100 * results.worker_eps / noop:.0f}% of the Faust no-op{best}" if noop else ""
    table.add_row("socialcare worker", f"{results.worker_eps:,.0f}", share)
    unpredicted = results.unpredicted_eps
    if not math.isnan(unpredicted):
        table.add_row(
            "socialcare worker, SOCIALCARE_PREDICTIONS=false", f"{unpredicted:,.0f}",
            f"predicted CSAT and breach forecast off, best of {len(results.unpredicted_runs)} "
            "(issue 16's row below: the two taking turns)",
        )  # fmt: skip
    aligned = results.alignment_eps
    cost = results.worker_eps / aligned if aligned else math.nan
    table.add_row(
        "aligned input alone (in-process)", f"{aligned:,.0f}",
        f"{1e6 / aligned:.1f} µs per event: {100 * cost:.1f}% of the worker's time per event",
    )  # fmt: skip
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
            f"skipped; {lat.probe_fetch})",
        )
    details.add_row(
        "worker outcomes (backlog)",
        ", ".join(f"{k} {v:,.0f}" for k, v in sorted(results.worker_outcomes.items())),
    )
    details.add_row(
        "garbage collection (worker, backlog)",
        f"{results.worker_gc_seconds:.1f} s of pauses, {results.worker_gc_share:.0%} of the "
        "worker's CPU (socialcare_gc_pause_seconds)",
    )
    details.add_row("worker start to first event", f"{results.worker_startup:.1f} s")
    details.add_row("Faust no-op start to first event", f"{results.noop_startup:.1f} s")
    details.add_row(
        "mean whole /metrics scrape (backlog)",
        f"{results.scrape_ms:.1f} ms, {results.scrapes} scrapes in {results.worker_seconds:.0f}s "
        f"(one per {WHOLE_SCRAPE_INTERVAL:g} s, as Prometheus)",
    )
    for key, value in machine().items():
        details.add_row(key, value)
    console.print(details)

    cpu = Table(title="CPU during the timed window (1.00 = one whole core; the machine has "
                      f"{machine()['nproc']})")  # fmt: skip
    cpu.add_column("phase")
    cpu.add_column("CPU by process (bench: this process, the consumers and producers it runs)")
    for phase, usage in results.cpu.items():
        busy = sorted(((cores, name) for name, cores in usage.items() if cores >= 0.005),
                      reverse=True)  # fmt: skip
        cpu.add_row(phase, ", ".join(f"{name} {cores:.2f}" for cores, name in busy))
    console.print(cpu)
