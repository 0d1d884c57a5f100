"""The tables of one worker, with what each batch changed, per partition.

Every key names its input partition (`PartitionOf`). A write records the key as changed in
its partition; `take_changes` hands the batch's changes to the writer as changelog records,
and once the changelog holds them `persist` writes them to the local copy on disk
(`processor.state.local`) with the offset they reach. `offsets` says up to which changelog
offset each partition held here matches the changelog, so only the tail is read to catch up.

The small tables (totals, windows, clocks, progress, seen) live in memory and on disk; the
bulk, conversation states, lives on disk only (`on_disk`): a read looks at the batch's own
changes, then at those written to the changelog but not yet to disk, then at RocksDB. Memory
then grows with the indexes the pipeline keeps, not with the states. Without a local copy
(`local=None`: unit tests, benchmarks) every table is a dict in memory.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any

from processor.state.local import LocalState
from processor.state.records import (
    Outgoing,
    StoredJson,
    decode_key,
    decode_value,
    encode_key,
    encode_value,
)

PartitionOf = Callable[[Any], int]
_DELETED = object()
# A restore writes the local copy in batches of this many records.
_RESTORE_BATCH = 20_000


class TrackedTable(MutableMapping[Any, Any]):
    """A mapping that remembers, per partition, the keys written since the last batch."""

    def __init__(
        self,
        name: str,
        partition_of: PartitionOf,
        local: LocalState | None = None,
        on_disk: bool = False,
        held: Callable[[], Iterable[int]] = tuple,
    ) -> None:
        self.name = name
        self.partition_of = partition_of
        self._local = local
        self.on_disk = on_disk and local is not None
        self._held = held
        self._data: dict[Any, Any] = {}  # memory tables: the values
        # Since the last batch: the values written (_DELETED: deleted), encoded once, when
        # the batch is taken for the changelog (an on-disk value read and written by many
        # events of a batch is not encoded and decoded for each). A value written here is
        # never changed in place by its writer.
        self._changed: dict[int, dict[Any, Any]] = defaultdict(dict)
        # Taken for the changelog, not yet on disk: (encoded key, encoded value or None when
        # deleted), the key encoded once for both.
        self._unpersisted: dict[int, dict[Any, tuple[bytes, bytes | None]]] = {}
        self._key_prefix = encode_key(name, "")[:-3]  # b'["name",'

    # -- reading ---------------------------------------------------------------------------------

    def _newest(self, key: Any) -> Any:
        """An on-disk table's value: the newest of batch, unpersisted, disk (_DELETED: none)."""
        partition = self.partition_of(key)
        changed = self._changed.get(partition)
        if changed and key in changed:
            return changed[key]
        unpersisted = self._unpersisted.get(partition)
        if unpersisted and key in unpersisted:
            raw = unpersisted[key][1]
        else:
            assert self._local is not None
            raw = self._local.get(partition, encode_key(self.name, key))
        return _DELETED if raw is None else decode_value(raw)

    def __getitem__(self, key: Any) -> Any:
        if not self.on_disk:
            return self._data[key]
        value = self._newest(key)
        if value is _DELETED:
            raise KeyError(key)
        return value

    def get(self, key: Any, default: Any = None) -> Any:
        if not self.on_disk:
            return self._data.get(key, default)
        value = self._newest(key)
        return default if value is _DELETED else value

    def __contains__(self, key: object) -> bool:
        return key in self._data if not self.on_disk else self._newest(key) is not _DELETED

    def items_of(self, partition: int) -> Iterator[tuple[Any, Any]]:
        """The keys and values of one partition (on disk: one range read, in key order)."""
        if not self.on_disk:
            for key, value in list(self._data.items()):
                if self.partition_of(key) == partition:
                    yield key, value
            return
        assert self._local is not None
        unpersisted = dict(self._unpersisted.get(partition) or {})
        changed = dict(self._changed.get(partition) or {})
        for raw_key, raw in self._local.rows(partition, self._key_prefix):
            key = decode_key(raw_key)[1]
            if key not in changed and key not in unpersisted:
                yield key, decode_value(raw)
        for key, (_, raw) in unpersisted.items():
            if key not in changed and raw is not None:
                yield key, decode_value(raw)
        for key, value in changed.items():
            if value is not _DELETED:
                yield key, value

    def items(self) -> Iterator[tuple[Any, Any]]:  # type: ignore[override]
        if not self.on_disk:
            yield from list(self._data.items())
            return
        for partition in sorted(self._held()):
            yield from self.items_of(partition)

    def __iter__(self) -> Iterator[Any]:
        return (key for key, _ in self.items())

    def __len__(self) -> int:
        return len(self._data) if not self.on_disk else sum(1 for _ in self.items())

    # -- writing ---------------------------------------------------------------------------------

    def __setitem__(self, key: Any, value: Any) -> None:
        self.put(self.partition_of(key), key, value)

    def put(self, partition: int, key: Any, value: Any) -> None:
        """`table[key] = value` for a key known to be of `partition` (not read from it)."""
        self._changed[partition][key] = value
        if not self.on_disk:
            self._data[key] = value

    def __delitem__(self, key: Any) -> None:
        if not self.on_disk:
            del self._data[key]
        self._changed[self.partition_of(key)][key] = _DELETED

    def take_changes(self, partition: int) -> list[Outgoing]:
        """The changelog records of a partition's changed keys, kept until persisted."""
        changed = self._changed.pop(partition, None)
        if not changed:
            return []
        records = []
        unpersisted = self._unpersisted.setdefault(partition, {})
        name = self.name
        for key, value in changed.items():
            raw: bytes | None
            if value.__class__ is StoredJson and value.changelog_key is not None:
                raw_key, raw = value.changelog_key, value.stored_json  # encoded natively
            else:
                raw = None if value is _DELETED else encode_value(value)
                raw_key = encode_key(name, key)
            records.append(Outgoing("", raw_key, raw))
            unpersisted[key] = (raw_key, raw)
        return records

    def take_unpersisted(self, partition: int) -> list[tuple[bytes, bytes | None]]:
        """The changes the changelog now holds, as local rows (changelog key, value)."""
        unpersisted = self._unpersisted.pop(partition, None) or {}
        return list(unpersisted.values())

    def changed_partitions(self) -> set[int]:
        return {partition for partition, keys in self._changed.items() if keys}

    def restore(self, key: Any, raw: bytes | None) -> None:
        """A record's value read from the changelog or the local copy (None: deleted)."""
        if self.on_disk:
            return  # the local copy is written by the store
        if raw is None:
            self._data.pop(key, None)
        else:
            self._data[key] = decode_value(raw)

    def drop(self, partitions: set[int]) -> int:
        """Forget these partitions in memory (and their unwritten changes)."""
        for partition in partitions:
            self._changed.pop(partition, None)
            self._unpersisted.pop(partition, None)
        if self.on_disk:
            return 0
        doomed = [key for key in self._data if self.partition_of(key) in partitions]
        for key in doomed:
            del self._data[key]
        return len(doomed)


class StateStore:
    """The named tables of a worker and the changelog offsets their partitions reflect."""

    def __init__(
        self,
        partition_of: Mapping[str, PartitionOf],
        local: LocalState | None = None,
        on_disk: frozenset[str] = frozenset(),
    ) -> None:
        self.local = local
        self.tables = {
            name: TrackedTable(name, rule, local, name in on_disk, held=lambda: self.offsets)
            for name, rule in partition_of.items()
        }
        # Changelog partition -> offset of the last record the copy reflects (-1: none).
        self.offsets: dict[int, int] = {}
        self._restored: dict[int, list[tuple[bytes, bytes | None]]] = defaultdict(list)

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

    def persist(self, written: Mapping[int, int]) -> None:
        """The changelog holds the taken changes up to these offsets: copy them to disk."""
        for partition, offset in written.items():
            self.offsets[partition] = offset
            rows = [
                row for table in self.tables.values() for row in table.take_unpersisted(partition)
            ]
            if self.local is not None:
                self.local.write(partition, rows, offset)

    def load(self, partitions: Iterable[int]) -> dict[int, int]:
        """Take up the local copies of these partitions: rows of the memory tables read.

        Returns the partitions found, with the offset each reflects.
        """
        found: dict[int, int] = {}
        if self.local is None:
            return found
        for partition in partitions:
            offset = self.local.offset(partition)
            if offset is None or partition in self.offsets:
                continue
            for table in self.tables.values():
                if table.on_disk:
                    continue
                for raw_key, raw in self.local.rows(partition, encode_key(table.name, "")[:-3]):
                    table.restore(decode_key(raw_key)[1], raw)
            self.offsets[partition] = found[partition] = offset
        return found

    def restore(self, partition: int, offset: int, key: bytes, value: bytes | None) -> None:
        """Apply one changelog record read at `offset` of the partition."""
        self.offsets[partition] = max(offset, self.offsets.get(partition, -1))
        name, table_key = decode_key(key)
        table = self.tables.get(name)
        if table is None:  # a table of a later version: ignored, kept on the topic
            return
        table.restore(table_key, value)
        if self.local is not None:
            pending = self._restored[partition]
            pending.append((key, value))
            if len(pending) >= _RESTORE_BATCH:
                self.flush_restored()

    def flush_restored(self) -> None:
        """Write the records restored so far to the local copy, with their offsets."""
        if self.local is None:
            return
        for partition, rows in self._restored.items():
            if rows:
                self.local.write(partition, rows, self.offsets[partition])
        self._restored.clear()

    def has(self, partition: int) -> bool:
        """Whether this worker holds a copy of the partition (possibly behind)."""
        return partition in self.offsets

    def drop(self, partitions: Iterable[int]) -> int:
        """Forget the partitions in memory: another worker may own them now.

        Their local copy stays on disk with its offset: if they come back, only the
        changelog written since is read.
        """
        doomed = set(partitions)
        for partition in doomed:
            self.offsets.pop(partition, None)
            self._restored.pop(partition, None)
        return sum(table.drop(doomed) for table in self.tables.values())

    def forget(self, partitions: Iterable[int]) -> None:
        """Drop the partitions here and on disk: the changelog does not follow the copy."""
        doomed = set(partitions)
        self.drop(doomed)
        if self.local is not None:
            for partition in doomed:
                self.local.forget(partition)
