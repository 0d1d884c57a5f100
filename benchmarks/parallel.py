"""Target 3's measured ceiling: the processing code alone, two copies at once against one.

Two workers of the scale-out phase share this machine with the broker, Redis and the bench,
and with each other: caches, memory bandwidth and the hypervisor's cores. The ceiling by CPU
(`benchmarks.targets.scale_out_ceiling`) assumes each worker's CPU per event stays what it is
alone; it does not (1.79x printed beside a measured 1.27x). This measures what two
processes of this work gain here with nothing else running: `benchmarks.pipeline --disk`
(the worker's processing over its state store; no broker, no Redis, no Faust) as one copy
alone, then `COPIES` copies started together on the same events, each timing its own
processing (after generating its events), then one alone again, in `ROUNDS` rounds (each
round's last copy alone is the next one's first). The copies' rates add up to what they did
together; over one copy alone (the mean of the runs before and after: this machine's speed
drifts by a quarter from one minute to the next) that is the most two workers could reach
here. The bench prints the median of the rounds.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from benchmarks.harness import BenchError

COPIES = 2
ROUNDS = 3
MINUTES = 30.0  # of the pipeline benchmark's synthetic mix: about 48,000 events, ~10 s
ROOT = Path(__file__).resolve().parent.parent  # where `benchmarks` is importable


@dataclass(frozen=True)
class ParallelRound:
    """One round: the copies together (events/s each), and one copy alone before and after."""

    together: tuple[float, ...]
    alone: tuple[float, float]

    @property
    def ratio(self) -> float:
        """What the copies did together over what one did alone."""
        alone = statistics.fmean(self.alone)
        return sum(self.together) / alone if alone > 0 else float("nan")


@dataclass(frozen=True)
class Parallel:
    rounds: tuple[ParallelRound, ...]

    @property
    def ceiling(self) -> float:
        """The median of the rounds' ratios (NaN without a round)."""
        ratios = [round_.ratio for round_ in self.rounds]
        return statistics.median(ratios) if ratios else float("nan")

    def shown(self) -> str:
        return ", ".join(f"{round_.ratio:.2f}" for round_ in self.rounds)


def events_per_second(result: dict[str, float]) -> float:
    """A copy's rate from the figures it wrote (`benchmarks.pipeline --result`)."""
    if result["seconds"] <= 0:
        raise BenchError(f"a pipeline copy reported {result['seconds']} s for its events")
    return result["events"] / result["seconds"]


async def _start_copy(result: Path, minutes: float) -> asyncio.subprocess.Process:
    command = ["-m", "benchmarks.pipeline", "--disk", "--minutes", str(minutes)]
    return await asyncio.create_subprocess_exec(
        sys.executable, *command, "--result", str(result),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip


async def run_copies(count: int, scratch: Path, minutes: float = MINUTES) -> tuple[float, ...]:
    """`count` copies of the pipeline benchmark started together; each one's events/s."""
    files = [scratch / f"copy-{count}-{number}.json" for number in range(count)]
    processes = [await _start_copy(file, minutes) for file in files]
    try:
        for process in processes:
            _, errors = await process.communicate()
            if process.returncode != 0:
                tail = errors.decode(errors="replace").strip().splitlines()[-5:]
                raise BenchError(
                    f"a copy of benchmarks.pipeline exited with code {process.returncode}: "
                    + " | ".join(tail)
                    + " (run `python -m benchmarks.pipeline --disk` alone to see why)"
                )
    finally:  # a failed or interrupted round leaves no copy running
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
    return tuple(events_per_second(json.loads(file.read_text())) for file in files)


async def measure_parallel(
    console: Console, rounds: int = ROUNDS, minutes: float = MINUTES
) -> Parallel:
    """One copy alone, COPIES together, one alone, ... `rounds` times; printed as it goes."""
    found = []
    with tempfile.TemporaryDirectory(prefix="socialcare-parallel-") as scratch:
        (before,) = await run_copies(1, Path(scratch), minutes)
        for number in range(1, rounds + 1):
            together = await run_copies(COPIES, Path(scratch), minutes)
            (after,) = await run_copies(1, Path(scratch), minutes)
            found.append(ParallelRound(together, (before, after)))
            console.print(
                f"processing code, round {number}/{rounds}: {COPIES} copies at once "
                + " + ".join(f"{eps:,.0f}" for eps in together)
                + f" events/s, one alone {before:,.0f} before and {after:,.0f} after: "
                f"{found[-1].ratio:.2f}x"
            )
            before = after
    return Parallel(tuple(found))
