"""Issue 16's cost, measured with the two workers taking turns: the worker with its
predictions and the worker with `SOCIALCARE_PREDICTIONS=false`, each its own application
(consumer group, changelog, state) on the same backlog, started together and then run one
at a time, a second each, the other stopped (SIGSTOP), until both are through.

Why: this machine's speed drifts by a quarter from one minute to the next (the no-op agent
ran at 78-134 µs an event within one run), more than the few per cent being measured, so
runs one after the other, a minute apart, gave pairs' ratios from 0.74 to 1.12. Running the
two at once (tried first) shares the drift but not the rest: each is at another place of
its backlog in any window, a collector's pause of half a second lands in one and not the
other, the broker shares a core with one more than the other; windows of 5-20 s gave
0.67 to 1.07. Taking turns, each has the machine to itself as deployed, both see the same
minute of it turn after turn, and each is timed over its whole backlog: every event, every
collection. A second is well within the consumer's session timeout (no rebalance) and the
transaction timeout. Each one's rate is its events over the seconds it ran from its first
processed events seen (polled every 0.1 s while it runs, so start-up is left out).
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.harness import (
    STALL_TIMEOUT,
    START_TIMEOUT,
    WHOLE_SCRAPE_INTERVAL,
    BenchError,
    BenchRun,
    log_excerpt,
    progress_bar,
)
from benchmarks.report import Results
from benchmarks.worker_metrics import MetricsClient, Snapshot
from benchmarks.worker_run import fresh_application, start_worker
from processor.settings import Settings
from processor.tools.local_services import ChildProcess

TURN_SECONDS = 1.0
POLL_SECONDS = 0.1
# Runs taking turns per pair of the bench (about 30 s each with 50,000 events).
RUNS_PER_PAIR = 2


@dataclass
class Course:
    """One worker's turns, counted from its first processed events seen to its last."""

    first: float | None = None  # events processed at first sight
    cpu_first: float = math.nan  # its CPU seconds then
    last: float = 0.0
    cpu_last: float = math.nan
    running: float = 0.0  # seconds it ran since first sight, in the turns closed
    since: float | None = None  # when the running time of the current turn counts from
    finished: bool = False

    @property
    def events(self) -> float:
        return 0.0 if self.first is None else self.last - self.first

    @property
    def rate(self) -> float:
        return self.events / self.running if self.running > 0 else math.nan

    @property
    def cpu_per_event(self) -> float:
        """µs of the process's CPU an event."""
        events = self.events
        return (self.cpu_last - self.cpu_first) / events * 1e6 if events > 0 else math.nan


class Turns:
    """The accounting of the turns (pure: the caller sends the signals and polls)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.courses = (Course(), Course())
        self.turns = 0

    def resumed(self, side: int, at: float) -> None:
        """Its turn began (SIGCONT sent at `at`)."""
        self.turns += 1
        course = self.courses[side]
        if course.first is not None and not course.finished:
            course.since = at

    def polled(self, side: int, at: float, processed: float, cpu_seconds: float) -> None:
        """What it had done at `at`, in its turn."""
        course = self.courses[side]
        if course.finished:
            return
        if course.first is None:
            if processed <= 0:
                return
            course.first, course.cpu_first, course.since = processed, cpu_seconds, at
        course.last, course.cpu_last = processed, cpu_seconds
        if processed >= self.count:
            course.finished = True
            self._close(course, at)

    def stopped(self, side: int, at: float) -> None:
        """Its turn ended (SIGSTOP sent at `at`)."""
        self._close(self.courses[side], at)

    @staticmethod
    def _close(course: Course, at: float) -> None:
        if course.since is not None:
            course.running += at - course.since
            course.since = None

    @property
    def done(self) -> bool:
        return all(course.finished for course in self.courses)

    def result(self) -> TakingTurns:
        with_them, without = self.courses
        return TakingTurns(
            (with_them.events, without.events),
            (with_them.running, without.running),
            (with_them.cpu_per_event, without.cpu_per_event),
            self.turns,
        )


@dataclass(frozen=True)
class TakingTurns:
    """What the two did, each over its whole backlog (with predictions first)."""

    events: tuple[float, float]
    seconds: tuple[float, float]  # running, from the first processed events seen
    cpu_per_event: tuple[float, float]  # µs of the process's CPU an event
    turns: int

    def rate(self, side: int) -> float:
        return self.events[side] / self.seconds[side] if self.seconds[side] > 0 else math.nan

    @property
    def ratio(self) -> float:
        """The worker's rate with its predictions over its rate without them."""
        return self.rate(0) / self.rate(1)

    @property
    def cpu_ratio(self) -> float:
        """The same from the CPU each spent an event (without over with)."""
        with_them, without = self.cpu_per_event
        return without / with_them if with_them > 0 else math.nan


async def measure_taking_turns(
    bench: BenchRun, settings: Settings, results: Results, number: int = 1
) -> None:
    """Step 5e: the worker with and without its predictions, taking turns (issue 16),
    `RUNS_PER_PAIR` times: one run's ratio spreads by about 0.07 (the same worker's CPU an
    event moves from run to run), so row 16 takes the median of them all."""
    for run in range(RUNS_PER_PAIR):
        await _taking_turns(bench, settings, results, (number - 1) * RUNS_PER_PAIR + run + 1)


async def _taking_turns(bench: BenchRun, settings: Settings, results: Results, number: int) -> None:
    suffix = "" if number == 1 else f" ({number})"
    bench.console.rule(f"[bold]5e. socialcare worker with and without predictions, taking "
                       f"turns{suffix}")  # fmt: skip
    names = (f"predicting{number}", f"unpredicting{number}")
    extras: tuple[dict[str, str], dict[str, str]] = ({}, {"SOCIALCARE_PREDICTIONS": "false"})
    first = 0 if number % 2 else 1  # neither always has the first turn
    workers: list[ChildProcess] = []
    clients: list[MetricsClient] = []
    try:
        for side in (0, 1):
            app = fresh_application(bench, settings, names[side])
            workers.append(start_worker(bench, app, names[side], extras[side]))
            clients.append(MetricsClient(app.metrics_port))
        found, snapshots = await _take_turns(bench, clients, workers, results.events, first)
    finally:
        for worker in workers:
            if worker.alive:
                os.kill(worker.pid, signal.SIGCONT)  # a stopped process cannot take SIGTERM
        for client in clients:
            await client.close()
        for worker in workers:
            worker.stop(timeout=10)
    results.taking_turns.append(found)
    bench.console.print(
        f"{found.turns} turns of {TURN_SECONDS:g}s: with predictions {found.rate(0):,.0f} "
        f"events/s ({found.cpu_per_event[0]:,.0f} µs CPU/event), without {found.rate(1):,.0f} "
        f"({found.cpu_per_event[1]:,.0f} µs CPU/event): {found.ratio:.3f}x "
        f"({found.cpu_ratio:.3f}x by CPU); "
        + "; ".join(_detail(*run) for run in zip(names, snapshots, strict=True))
    )


def _detail(name: str, snapshot: Snapshot) -> str:
    """Its outcomes, what it wrote to the changelog an event (fewer records an event:
    larger batches), its collector's pauses."""
    processed = max(snapshot.processed_total, 1.0)
    outcomes = ", ".join(f"{k} {v:,.0f}" for k, v in sorted(snapshot.outcomes().items()) if v)
    return (
        f"{name}: {outcomes}, {snapshot.changelog_records / processed:.2f} changelog records "
        f"and {snapshot.changelog_bytes / processed:,.0f} B an event, collector "
        f"{snapshot.gc_pause_seconds:.2f}s"
    )


async def _take_turns(
    bench: BenchRun,
    clients: Sequence[MetricsClient],
    workers: Sequence[ChildProcess],
    count: int,
    first: int,
) -> tuple[TakingTurns, list[Snapshot]]:
    """Run the two in turns until both are through the backlog; what each had done."""
    turns = Turns(count)
    last: list[Snapshot] = [Snapshot(), Snapshot()]
    last_whole = time.perf_counter()
    shown, last_change = 0.0, time.monotonic()
    os.kill(workers[1 - first].pid, signal.SIGSTOP)
    side = first
    with progress_bar(bench.console, "both workers, taking turns", 2 * count) as advance:
        while not turns.done:
            if turns.courses[side].finished:
                side = 1 - side
                continue
            worker, client = workers[side], clients[side]
            os.kill(worker.pid, signal.SIGCONT)
            began = time.perf_counter()
            turns.resumed(side, began)
            while time.perf_counter() - began < TURN_SECONDS:
                if not worker.alive:
                    raise BenchError(
                        f"{worker.name} exited with code {worker.returncode}; {log_excerpt(worker)}"
                    )
                tick = time.perf_counter()
                whole = tick - last_whole >= WHOLE_SCRAPE_INTERVAL
                snapshot = await client.scrape(whole=whole)
                if snapshot is not None:
                    last_whole = tick if whole else last_whole
                    cpu = bench.meter.read()[1].get(worker.name, math.nan)
                    turns.polled(side, time.perf_counter(), snapshot.processed_total, cpu)
                    last[side] = snapshot
                done = sum(course.last for course in turns.courses)
                if done > shown:
                    advance(int(done - shown))
                    shown, last_change = done, time.monotonic()
                if turns.courses[side].finished:
                    break
                await asyncio.sleep(max(0.0, POLL_SECONDS - (time.perf_counter() - tick)))
            os.kill(worker.pid, signal.SIGSTOP)
            turns.stopped(side, time.perf_counter())
            if time.monotonic() - last_change > 2 * (STALL_TIMEOUT if shown else START_TIMEOUT):
                raise BenchError(
                    f"taking turns: stalled at {shown:,.0f} of {2 * count:,} events; "
                    + "; ".join(log_excerpt(worker) for worker in workers)
                )
            side = 1 - side
    return turns.result(), last
