"""The worker with Faust's fetch settings and with its own fetch wait, alternated, live.

    .venv/bin/python -m benchmarks.fetch_wait [--broker kafka] [--rounds 3] [--idle 20]
                                              [--rates 500,2000] [--seconds 15]

Faust's aiokafka driver fetches with `fetch_max_wait_ms=1500` and aiokafka's
`fetch_min_bytes=1`: Apache Kafka answers a fetch as soon as any record is there, so live
traffic reaches the pipeline a few records a batch, each batch paying its fixed costs; Tansu
holds every fetch about half its wait. The worker fetches with
`SOCIALCARE_FETCH_MAX_WAIT_SECONDS` and `SOCIALCARE_FETCH_MIN_BYTES` (compared here at 0.05
s and 1 MiB, their defaults). For each rate, both settings `--rounds` times in
alternated order (`faust, worker, worker, faust, ...`), each a live run of `--seconds` of
fresh events through a worker on topics of its own (`benchmarks.live_run`): the worker's CPU
per event and in cores, the broker's cores, records per batch, changelog bytes per event,
the end-to-end latency and a raw consumer's with the same fetch settings. First, what each
costs with no input at all (`--idle` seconds of a worker owning its partitions: the worker's
and the broker's cores). Prints each run, then the medians.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence
from dataclasses import fields, replace
from typing import Any

from benchmarks.harness import BenchRun
from benchmarks.live_run import (
    IdleRun,
    LiveRun,
    alternated,
    describe,
    describe_idle,
    idle_run,
    live_run,
    run_comparison,
)
from benchmarks.run import start_services

# The fetch settings compared, as settings fields (the worker's defaults: none changed).
FETCHES: dict[str, dict[str, Any]] = {
    "faust": {"fetch_max_wait_seconds": 1.5, "fetch_min_bytes": 1},
    "worker": {"fetch_max_wait_seconds": 0.05, "fetch_min_bytes": 1_048_576},
}


def medians(runs: Sequence[LiveRun]) -> list[LiveRun]:
    """Per rate and setting, in the order first met, the median of each figure."""
    found: list[LiveRun] = []
    for rate, label in dict.fromkeys((run.rate, run.label) for run in runs):
        mine = [run for run in runs if (run.rate, run.label) == (rate, label)]
        figures = {
            field.name: statistics.median(getattr(run, field.name) for run in mine)
            for field in fields(LiveRun)
            if field.name not in ("label", "rate")
        }
        found.append(replace(mine[0], **figures))
    return found


async def compare(
    bench: BenchRun, rounds: int, rates: list[float], seconds: float, idle: float
) -> None:
    settings = await start_services(bench, 4)
    runs: list[LiveRun] = []
    idle_runs: list[IdleRun] = []
    number = 0
    for label in alternated(("faust", "worker"), rounds) if idle > 0 else []:
        idle_runs.append(
            await idle_run(bench, settings, f"idle{number}", label, FETCHES[label], idle)
        )
        bench.console.print(describe_idle(idle_runs[-1]))
        number += 1
    for rate in rates:
        for label in alternated(("faust", "worker"), rounds):
            count = round(rate * seconds)
            run = await live_run(
                bench, settings, f"live{number}", label, FETCHES[label], rate, count,
                bench.seed + number,
            )  # fmt: skip
            runs.append(run)
            bench.console.print(describe(run))
            number += 1
    bench.console.rule("[bold]medians")
    for label in FETCHES if idle_runs else ():
        mine = [run for run in idle_runs if run.label == label]
        bench.console.print(describe_idle(IdleRun(
            label, *(statistics.median(getattr(run, name) for run in mine)
                     for name in ("worker_cores", "broker_cores", "batches_per_second")),
        )))  # fmt: skip
    for run in medians(runs):
        bench.console.print(describe(run))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", choices=("tansu", "kafka"), default="kafka")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each setting, alternated")
    parser.add_argument("--rates", default="500,2000", help="events/s of the live runs")
    parser.add_argument("--seconds", type=float, default=15.0, help="seconds of each live run")
    parser.add_argument(
        "--idle", type=float, default=20.0, help="seconds of each idle run first (0: none)"
    )
    arguments = parser.parse_args(argv)
    try:
        rates = [float(rate) for rate in arguments.rates.split(",")]
    except ValueError:
        parser.error(f"--rates: events/s separated by commas, not {arguments.rates!r}")
    figures = (arguments.rounds, rates, arguments.seconds, arguments.idle)
    return run_comparison(
        arguments.broker, "socialcare-fetch-wait-", lambda bench: compare(bench, *figures)
    )


if __name__ == "__main__":
    raise SystemExit(main())
