"""Event-id dedup window in Redis: a redelivered or re-sent event is counted once."""

from __future__ import annotations

import logging
import uuid

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tenacity import (
    AsyncRetrying,
    before_sleep_log,
    retry_if_exception_type,
    wait_exponential,
)

log = logging.getLogger(__name__)

# While Redis is unreachable the worker waits (and Kafka buffers) instead of counting
# events it cannot dedup: correctness over liveness, with a warning per retry.
_retrying = AsyncRetrying(
    retry=retry_if_exception_type((RedisConnectionError, RedisTimeoutError, OSError)),
    wait=wait_exponential(multiplier=0.1, max=5),
    before_sleep=before_sleep_log(log, logging.WARNING),
    reraise=True,
)


class DedupWindow:
    """Remembers event ids for `window_seconds` (SET NX EX, pipelined per batch)."""

    def __init__(self, redis: aioredis.Redis, prefix: str, window_seconds: int) -> None:
        self._redis = redis
        self._prefix = f"{prefix}:dedup:"
        self._window = window_seconds

    async def first_times(self, event_ids: list[str]) -> list[bool]:
        """For each id in order: True the first time it is seen in the window; marks it seen.

        One pipelined round trip for a whole batch; an id twice in the batch is True once.
        Each batch writes its own token (SET NX GET), so a retry after a connection lost
        mid-batch recognises its own marks instead of taking them for duplicates.
        """
        token = uuid.uuid4().bytes
        async for attempt in _retrying.copy():
            with attempt:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for event_id in event_ids:
                        pipe.set(self._prefix + event_id, token, nx=True, ex=self._window, get=True)
                    previous = await pipe.execute()
                seen_in_batch: set[str] = set()
                verdicts = []
                for event_id, old in zip(event_ids, previous, strict=True):
                    mine = old is None or old == token
                    verdicts.append(mine and event_id not in seen_in_batch)
                    seen_in_batch.add(event_id)
                return verdicts
        raise AssertionError("unreachable: tenacity reraises")

    async def forget(self, event_ids: list[str]) -> None:
        """Undo marks of events that were not counted, so a retry is not a duplicate."""
        async for attempt in _retrying.copy():
            with attempt:
                await self._redis.delete(*(self._prefix + event_id for event_id in event_ids))
