"""The tables of one worker in memory, with what each batch changed, per partition.

Every key belongs to an input partition (`PartitionOf`). A write records the key as changed
in its partition; `take_changes` hands the batch's changes to the writer as changelog
records. `offsets` says up to which changelog offset the copy of a partition is known to
match the changelog, so a partition kept across a rebalance reads only the tail.

A table can keep its values encoded (JSON bytes, as in the changelog): a conversation's
state then costs its bytes in memory instead of a tree of Python objects (about a quarter),
recovery stores the records as read, and a read decodes the one value it needs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any

import orjson

from processor.state.records import Outgoing, decode_key, decode_value, encode_key, encode_value

PartitionOf = Callable[[Any, Any], int]
_DELETED = object()


class TrackedTable(MutableMapping[Any, Any]):
    """A dict that remembers, per partition, the keys written since the last batch."""

    def __init__(self, name: str, partition_of: PartitionOf, encoded: bool = False) -> None:
        self.name = name
        self._partition_of = partition_of
        self._encoded = encoded
        self._data: dict[Any, Any] = {}
        self._changed: dict[int, dict[Any, Any]] = defaultdict(dict)

    def _value(self, stored: Any) -> Any:
        return orjson.loads(stored) if self._encoded else stored

    def __getitem__(self, key: Any) -> Any:
        return self._value(self._data[key])

    def get(self, key: Any, default: Any = None) -> Any:
        stored = self._data.get(key)
        return default if stored is None else self._value(stored)

    def items(self) -> Iterator[tuple[Any, Any]]:  # type: ignore[override]
        for key, stored in list(self._data.items()):
            yield key, self._value(stored)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __setitem__(self, key: Any, value: Any) -> None:
        self._data[key] = encode_value(value) if self._encoded else value
        self._changed[self._partition_of(key, value)][key] = self._data[key]

    def __delitem__(self, key: Any) -> None:
        value = self._value(self._data.pop(key))
        self._changed[self._partition_of(key, value)][key] = _DELETED

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def take_changes(self, partition: int) -> list[Outgoing]:
        """The changelog records of a partition's changed keys, forgetting them."""
        changed = self._changed.pop(partition, None)
        if not changed:
            return []
        return [
            Outgoing("", encode_key(self.name, key), None if value is _DELETED
                     else value if self._encoded else encode_value(value))
            for key, value in changed.items()
        ]  # fmt: skip

    def changed_partitions(self) -> set[int]:
        return {partition for partition, keys in self._changed.items() if keys}

    def restore(self, key: Any, raw: bytes | None) -> None:
        """A record's value read from the changelog (None: deleted); not a change to write."""
        if raw is None:
            self._data.pop(key, None)
        else:
            self._data[key] = raw if self._encoded else decode_value(raw)

    def drop(self, partitions: set[int]) -> int:
        """Forget the keys of these partitions (and their unwritten changes)."""
        doomed = [k for k, v in self.items() if self._partition_of(k, v) in partitions]
        for key in doomed:
            del self._data[key]
        for partition in partitions:
            self._changed.pop(partition, None)
        return len(doomed)


class StateStore:
    """The named tables of a worker and the changelog offsets their partitions reflect."""

    def __init__(
        self, partition_of: Mapping[str, PartitionOf], encoded: frozenset[str] = frozenset()
    ) -> None:
        self.tables = {
            name: TrackedTable(name, rule, encoded=name in encoded)
            for name, rule in partition_of.items()
        }
        # Changelog partition -> offset of the last record the copy reflects (-1: none).
        self.offsets: dict[int, int] = {}

    def __getitem__(self, name: str) -> TrackedTable:
        return self.tables[name]

    def changed_partitions(self) -> set[int]:
        found: set[int] = set()
        for table in self.tables.values():
            found |= table.changed_partitions()
        return found

    def take_changes(self, partition: int) -> list[Outgoing]:
        records: list[Outgoing] = []
        for table in self.tables.values():
            records.extend(table.take_changes(partition))
        return records

    def restore(self, partition: int, offset: int, key: bytes, value: bytes | None) -> None:
        """Apply one changelog record read at `offset` of the partition."""
        name, table_key = decode_key(key)
        table = self.tables.get(name)
        if table is not None:  # a table of a later version: ignored, kept on the topic
            table.restore(table_key, value)
        self.offsets[partition] = max(offset, self.offsets.get(partition, -1))

    def has(self, partition: int) -> bool:
        """Whether this worker holds a copy of the partition (possibly behind)."""
        return partition in self.offsets

    def drop(self, partitions: Iterable[int]) -> int:
        """Forget the partitions' data: another worker may own them now."""
        doomed = set(partitions)
        for partition in doomed:
            self.offsets.pop(partition, None)
        return sum(table.drop(doomed) for table in self.tables.values())
