"""Faust tables written in batches: one changelog record per key per batch.

Faust sends a changelog record on every table assignment, to the partition of the event
being processed. The agent handles a batch of events at once, so this adaptor writes to the
table's store directly and sends, at the end of the batch, one record per changed key to the
partition that owns the key. Reads see the writes at once. Offsets of the batch are
committed by Faust only after the producer is flushed, so the changelog is at least as new
as the committed input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

PartitionOf = Callable[[Any, Any], int]
_DELETED = object()


class BufferedTable(MutableMapping[Any, Any]):
    """A mapping over a Faust table's store with coalesced, partition-aware changelog writes."""

    def __init__(self, table: Any, partition_of: PartitionOf) -> None:
        self._table = table
        self._partition_of = partition_of
        self._dirty: dict[Any, tuple[int, Any]] = {}

    @property
    def _data(self) -> MutableMapping[Any, Any]:
        data: MutableMapping[Any, Any] = self._table.data
        return data

    def __getitem__(self, key: Any) -> Any:
        return self._data[key]

    def get(self, key: Any, default: Any = None) -> Any:
        return self._data.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __setitem__(self, key: Any, value: Any) -> None:
        self._data[key] = value
        self._dirty[key] = (self._partition_of(key, value), value)

    def __delitem__(self, key: Any) -> None:
        value = self._data.pop(key)
        self._dirty[key] = (self._partition_of(key, value), _DELETED)

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._data.keys()))

    def __len__(self) -> int:
        return len(self._data)

    def flush(self) -> int:
        """Send the changelog records of the keys changed since the last flush."""
        for key, (partition, value) in self._dirty.items():
            if value is _DELETED:
                self._table.send_changelog(partition, key, None, value_serializer="raw")
            else:
                self._table.send_changelog(partition, key, value)
        sent = len(self._dirty)
        self._dirty = {}
        return sent


@dataclass
class Tables:
    """The four tables of the stream core; `flush` sends the batch's changelog records.

    Plain dicts in unit tests and the micro-benchmark (`Tables.in_memory()`), Faust tables
    behind `BufferedTable` in a worker.
    """

    conversations: MutableMapping[Any, Any]
    totals: MutableMapping[Any, Any]
    windows: MutableMapping[Any, Any]
    clocks: MutableMapping[Any, Any]

    @classmethod
    def in_memory(cls) -> Tables:
        return cls(conversations={}, totals={}, windows={}, clocks={})

    def flush(self) -> int:
        """Send the changelog records of every changed key; returns how many."""
        sent = 0
        for table in (self.conversations, self.totals, self.windows, self.clocks):
            if isinstance(table, BufferedTable):
                sent += table.flush()
        return sent
