"""Where contributions go: all-time totals and event-time window buckets, per partition.

Records are keyed by (partition, brand, channel) and, for windows, tumbling bucket size and
start (`processor.metrics.series` owns the keys and fields). Keying by partition lets a
worker export exactly the partitions it owns, and a partition's numbers move with its
changelog on a rebalance.
"""

from __future__ import annotations

import heapq
import logging
from collections import defaultdict
from collections.abc import Iterator

from processor.metrics.families import WINDOW_FAMILIES
from processor.metrics.series import (
    Contributions,
    add_to_field,
    field_of,
    parse_table_key,
    totals_key,
    window_key,
)
from processor.metrics.windows import BUCKET_SIZES, bucket_start, retention_seconds
from processor.stream.interfaces import Table

log = logging.getLogger(__name__)

TotalsRow = tuple[int, str, str, dict[str, float]]
BucketRow = tuple[int, str, str, float, float, dict[str, float]]


class Aggregates:
    """The totals and windows tables, and a heap per (partition, size) to expire buckets."""

    def __init__(self, totals: Table, windows: Table, allowed_lateness: float) -> None:
        self.totals = totals
        self.windows = windows
        self._retention = {size: retention_seconds(size, allowed_lateness) for size in BUCKET_SIZES}
        # One heap per bucket size: their retentions differ (1 h vs 24 h plus lateness).
        self._buckets: dict[tuple[int, float], list[tuple[float, str]]] = defaultdict(list)
        # The records changed since the last flush, mutated in place: a record that many
        # events of a batch change (every event of a brand and channel changes its totals)
        # is read and written back once per batch, not once per event.
        self._touched_totals: dict[str, dict[str, float]] = {}
        self._touched_windows: dict[str, dict[str, float]] = {}

    def add(self, partition: int, delta: Contributions, window_now: float) -> None:
        """Add a change; windowed series also go to their time buckets still in retention.

        The tables see it at the next `flush` (or `expire`): the pipeline flushes before a
        batch's checkpoint, so a scrape, which runs between batches, never sees half a batch.
        """
        touched_totals = self._touched_totals
        # An event's keys share its brand and channel, its windowed keys one event time:
        # their records are found once, not once per key.
        pair: tuple[str, str] | None = None
        totals: dict[str, float] = {}
        bucket_at: float | None = None
        buckets: list[dict[str, float]] = []
        for key, amount in delta.items():
            labels = key.labels
            if pair is None or labels[0] != pair[0] or labels[1] != pair[1]:
                pair = (labels[0], labels[1])
                bucket_at = None
                tkey = totals_key(partition, labels[0], labels[1])
                found = touched_totals.get(tkey)
                if found is None:
                    found = touched_totals[tkey] = self.totals.get(tkey) or {}
                totals = found
            field = field_of(key)
            add_to_field(totals, field, amount)
            at = key.at
            if at is None or key.family not in WINDOW_FAMILIES:
                continue
            if at != bucket_at:
                bucket_at = at
                buckets = self._buckets_at(partition, pair, at, window_now)
            for bucket in buckets:
                add_to_field(bucket, field, amount)

    def _buckets_at(
        self, partition: int, pair: tuple[str, str], at: float, window_now: float
    ) -> list[dict[str, float]]:
        """The records of the time buckets of each size holding event time `at` that are
        still in retention (created if new)."""
        touched_windows = self._touched_windows
        found = []
        for size in BUCKET_SIZES:
            start = bucket_start(at, size)
            if start < window_now - self._retention[size]:
                continue  # older than any window that reads this bucket size
            wkey = window_key(partition, pair[0], pair[1], size, start)
            bucket = touched_windows.get(wkey)
            if bucket is None:
                stored = self.windows.get(wkey)
                if stored is None:
                    heapq.heappush(self._buckets[(partition, size)], (start, wkey))
                    stored = {}
                bucket = touched_windows[wkey] = stored
            found.append(bucket)
        return found

    def flush(self) -> None:
        """Write the records changed since the last flush to the tables, once each."""
        for tkey, totals in self._touched_totals.items():
            self.totals[tkey] = totals
        for wkey, bucket in self._touched_windows.items():
            self.windows[wkey] = bucket
        self._touched_totals.clear()
        self._touched_windows.clear()

    def expire(self, partition: int, window_now: float) -> None:
        """Drop the partition's buckets that no window can read any more."""
        self.flush()
        for size in BUCKET_SIZES:
            buckets = self._buckets[(partition, size)]
            expired_before = window_now - self._retention[size]
            while buckets and buckets[0][0] < expired_before:
                _, wkey = heapq.heappop(buckets)
                if wkey in self.windows:
                    del self.windows[wkey]

    def index(self, partitions: set[int]) -> int:
        """Rebuild the expiry heaps of these partitions from the windows table."""
        self.flush()
        heaps: dict[tuple[int, float], list[tuple[float, str]]] = {
            (partition, size): [] for partition in partitions for size in BUCKET_SIZES
        }
        for wkey in list(self.windows.keys()):
            partition, _, _, size, start = parse_table_key(wkey)
            heap = heaps.get((partition, size))
            if heap is not None:
                heap.append((start, wkey))
        for place, heap in heaps.items():
            heapq.heapify(heap)
            self._buckets[place] = heap
        return sum(len(heap) for heap in heaps.values())

    def forget(self, partitions: set[int]) -> None:
        self.flush()
        for partition in partitions:
            for size in BUCKET_SIZES:
                self._buckets.pop((partition, size), None)

    # -- reading (the scrape) -------------------------------------------------------------------

    def totals_of(self, partitions: set[int]) -> Iterator[TotalsRow]:
        """(partition, brand, channel, series fields) of these partitions' all-time records."""
        for key, values in list(self.totals.items()):
            partition, brand, channel = parse_table_key(key)
            if partition in partitions and values:
                yield partition, brand, channel, values

    def buckets_of(self, partitions: set[int]) -> Iterator[BucketRow]:
        """(partition, brand, channel, size, start, series fields) of their time buckets."""
        for key, values in list(self.windows.items()):
            partition, brand, channel, size, start = parse_table_key(key)
            if partition in partitions and values:
                yield partition, brand, channel, size, start, values
