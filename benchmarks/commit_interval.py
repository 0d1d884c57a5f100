"""The worker with and without the commit interval, alternated on the same machine.

    .venv/bin/python -m benchmarks.commit_interval [--broker kafka] [--rounds 3]
                                                   [--events 50000] [--rate 500 --live 7500]

`SOCIALCARE_COMMIT_INTERVAL_SECONDS` writes the batches that end within it of the last
changelog write with the next one. Two measures, each run in turn with the interval at 0
(a write per batch) and at the default, in alternated order (`0, d, d, 0, 0, d, ...`: this
machine's speed drifts by a quarter from minute to minute):

- *backlog*: the bench's backlog of `--events` through a fresh application (its own
  consumer group and changelog): events/s, the worker's CPU per event, changelog bytes and
  records per event, the broker's CPU;
- *live*: `--live` fresh events at `--rate`/s through a worker on topics of its own, once
  it owns its partitions: the worker's CPU per event, changelog bytes and records per
  event, and the end-to-end latency (`socialcare_pipeline_latency_seconds`).

Prints each run, then the median of each setting. Kafka by default: the worker writes with
transactions there, which is where a write per batch costs most.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console

from benchmarks import settings_ab
from benchmarks.data import backlog_events, produce
from benchmarks.harness import BenchRun, progress_bar
from benchmarks.live_run import alternated, live_run, run_comparison
from benchmarks.run import start_services
from processor.settings import Settings

DEFAULT_INTERVAL = Settings.model_fields["commit_interval_seconds"].default


@dataclass(frozen=True)
class IntervalRun:
    """One run's figures (NaN where the measure has none: no rate in the live runs)."""

    interval: float
    events_per_second: float
    cpu_per_event: float  # µs of the worker's CPU
    changelog_bytes: float  # per event
    changelog_records: float  # per event
    p50: float = float("nan")  # seconds, live runs
    p99: float = float("nan")


def medians(runs: Sequence[IntervalRun]) -> dict[float, IntervalRun]:
    """Per interval, the median of each figure over its runs."""
    found: dict[float, IntervalRun] = {}
    for interval in sorted({run.interval for run in runs}):
        mine = [run for run in runs if run.interval == interval]
        found[interval] = IntervalRun(
            interval,
            *(statistics.median(getattr(run, name) for run in mine)
              for name in ("events_per_second", "cpu_per_event", "changelog_bytes",
                           "changelog_records", "p50", "p99")),
        )  # fmt: skip
    return found


async def backlog_run(
    bench: BenchRun, settings: Settings, interval: float, n: int, events: int
) -> IntervalRun:
    env = {"SOCIALCARE_COMMIT_INTERVAL_SECONDS": f"{interval:g}"}
    run = await settings_ab.backlog_run(bench, f"interval {interval:g}", env, n, events, settings)
    return IntervalRun(
        interval, run.events_per_second, run.worker_cpu, run.changelog_bytes,
        run.changelog_records,
    )  # fmt: skip


async def live_interval_run(
    bench: BenchRun, settings: Settings, interval: float, n: int, rate: float, count: int
) -> IntervalRun:
    run = await live_run(
        bench, settings, f"live{n}", f"interval {interval:g}",
        {"commit_interval_seconds": interval}, rate, count, bench.seed + n,
    )  # fmt: skip
    return IntervalRun(
        interval, rate, run.cpu_per_event, run.changelog_bytes, run.changelog_records,
        run.p50, run.p99,
    )  # fmt: skip


def show(kind: str, run: IntervalRun, console: Console) -> None:
    figures = (
        f"{run.events_per_second:,.0f} events/s, {run.cpu_per_event:,.0f} µs CPU/event, "
        f"changelog {run.changelog_bytes:,.0f} B and {run.changelog_records:.2f} records/event"
    )
    if kind == "live":
        figures += f", latency p50 {run.p50 * 1e3:,.0f} ms, p99 {run.p99 * 1e3:,.0f} ms"
    console.print(f"{kind}, interval {run.interval:g} s: {figures}")


async def compare(bench: BenchRun, events: int, rounds: int, rate: float, live: int) -> None:
    settings = await start_services(bench, 4)
    backlog = backlog_events(events, seed=bench.seed)
    with progress_bar(bench.console, "producing the backlog", len(backlog)) as advance:
        await produce(settings, backlog, advance)
    order = alternated((0.0, DEFAULT_INTERVAL), rounds)
    results: dict[str, list[IntervalRun]] = {"backlog": [], "live": []}
    for n, interval in enumerate(order):
        run = await backlog_run(bench, settings, interval, n, len(backlog))
        results["backlog"].append(run)
        show("backlog", run, bench.console)
    for n, interval in enumerate(order):
        run = await live_interval_run(bench, settings, interval, n, rate, live)
        results["live"].append(run)
        show("live", run, bench.console)
    bench.console.rule("[bold]medians")
    for kind, runs in results.items():
        for run in medians(runs).values():
            show(kind, run, bench.console)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", choices=("tansu", "kafka"), default="kafka")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each setting, alternated")
    parser.add_argument("--events", type=int, default=50_000, help="events of the backlog")
    parser.add_argument("--rate", type=float, default=500.0, help="events/s of the live runs")
    parser.add_argument("--live", type=int, default=7_500, help="events of each live run")
    arguments = parser.parse_args(argv)
    figures = (arguments.events, arguments.rounds, arguments.rate, arguments.live)
    return run_comparison(
        arguments.broker, "socialcare-interval-", lambda bench: compare(bench, *figures)
    )


if __name__ == "__main__":
    raise SystemExit(main())
