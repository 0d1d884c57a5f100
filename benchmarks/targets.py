"""Issue 12's five targets and issue 16's throughput, judged on one run's figures, each
beside its baseline.

A target is met, missed, or not judged (its phase did not run, or it is set for another
broker); `socialcare bench` exits non-zero when one is missed and says which.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from benchmarks.parallel import COPIES
from benchmarks.report import Results, usable_cores
from benchmarks.target_phases import (
    LONG_THREAD_POSTS,
    SCALE_NAME,
    SCALE_PARTITIONS,
    SCRAPE_OPEN,
    TARGET_RATE,
)

THROUGHPUT_VS_NOOP = 1.0  # stretch: 1.5
LONG_VS_SHORT = 0.5
LONG_BYTES_VS_SHORT = 2.0  # bytes per event bounded: at most twice the short threads'
SCALE_OUT = 1.8
LATENCY_P99_SECONDS = 1.0
SCRAPE_SECONDS = 0.1
# Issue 16: the worker with its predictions at >= 0.9x its rate without them.
WITH_PREDICTIONS = 0.9


@dataclass(frozen=True)
class Verdict:
    number: int
    target: str
    measured: str
    baseline: str
    met: bool | None  # None: not judged in this run


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole and not math.isnan(whole) else math.nan


def scale_out_ceiling(cpu: Mapping[str, Mapping[str, float]], cores: int) -> float:
    """The most two workers could do against one on this machine, by CPU: the cores the
    other processes of the two-worker run (broker, Redis, the bench) left, over the one
    worker's cores, as if each worker's CPU per event stayed the one worker's. On two cores
    it is below 1.8 whenever those others take more than 0.29 of a core beside a worker
    using 0.95. NaN without both runs' figures."""
    one = cpu.get(f"1 worker(s), {SCALE_PARTITIONS} partitions", {})
    two = cpu.get(f"2 worker(s), {SCALE_PARTITIONS} partitions", {})
    worker = one.get(f"{SCALE_NAME}1-0", math.nan)
    others = sum(
        cores_used for name, cores_used in two.items() if not name.startswith(f"{SCALE_NAME}2-")
    )
    if not two or math.isnan(worker) or worker <= 0:
        return math.nan
    return (cores - others) / worker


def _rounds(rounds: list[tuple[float, float]]) -> str:
    """The scale-out rounds behind the median one: each round's ratio."""
    if len(rounds) < 2:
        return ""
    ratios = ", ".join(f"{two / one:.2f}" for one, two in rounds)
    return f", the median of {len(rounds)} rounds ({ratios})"


def _runs(runs: list[tuple[float, float]]) -> str:
    """The runs behind a best figure: events/s and µs of CPU an event of each."""
    if not runs:
        return ""
    if len(runs) == 1:
        cpu = runs[0][1]
        return "" if math.isnan(cpu) else f" ({cpu:,.0f} µs CPU/event)"
    shown = ", ".join(
        f"{eps:,.0f}" + ("" if math.isnan(cpu) else f" at {cpu:,.0f} µs CPU/event")
        for eps, cpu in runs
    )
    return f" (best of {len(runs)}: {shown})"


def verdicts(results: Results, broker: str) -> list[Verdict]:
    """The five targets and issue 16's against this run's figures (NaN: not judged)."""
    out = []
    ratio = _ratio(results.worker_eps, results.noop_eps)
    # The best alternated run of each (the machine's speed drifts from minute to minute),
    # each run with its CPU per event (a wait shows in the rate, not in the CPU).
    out.append(Verdict(
        1, f"worker >= {THROUGHPUT_VS_NOOP:.1f}x the Faust no-op agent (stretch 1.5x)",
        f"{results.worker_eps:,.0f} events/s = {ratio:.2f}x{_runs(results.worker_runs)}",
        f"Faust no-op {results.noop_eps:,.0f}{_runs(results.noop_runs)}, raw aiokafka "
        f"{results.raw_eps:,.0f} events/s",
        None if math.isnan(ratio) else ratio >= THROUGHPUT_VS_NOOP,
    ))  # fmt: skip
    speed = _ratio(results.long_eps, results.worker_eps)
    volume = _ratio(results.long_bytes_per_event, results.short_bytes_per_event)
    out.append(Verdict(
        2, f"{LONG_THREAD_POSTS:,}-post threads >= {LONG_VS_SHORT}x the rate of short ones, "
           f"changelog bytes per event <= {LONG_BYTES_VS_SHORT:g}x",
        f"{results.long_eps:,.0f} events/s = {speed:.2f}x; "
        f"{results.long_bytes_per_event:,.0f} B/event = {volume:.2f}x",
        f"short threads {results.worker_eps:,.0f} events/s, "
        f"{results.short_bytes_per_event:,.0f} B/event",
        None if math.isnan(speed) or math.isnan(volume)
        else speed >= LONG_VS_SHORT and volume <= LONG_BYTES_VS_SHORT,
    ))  # fmt: skip
    scale = _ratio(results.scale_two_eps, results.scale_one_eps)
    ceiling = scale_out_ceiling(results.cpu, usable_cores())
    bound = (
        f"; this machine's ceiling by CPU {ceiling:.2f}x (the cores left to two workers "
        "beside the broker, Redis and the bench, over one worker's)"
        if not math.isnan(ceiling) else ""
    )  # fmt: skip
    parallel = results.parallel
    if parallel is not None and parallel.rounds:
        bound += (
            f"; measured: the processing code alone (no broker), {COPIES} copies at once "
            f"{parallel.ceiling:.2f}x one alone (rounds {parallel.shown()})"
        )
    out.append(Verdict(
        3, f"two workers on {SCALE_PARTITIONS} partitions >= {SCALE_OUT}x one worker",
        f"{results.scale_two_eps:,.0f} events/s = {scale:.2f}x{_rounds(results.scale_rounds)}",
        f"one worker {results.scale_one_eps:,.0f} events/s (CPU per process below){bound}",
        None if math.isnan(scale) else scale >= SCALE_OUT,
    ))  # fmt: skip
    latency = results.target_latency
    p99 = latency.p99 if latency is not None else math.nan
    floor = (
        f"raw consumer on {broker}: p50 {1e3 * latency.probe_p50:,.0f} ms, "
        f"p99 {1e3 * latency.probe_p99:,.0f} ms (fetch-wait floor)"
        if latency is not None else "n/a"
    )  # fmt: skip
    tansu = results.tansu_floor
    if tansu is not None:
        floor += (
            f"; on Tansu, same fetch settings and rate: p50 {1e3 * tansu.p50:,.0f} ms, "
            f"p99 {1e3 * tansu.p99:,.0f} ms"
        )
    out.append(Verdict(
        4, f"latency p99 < {LATENCY_P99_SECONDS:g} s at {TARGET_RATE:,.0f} events/s on Kafka",
        f"p99 {p99:,.2f} s, p50 {latency.p50:,.2f} s" if latency is not None else "n/a",
        floor,
        None if math.isnan(p99) or broker != "kafka" else p99 < LATENCY_P99_SECONDS,
    ))  # fmt: skip
    scrape = results.scrape
    out.append(Verdict(
        5, f"whole /metrics scrape < {1e3 * SCRAPE_SECONDS:.0f} ms, {SCRAPE_OPEN:,} open",
        f"median {1e3 * scrape.median_seconds:,.1f} ms" if scrape is not None else "n/a",
        f"{scrape.lines:,} lines, {scrape.page_bytes / 1e3:,.0f} kB" if scrape else "n/a",
        None if scrape is None else scrape.median_seconds < SCRAPE_SECONDS,
    ))  # fmt: skip
    kept, shown = predictions_kept(results)
    alone, pairs = alternated_ratio(results)
    out.append(Verdict(
        16, f"issue 16: the worker with its predictions >= {WITH_PREDICTIONS:g}x its rate "
            "without them (SOCIALCARE_PREDICTIONS=false)",
        f"{kept:.2f}x taking turns, the median of {shown}",
        f"run one after the other: {alone:.2f}x, the median of the pairs ({pairs}); without "
        f"predictions{_runs(results.unpredicted_runs)}",
        None if math.isnan(kept) else kept >= WITH_PREDICTIONS,
    ))  # fmt: skip
    return out


def predictions_kept(results: Results) -> tuple[float, str]:
    """The worker's rate with its predictions over its rate without them, the two taking
    turns on the machine (`benchmarks.turns`): the median of the runs, and the runs
    shown (by rate, and by CPU per event)."""
    runs = [run for run in results.taking_turns if math.isfinite(run.ratio)]
    if not runs:
        return math.nan, "no run"
    shown = ", ".join(f"{run.ratio:.2f} ({run.cpu_ratio:.2f} by CPU)" for run in runs)
    return statistics.median(run.ratio for run in runs), shown


def alternated_ratio(results: Results) -> tuple[float, str]:
    """The same from the pairs of runs one after the other (a minute apart, each alone on
    the machine): the median of the pairs' ratios, and the ratios shown. Printed beside the
    figure taking turns, not judged: the machine's speed drifts by a quarter between the
    runs of a pair, more than the difference being measured."""
    # A run too short for the 0.2 s polling reports an infinite rate: no ratio of it.
    ratios = [
        _ratio(with_them, without)
        for (with_them, _), (without, _) in zip(
            results.worker_runs, results.unpredicted_runs, strict=False
        )
        if math.isfinite(with_them) and math.isfinite(without)
    ]
    ratios = [ratio for ratio in ratios if not math.isnan(ratio)]
    if not ratios:
        return math.nan, "none"
    return statistics.median(ratios), ", ".join(f"{ratio:.2f}" for ratio in ratios)


def print_verdicts(found: list[Verdict], console: Console, broker: str) -> int:
    """The targets table and one line per miss; the exit status (3 when one is missed)."""
    table = Table(title="issue 12 targets and issue 16's throughput (measured in this run)")
    for column in ("#", "target", "measured", "baseline", "verdict"):
        table.add_column(column)
    for verdict in found:
        if verdict.met is None:
            kafka_only = verdict.number == 4 and broker != "kafka"
            status = "not judged (a Kafka target)" if kafka_only else "not judged"
        else:
            status = "[green]met[/green]" if verdict.met else "[red]MISSED[/red]"
        table.add_row(str(verdict.number), verdict.target, verdict.measured, verdict.baseline,
                      status)  # fmt: skip
    console.print(table)
    missed = [verdict for verdict in found if verdict.met is False]
    for verdict in missed:
        console.print(f"[red]target {verdict.number} missed:[/red] {verdict.target}: "
                      f"{verdict.measured}")  # fmt: skip
    return 3 if missed else 0
