"""What every step of a benchmark run shares: its limits, its processes, its CPU meter.

The steps live in their own modules; this one keeps the run's state in one object
(`BenchRun`) so that a step's signature says what it measures, not how the run is wired.
"""

from __future__ import annotations

import math
import os
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from processor.errors import SocialcareError
from processor.tools.local_services import ChildProcess

SESSION_TIMEOUT = 6.0
REBALANCE_TIMEOUT = 4.0
START_TIMEOUT = 120.0  # a process must be up (or a consumer must get its first event) by then
STALL_TIMEOUT = 60.0  # no progress for this long while events are pending: give up
# Progress is polled on a restricted /metrics (two health families: cheap) this often...
SCRAPE_INTERVAL = 0.2
# ...and the whole page, which costs the worker every business series, only as often as
# Prometheus scrapes it (prometheus/prometheus.yml): the worker is measured as deployed.
WHOLE_SCRAPE_INTERVAL = 5.0

# The folder holding the `benchmarks` package: the noop agent is started as
# `python -m benchmarks.noop_agent` from the run's scratch folder, so it needs this on its path.
SOURCE_ROOT = Path(__file__).resolve().parent.parent

Advance = Callable[[int], None]
"""Moves a progress bar on by that many events."""


class BenchError(SocialcareError):
    """A phase could not complete; the message says which and why."""


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """User + system CPU seconds of a live process, or of one of its threads (Linux /proc);
    NaN elsewhere."""
    stat = Path(f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat")
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return math.nan


CpuReading = tuple[float, dict[str, float]]
"""(wall clock, CPU seconds by process name)."""


class CpuMeter:
    """CPU seconds of the benchmark's processes, to see where a phase's wall time went.

    For the processes in `main_threads` (the workers) their main thread too, as
    "<name> main": the rest of a worker's CPU is its other threads' (the changelog writer's,
    mostly; Faust's consumer thread and RocksDB's take a few hundredths of a core).
    """

    def __init__(self) -> None:
        self.pids: dict[str, int] = {}
        self.main_threads: set[str] = set()

    def read(self) -> CpuReading:
        """Now, for every process registered; `bench` is this process."""
        seconds = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        for name in self.main_threads & self.pids.keys():
            seconds[f"{name} main"] = cpu_seconds(self.pids[name], self.pids[name])
        seconds["bench"] = time.process_time()
        return time.perf_counter(), seconds

    @staticmethod
    def usage(before: CpuReading, after: CpuReading) -> dict[str, float]:
        """Share of one core each process used between two readings (1.0 = a whole core)."""
        wall = after[0] - before[0]
        if wall <= 0:
            return {}
        return {
            name: (after[1][name] - before[1].get(name, math.nan)) / wall
            for name in after[1]
            if not math.isnan(after[1][name])
        }


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment (other SOCIALCARE_* settings apply alike), plus `extra`;
    unbuffered, so that a log tail in an error message is current."""
    return {**os.environ, "PYTHONUNBUFFERED": "1", **extra}


def log_excerpt(child: ChildProcess) -> str:
    """Where a failed child's log is, and its last lines: enough to see why without digging."""
    return f"log {child.log_path}:\n{child.tail(25)}"


@dataclass
class BenchRun:
    """One run: its scratch folder, the processes it started and what it prints to."""

    console: Console
    workdir: Path
    broker: str = "tansu"  # or "kafka": Apache Kafka, the worker with transactions
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    children: list[ChildProcess] = field(default_factory=list)
    meter: CpuMeter = field(default_factory=CpuMeter)
    profile: Path | None = None  # where py-spy writes the worker's profile (--profile)
    pairs: int = 2  # alternated runs of the no-op agent and the worker (--pairs)

    @property
    def app_id(self) -> str:
        """Fresh per run: its own consumer groups and changelogs on a throwaway broker."""
        return f"bench-{self.run_id}"

    @property
    def seed(self) -> int:
        return int(self.run_id, 16)

    def adopt(self, child: ChildProcess) -> ChildProcess:
        """Keep a child started elsewhere (the broker, Redis) so the run stops it at the end."""
        self.children.append(child)
        return child

    def start(
        self, name: str, argv: Sequence[str], extra_env: dict[str, str] | None = None
    ) -> ChildProcess:
        """A child in the scratch folder, logging there; SIGTERMed should this process die."""
        child = ChildProcess(
            name, argv, self.workdir, env=child_env(extra_env or {}), cwd=self.workdir,
            die_with_parent=True,
        )  # fmt: skip
        return self.adopt(child)


@contextmanager
def progress_bar(console: Console, description: str, total: int) -> Iterator[Advance]:
    """A progress bar for one phase; yields the function that moves it on."""
    with Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda done: progress.advance(task, done)
