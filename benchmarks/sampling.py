"""Where the worker's time goes: py-spy attached to the worker during the backlog phase.

`python -m benchmarks --profile PROFILE.txt` samples the worker process (py-spy, 100 Hz,
all its Python frames) while it works through the backlog, writes the collapsed stacks to
PROFILE.txt and prints the functions with the most samples: on their own (self) and with
what they call (total). Samples are of wall time in the worker's main thread: time waiting
in the event loop's `select` is idle time (waiting for the broker or Redis).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

# Waiting in the event loop for sockets or timers: idle time.
_IDLE = ("EpollSelector.select (selectors.py", "KqueueSelector.select (selectors.py")
# In the "with what it calls" table, frames in more stacks than this share are the process's
# scaffolding (runpy, the CLI, the event loop) and say nothing about where the time goes.
_SCAFFOLDING = 0.65


@dataclass
class Profile:
    """Samples per function, on its own and with its callees."""

    samples: int
    own: Counter[str]
    total: Counter[str]

    @classmethod
    def read(cls, path: Path) -> Profile:
        own: Counter[str] = Counter()
        total: Counter[str] = Counter()
        samples = 0
        for line in path.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            samples += count
            frames = [_short(frame) for frame in stack.split(";")]
            own[frames[-1]] += count
            for frame in set(frames):
                total[frame] += count
        return cls(samples, own, total)

    def table(self, title: str, counts: Counter[str], top: int) -> Table:
        table = Table(title=title)
        table.add_column("share", justify="right")
        table.add_column("function (file:line of its definition)")
        for frame, count in counts.most_common(top):
            table.add_row(f"{100 * count / max(self.samples, 1):.1f} %", frame)
        return table


def _short(frame: str) -> str:
    """'handle_batch (processor/stream/pipeline.py:126)' with site-packages paths cut."""
    for marker in ("site-packages/", "python3.11/"):
        if marker in frame:
            name, _, path = frame.partition(" (")
            return f"{name} ({path.split(marker, 1)[1]}"
    return frame.replace(str(Path.cwd()) + "/", "")


class Sampler:
    """py-spy recording a process until stopped."""

    def __init__(self, pid: int, output: Path, rate: int = 100) -> None:
        beside = Path(sys.executable).parent / "py-spy"  # the virtual environment's own
        spy = str(beside) if beside.exists() else shutil.which("py-spy")
        if spy is None:
            raise SystemExit(
                "--profile needs py-spy: pip install -e '.[dev]' (or pip install py-spy)"
            )
        self.output = output
        self._process = subprocess.Popen(
            [spy, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw",
             "--output", str(output), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip

    def stop(self) -> Profile:
        """Stop sampling (py-spy writes its file on SIGINT) and read what it saw."""
        self._process.send_signal(signal.SIGINT)
        try:
            _, errors = self._process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            raise SystemExit("py-spy did not stop within 30 s") from None
        if not self.output.exists():
            raise SystemExit(f"py-spy wrote no profile: {errors.decode()[-500:]}")
        return Profile.read(self.output)


def report(profile: Profile, console: Console, top: int = 25) -> None:
    busy = profile.samples - sum(
        count for frame, count in profile.own.items() if frame.startswith(_IDLE)
    )
    console.print(
        f"profile: {profile.samples:,} samples, {100 * busy / max(profile.samples, 1):.0f} % "
        "busy (the rest waiting in the event loop's select)"
    )
    console.print(profile.table("worker: samples in the function itself", profile.own, top))
    below = Counter(
        {frame: count for frame, count in profile.total.items()
         if count <= _SCAFFOLDING * profile.samples}
    )  # fmt: skip
    console.print(profile.table("worker: samples with what it calls", below, top))
