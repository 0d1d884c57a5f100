"""Event-id dedup window in Redis: a redelivered or re-sent event is counted once."""

from __future__ import annotations

import redis.asyncio as aioredis


class DedupWindow:
    """Remembers event ids for `window_seconds` (SET NX EX, one round trip per event)."""

    def __init__(self, redis: aioredis.Redis, prefix: str, window_seconds: int) -> None:
        self._redis = redis
        self._prefix = f"{prefix}:dedup:"
        self._window = window_seconds

    async def first_time(self, event_id: str) -> bool:
        """True the first time an id is seen within the window; marks it seen."""
        return bool(await self._redis.set(self._prefix + event_id, b"1", nx=True, ex=self._window))

    async def forget(self, event_id: str) -> None:
        """Undo a mark when processing failed, so a retry is not taken for a duplicate."""
        await self._redis.delete(self._prefix + event_id)
