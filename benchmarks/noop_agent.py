"""Baseline B, run as its own process: a Faust app whose one agent only iterates its stream.

    python -m benchmarks.noop_agent --bootstrap HOST:PORT --topics a,b --partitions P \\
        --events N --app-id ID --out result.json --progress progress-file

Its own process so that Faust owns its event loop as in the worker. It writes its progress
every 1,000 events and, at the N-th, the timing of events 1..N to `--out`, then exits at
once: the parent only needs the file, not a graceful Faust shutdown.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import faust

from benchmarks.harness import REBALANCE_TIMEOUT, SESSION_TIMEOUT
from processor.stream.worker import broker_url


def main(argv: Sequence[str]) -> int:
    """A Faust app whose one agent only iterates; writes the timing of events 1..N."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.noop_agent")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topics", required=True)
    parser.add_argument("--partitions", type=int, required=True)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--app-id", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--progress", type=Path, required=True)
    args = parser.parse_args(argv)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    app = faust.App(
        args.app_id,
        broker=broker_url(args.bootstrap),
        store="memory://",
        datadir=str(args.out.parent / "noop-data"),
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=args.partitions,
        topic_replication_factor=1,
        web_enabled=False,
        broker_session_timeout=SESSION_TIMEOUT,
        broker_heartbeat_interval=SESSION_TIMEOUT / 10,
        broker_rebalance_timeout=REBALANCE_TIMEOUT,
        stream_wait_empty=False,
    )
    source = app.topic(*args.topics.split(","), partitions=args.partitions)
    total: int = args.events
    out: Path = args.out
    progress: Path = args.progress

    def write(path: Path, text: str) -> None:
        partial = path.with_suffix(".tmp")
        partial.write_text(text)
        partial.replace(path)

    @app.agent(source, name="noop")
    async def noop(stream: faust.StreamT[bytes]) -> None:
        count = 0
        first = 0.0
        first_wall = 0.0
        first_cpu = 0.0
        async for _ in stream.events():
            count += 1
            if count == 1:
                first, first_wall = time.perf_counter(), time.time()
                first_cpu = time.process_time()
            elif count % 1000 == 0:
                write(progress, str(count))
            if count == total:
                seconds = time.perf_counter() - first
                result = {
                    "events": count,
                    "seconds": seconds,
                    "first_at": first_wall,
                    "cpu_seconds": time.process_time() - first_cpu,
                }
                write(out, json.dumps(result))
                # Done: no graceful Faust shutdown to wait for, the parent only needs the file.
                os._exit(0)

    worker = faust.Worker(app, loglevel="WARNING", loop=loop)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
