"""The Redis dedup window on a real Redis: first sightings, a record's own mark, copies.

One script call marks a whole batch (SET NX GET EX per id); these check what it answers.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis

from processor.stream.dedup import DedupWindow
from processor.stream.reachability import Reachability

pytestmark = pytest.mark.integration


async def rounds(url: str) -> None:
    client = aioredis.Redis.from_url(url)
    states: list[bool] = []
    window = DedupWindow(
        client, f"t{uuid.uuid4().hex[:8]}", 60, Reachability("Redis", "", states.append)
    )
    ids, positions = ["a", "b", "a"], ["t/0/1", "t/0/2", "t/0/3"]
    # The second "a" (another record) is a copy; in a batch, an id is first once.
    assert await window.first_times(ids, positions) == [True, True, False]
    # The same records again (a batch processed again after a crash): their own marks.
    assert await window.first_times(ids, positions) == [True, True, False]
    # A re-sent copy under another offset is not a first sighting.
    assert await window.first_times(["b", "c"], ["t/1/9", "t/1/10"]) == [False, True]
    ttl = await client.ttl(f"{window._prefix}c")
    assert 0 < ttl <= 60
    # Forgotten (not counted): a retry is a first sighting again.
    await window.forget(["c"])
    assert await window.first_times(["c"], ["t/1/11"]) == [True]
    # The script is loaded again when Redis lost it (a restart).
    await client.script_flush()
    assert await window.first_times(["d"], ["t/1/12"]) == [True]
    await client.aclose()
    # Redis away: no answer (None), and the outage is reported, not raised.
    away = DedupWindow(
        aioredis.Redis(port=1, socket_connect_timeout=0.5), "t", 60,
        Reachability("Redis", "", states.append),
    )  # fmt: skip
    assert await away.first_times(["e"], ["t/1/13"]) is None
    assert states[-1] is False


def test_dedup_window_marks_a_batch_in_one_call(redis_url: str) -> None:
    asyncio.run(rounds(redis_url))
