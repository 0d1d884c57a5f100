"""The event ids counted within the allowed lateness: exact dedup in the durable state.

An event older than its partition's stream time less the allowed lateness is dead-lettered
`too_late` whatever its id, so remembering the ids of counted events down to that horizon
is enough for a re-sent copy never to count twice. The ids live in a table like the rest
of the state, so a crash, a rebalance or an empty Redis forgets none: one record per batch
and partition (`"<partition>|@<first time>|<first id>"`: the batch's ids, their times and
digests), deleted once every id in it is behind the horizon. A record per id (written by
earlier versions, `"<partition>|<id>"`) is read the same way. In memory the ids are kept
one by one and expire one by one, so the answers are exact at any moment.
Redis keeps ids longer (`SOCIALCARE_DEDUP_WINDOW_SECONDS`) only to call an older copy a
duplicate rather than late.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from processor.stream.interfaces import Table

Entry = tuple[float, str]  # (occurred_ts, content digest; "" if counted before digests)


class SeenEvents:
    """Counted event ids per partition, their table records and heaps to expire both."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self._ids: dict[int, dict[str, Entry]] = defaultdict(dict)
        self._expiry: dict[int, list[tuple[float, str]]] = defaultdict(list)  # (time, id)
        # Table records by the latest time of their ids: (latest time, key).
        self._records: dict[int, list[tuple[float, str]]] = defaultdict(list)
        self._batch: dict[int, list[list[Any]]] = defaultdict(list)  # [id, time, digest]

    def digest_of(self, partition: int, event_id: str) -> str | None:
        """The content digest of the counted event with this id; None if there is none,
        "" if it was counted before digests were kept."""
        entry = self._ids[partition].get(event_id)
        return None if entry is None else entry[1]

    def add(self, partition: int, event_id: str, occurred_ts: float, digest: str) -> None:
        self._ids[partition][event_id] = (occurred_ts, digest)
        heapq.heappush(self._expiry[partition], (occurred_ts, event_id))
        self._batch[partition].append([event_id, occurred_ts, digest])

    def seal(self) -> None:
        """Write the ids added since the last seal: one record per partition."""
        for partition, entries in self._batch.items():
            if not entries:
                continue
            first_id, first_ts, _ = entries[0]
            key = f"{partition}|@{first_ts!r}|{first_id}"
            latest = max(entry[1] for entry in entries)
            self.table[key] = [partition, latest, entries]
            heapq.heappush(self._records[partition], (latest, key))
        self._batch.clear()

    def expire(self, partition: int, horizon: float) -> None:
        """Forget the ids of events that occurred before `horizon` (now too late anyway),
        and delete the records whose ids all did."""
        self.seal()
        ids, expiry = self._ids[partition], self._expiry[partition]
        while expiry and expiry[0][0] < horizon:
            _, event_id = heapq.heappop(expiry)
            entry = ids.get(event_id)
            if entry is not None and entry[0] < horizon:
                del ids[event_id]
        records = self._records[partition]
        while records and records[0][0] < horizon:
            _, key = heapq.heappop(records)
            if key in self.table:
                del self.table[key]

    def index(self, partitions: set[int], horizons: Mapping[int, float]) -> int:
        """Rebuild these partitions' ids and heaps from the table (ids already behind a
        partition's horizon left out: the records written before it moved hold them)."""
        self.forget(partitions)
        loaded = dict.fromkeys(partitions, 0)
        for key, stored in list(self.table.items()):
            partition = stored[0]
            if partition not in loaded:
                continue
            horizon = horizons.get(partition, float("-inf"))
            if len(stored) > 2 and isinstance(stored[2], list):  # a batch's record
                latest, entries = stored[1], stored[2]
            else:  # one id's record (earlier versions): [partition, time, digest?]
                latest = stored[1]
                entries = [[key.split("|", 1)[1], stored[1], stored[2] if len(stored) > 2 else ""]]
            self._records[partition].append((latest, key))
            for event_id, occurred_ts, digest in entries:
                if occurred_ts >= horizon:
                    self._ids[partition][event_id] = (occurred_ts, str(digest))
                    self._expiry[partition].append((occurred_ts, event_id))
                    loaded[partition] += 1
        for partition in partitions:
            heapq.heapify(self._expiry[partition])
            heapq.heapify(self._records[partition])
        return sum(loaded.values())

    def forget(self, partitions: set[int]) -> None:
        for partition in partitions:
            self._ids.pop(partition, None)
            self._expiry.pop(partition, None)
            self._records.pop(partition, None)
            self._batch.pop(partition, None)
