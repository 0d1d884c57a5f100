"""The worker under two sets of environment variables, alternated on the same backlog.

    .venv/bin/python -m benchmarks.settings_ab --a SOCIALCARE_X=1 --b SOCIALCARE_X=2
                                               [--broker kafka] [--rounds 3] [--events 50000]

A setting's effect on throughput is a few per cent, and this machine's speed drifts by a
quarter from one minute to the next: each setting runs in turn (`a, b, b, a, a, b, ...`)
through a fresh application (its own consumer group and changelog) on the bench's backlog,
and the medians are compared. Each run prints events/s, the worker's CPU per event (all its
threads, and its main thread), the broker's CPU per event and changelog bytes and records
per event (`socialcare_state_changelog_bytes_total`, uncompressed).
"""

from __future__ import annotations

import argparse
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, fields

from benchmarks.data import backlog_events, produce
from benchmarks.harness import BenchRun, progress_bar
from benchmarks.live_run import alternated, per_event, run_comparison
from benchmarks.run import start_services
from benchmarks.worker_metrics import MetricsClient, Snapshot
from benchmarks.worker_run import fresh_application, start_worker, worker_throughput
from processor.settings import Settings


@dataclass(frozen=True)
class BacklogRun:
    """One run's figures (CPU in µs per event)."""

    events_per_second: float
    worker_cpu: float
    worker_main_cpu: float
    broker_cpu: float
    changelog_bytes: float
    changelog_records: float


def median_run(runs: Sequence[BacklogRun]) -> BacklogRun:
    """Each figure's median over the runs (figure by figure, not one run)."""
    return BacklogRun(
        *(statistics.median(getattr(run, item.name) for run in runs) for item in fields(BacklogRun))
    )


def environment(assignments: Sequence[str]) -> dict[str, str]:
    """`NAME=VALUE` pairs as a mapping; a malformed one is an argument error."""
    found = {}
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep or not name:
            raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {assignment!r}")
        found[name] = value
    return found


def describe(label: str, run: BacklogRun) -> str:
    return (
        f"{label}: {run.events_per_second:,.0f} events/s; CPU/event: worker "
        f"{run.worker_cpu:,.0f} µs (main thread {run.worker_main_cpu:,.0f}), broker "
        f"{run.broker_cpu:,.0f} µs; changelog {run.changelog_bytes:,.0f} B and "
        f"{run.changelog_records:.2f} records/event"
    )


async def backlog_run(
    bench: BenchRun, label: str, env: dict[str, str], n: int, events: int, settings: Settings
) -> BacklogRun:
    name = f"run{n}"
    app = fresh_application(bench, settings, name)
    worker = start_worker(bench, app, name, env)
    metrics = MetricsClient(app.metrics_port)
    try:
        with progress_bar(bench.console, f"backlog, {label}", events) as advance:
            eps, _, caught_up, cpu = await worker_throughput(
                metrics, worker, events, advance, bench.meter
            )
    finally:
        await metrics.close()
    worker.stop(timeout=10)
    del bench.meter.pids[name]
    _, changelog_bytes, changelog_records = per_event(caught_up, Snapshot())

    def per(process: str) -> float:
        return cpu.get(process, math.nan) / eps * 1e6

    return BacklogRun(
        eps, per(name), per(f"{name} main"), per(bench.broker), changelog_bytes, changelog_records
    )


async def compare(
    bench: BenchRun, settings_a: dict[str, str], settings_b: dict[str, str], rounds: int,
    events: int,
) -> None:  # fmt: skip
    settings = await start_services(bench, 4)
    backlog = backlog_events(events, seed=bench.seed)
    with progress_bar(bench.console, "producing the backlog", len(backlog)) as advance:
        await produce(settings, backlog, advance)
    runs: dict[str, list[BacklogRun]] = {"a": [], "b": []}
    envs = {"a": settings_a, "b": settings_b}
    for n, label in enumerate(alternated(("a", "b"), rounds)):
        run = await backlog_run(bench, label, envs[label], n, len(backlog), settings)
        runs[label].append(run)
        bench.console.print(describe(f"{label} (run {n + 1})", run))
    bench.console.rule("[bold]medians")
    for label, mine in runs.items():
        shown = " ".join(f"{k}={v}" for k, v in envs[label].items()) or "(defaults)"
        bench.console.print(describe(f"{label} [{shown}]", median_run(mine)))
    a, b = median_run(runs["a"]), median_run(runs["b"])
    bench.console.print(
        f"b/a: events/s {b.events_per_second / a.events_per_second:.3f}x, worker CPU/event "
        f"{b.worker_cpu / a.worker_cpu:.3f}x, broker CPU/event {b.broker_cpu / a.broker_cpu:.3f}x"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--a", nargs="*", default=[], metavar="NAME=VALUE", help="setting a")
    parser.add_argument("--b", nargs="*", default=[], metavar="NAME=VALUE", help="setting b")
    parser.add_argument("--broker", choices=("tansu", "kafka"), default="kafka")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each setting, alternated")
    parser.add_argument("--events", type=int, default=50_000, help="events of the backlog")
    arguments = parser.parse_args(argv)
    try:
        settings_a, settings_b = environment(arguments.a), environment(arguments.b)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    figures = (settings_a, settings_b, arguments.rounds, arguments.events)
    return run_comparison(
        arguments.broker, "socialcare-ab-", lambda bench: compare(bench, *figures)
    )


if __name__ == "__main__":
    raise SystemExit(main())
