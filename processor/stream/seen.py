"""The event ids counted within the allowed lateness: exact dedup in the durable state.

An event older than its partition's stream time less the allowed lateness is dead-lettered
`too_late` whatever its id, so remembering the ids of counted events down to that horizon
is enough for a re-sent copy never to count twice. The ids live in a table like the rest
of the state (one changelog record each, a tombstone when they fall behind the horizon),
so a crash, a rebalance or an empty Redis forgets none. Redis keeps ids longer
(`SOCIALCARE_DEDUP_WINDOW_SECONDS`) only to call an older copy a duplicate rather than late.
"""

from __future__ import annotations

import heapq
from collections import defaultdict

from processor.stream.interfaces import Table


class SeenEvents:
    """Counted event ids per partition (`seen` table) and a heap to expire them by time."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self._expiry: dict[int, list[tuple[float, str]]] = defaultdict(list)

    def digest_of(self, partition: int, event_id: str) -> str | None:
        """The content digest of the counted event with this id; None if there is none,
        "" if it was counted before digests were kept."""
        stored = self.table.get(f"{partition}|{event_id}")
        if stored is None:
            return None
        return str(stored[2]) if len(stored) > 2 else ""

    def add(self, partition: int, event_id: str, occurred_ts: float, digest: str) -> None:
        key = f"{partition}|{event_id}"
        self.table[key] = [partition, occurred_ts, digest]
        heapq.heappush(self._expiry[partition], (occurred_ts, key))

    def expire(self, partition: int, horizon: float) -> None:
        """Forget the ids of events that occurred before `horizon` (now too late anyway)."""
        heap = self._expiry[partition]
        while heap and heap[0][0] < horizon:
            _, key = heapq.heappop(heap)
            stored = self.table.get(key)
            if stored is not None and stored[1] < horizon:
                del self.table[key]

    def index(self, partitions: set[int]) -> int:
        """Rebuild the expiry heaps of these partitions from the table."""
        heaps: dict[int, list[tuple[float, str]]] = {partition: [] for partition in partitions}
        for key, (partition, occurred_ts, *_) in list(self.table.items()):
            heap = heaps.get(partition)
            if heap is not None:
                heap.append((occurred_ts, key))
        for partition, heap in heaps.items():
            heapq.heapify(heap)
            self._expiry[partition] = heap
        return sum(len(heap) for heap in heaps.values())

    def forget(self, partitions: set[int]) -> None:
        for partition in partitions:
            self._expiry.pop(partition, None)
