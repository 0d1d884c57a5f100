"""The Redis dedup window's cost per batch: one script call against a pipeline of SETs.

    .venv/bin/python benchmarks/dedup.py [--batch 500] [--batches 200]

Starts a Redis here and marks batches of fresh ids both ways: `DedupWindow.sightings`
(one script, what the worker does) and a pipeline of `SET NX GET EX` (what it did before).
Prints wall time per batch and this process's CPU per id: the client's share of the cost,
which is the worker's.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import redis.asyncio as aioredis

from processor.stream.dedup import DedupWindow
from processor.stream.reachability import Reachability
from processor.tools.local_services import start_redis


async def measure(url: str, batch: int, batches: int) -> None:
    client = aioredis.Redis.from_url(url)
    window = DedupWindow(client, "bench", 3600, Reachability("Redis", "", lambda up: None))

    async def script(ids: list[str], positions: list[str]) -> None:
        await window.sightings(
            ids, [f"{position} 0123456789abcdef01234567" for position in positions]
        )

    async def pipeline(ids: list[str], positions: list[str]) -> None:
        async with client.pipeline(transaction=False) as pipe:
            for event_id, position in zip(ids, positions, strict=True):
                pipe.set(f"bench:p:{event_id}", position, nx=True, ex=3600, get=True)
            await pipe.execute()

    for name, call in (("pipeline of SETs", pipeline), ("one script", script)) * 2:
        wall, cpu = time.perf_counter(), time.process_time()
        for round_ in range(batches):
            ids = [f"{name[0]}{round_}-{n}-{wall}" for n in range(batch)]
            await call(ids, [f"topic/0/{n}" for n in range(batch)])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(
            f"{name:>16}: {wall / batches * 1e3:6.2f} ms per batch of {batch}, "
            f"client CPU {cpu / batches / batch * 1e6:5.1f} µs per id"
        )
    await client.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=500, help="ids per batch")
    parser.add_argument("--batches", type=int, default=200, help="batches per way")
    arguments = parser.parse_args()
    redis, url = start_redis(Path(tempfile.mkdtemp(prefix="socialcare-dedup-")))
    try:
        asyncio.run(measure(url, arguments.batch, arguments.batches))
    finally:
        redis.stop(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
