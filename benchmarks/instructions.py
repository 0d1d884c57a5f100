"""Instructions per event of the processing code, with and without the predictions, counted
by valgrind's callgrind: the same code on the same events gives nearly the same count
(within about 0.3 %) whatever else this machine is doing, where its speed drifts by a
quarter from minute to minute.

    .venv/bin/python -m benchmarks.instructions [--events 10000] [--dicts]

Runs the processing code (`benchmarks.pipeline.build`: over the worker's state store, each
batch's changes encoded as changelog records and persisted, no broker; `--dicts`: over
plain dicts) under `valgrind --tool=callgrind` three times on the same events (the bench's
synthetic backlog, a fixed seed and end, a fixed hash seed): once without processing them
(start-up, imports, generating and encoding the events: subtracted from the others), once
with the predictions, once with `SOCIALCARE_PREDICTIONS=false`, two at a time, and prints
the instructions per event of each and their ratio (issue 16's cost of the predictions).
callgrind runs Python about fifty times slower: 10,000 events take a few minutes.

Instructions are not seconds: caches, memory and the collector's pauses weigh otherwise.
But the count is steady (RocksDB's background threads make runs differ by a few tenths of
a per cent, not by whole per cents), so it tells whether a change took work out of the hot
path when a timed run cannot (docs/benchmarks.md has both for the changes measured so far).
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.data import backlog_events, messages_of
from benchmarks.pipeline import build, handle_all
from processor.settings import Settings
from processor.stream.worker import tune_garbage_collector

# Events end at this instant, so every run generates the same ones (2026-12-01T00:00:00Z).
FIXED_END = 1_764_547_200.0
SEED = 16
BATCH = 500
STARTUP = "start-up only"
RUNS = {STARTUP: "none", "with predictions": "with", "without predictions": "without"}
_COLLECTED = re.compile(rb"Collected : (\d+)")


async def _child(mode: str, events: int, disk: bool) -> None:
    """One measured process: generate, encode and (unless `none`) process the events."""
    settings = Settings.model_validate(
        {"clock": "event", "partitions": 4, "predictions": mode != "without"}
    )
    messages = messages_of(backlog_events(events, SEED, ending=FIXED_END), settings, 4)
    with tempfile.TemporaryDirectory(prefix="socialcare-instructions-") as scratch:
        pipeline, _, local = build(settings, Path(scratch), disk)
        if mode != "none":
            await handle_all(pipeline, messages, BATCH)
        if local is not None:
            local.close()


@dataclass
class Counted:
    name: str
    process: subprocess.Popen[bytes]
    started: float
    instructions: int | None = None


def _start(name: str, mode: str, events: int, dicts: bool, valgrind: str, out: Path) -> Counted:
    argv = [
        valgrind, "--tool=callgrind", f"--callgrind-out-file={out / mode}.out",
        sys.executable, "-m", "benchmarks.instructions", "--child", mode,
        "--events", str(events), *(["--dicts"] if dicts else []),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    print(f"  {name}: started (valgrind, pid {process.pid})", flush=True)
    return Counted(name, process, time.monotonic())


def _finish(counted: Counted) -> None:
    _, errors = counted.process.communicate()
    found = _COLLECTED.search(errors)
    if counted.process.returncode != 0 or found is None:
        tail = errors.decode(errors="replace")[-1500:]
        raise SystemExit(f"{counted.name}: callgrind run failed "
                         f"(exit {counted.process.returncode}):\n{tail}")  # fmt: skip
    counted.instructions = int(found.group(1))
    print(f"  {counted.name}: {counted.instructions:,} instructions "
          f"({time.monotonic() - counted.started:,.0f}s)", flush=True)  # fmt: skip


def measure(events: int, dicts: bool) -> dict[str, int]:
    """Instructions of each run, two runs at a time."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("this benchmark needs valgrind: apt-get install valgrind")
    compile_sources()
    with tempfile.TemporaryDirectory(prefix="socialcare-callgrind-") as out:
        pending = list(RUNS.items())
        running: list[Counted] = []
        done: dict[str, int] = {}
        while pending or running:
            while pending and len(running) < 2:
                name, mode = pending.pop(0)
                running.append(_start(name, mode, events, dicts, valgrind, Path(out)))
            first = running.pop(0)
            _finish(first)
            assert first.instructions is not None
            done[first.name] = first.instructions
    return done


def compile_sources() -> None:
    """Write the bytecode of the project's modules before any run: in a fresh checkout (or
    after a change) the runs started first would count the compiling of the modules they
    import and the run started later would not (two run at a time)."""
    root = Path(__file__).resolve().parent.parent
    for package in ("processor", "benchmarks"):
        compileall.compile_dir(root / package, quiet=1)


def per_event(done: dict[str, int], events: int) -> dict[str, float]:
    """Instructions per processed event of each run: start-up's subtracted."""
    base = done[STARTUP]
    return {name: (count - base) / events for name, count in done.items() if name != STARTUP}


def report(done: dict[str, int], events: int, dicts: bool) -> None:
    counts = per_event(done, events)
    tables = "plain dicts" if dicts else "the state store"
    print(f"processing instructions per event, {events:,} events of the bench's backlog "
          f"over {tables} (start-up's {done[STARTUP]:,} subtracted):")  # fmt: skip
    for name, count in counts.items():
        print(f"  {name:<20} {count:>12,.0f}")
    ratio = counts["with predictions"] / counts["without predictions"]
    print(f"  the predictions add {100 * (ratio - 1):.1f} % (with / without = {ratio:.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="events of the backlog")
    parser.add_argument("--dicts", action="store_true",
                        help="plain dicts for the tables instead of the state store")  # fmt: skip
    parser.add_argument("--child", choices=("none", "with", "without"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.events < 1:
        parser.error("--events must be >= 1")
    if arguments.child is not None:
        tune_garbage_collector()  # as the worker does
        asyncio.run(_child(arguments.child, arguments.events, not arguments.dicts))
        return
    print(f"callgrind, three runs of the processing code (a few minutes each at "
          f"{arguments.events:,} events):", flush=True)  # fmt: skip
    report(measure(arguments.events, arguments.dicts), arguments.events, arguments.dicts)


if __name__ == "__main__":
    main()
