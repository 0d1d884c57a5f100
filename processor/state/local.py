"""The worker's local copy of its partitions' tables, on disk in RocksDB (`rocksdict`).

A cache of the changelog, as in Kafka Streams: every batch the changelog accepted is then
written here in one atomic RocksDB write together with the changelog offset it reaches, so
the copy of a partition always matches the changelog up to a known offset. A restart (or a
partition coming back) reads that copy and only the changelog after the offset; a crash
between the changelog commit and the local write leaves an older offset, and the tail read
covers it. Keys are the changelog's keys behind a two-byte partition prefix, so a
partition's rows are one range: read in order, dropped with one range delete.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from rocksdict import BlockBasedOptions, Options, Rdict, ReadOptions, WriteBatch

from processor.errors import SocialcareError

_ROW = b"\x00"  # a table row: <partition><0x00><changelog key>
_OFFSET = b"\x01"  # the partition's changelog offset: <partition><0x01>
_MAX_PARTITIONS = 1 << 16


class StateDirInUse(SocialcareError):
    """Another worker process holds the state directory."""


def _prefix(partition: int) -> bytes:
    if not 0 <= partition < _MAX_PARTITIONS:
        raise ValueError(f"partition {partition} out of range for the local state")
    return partition.to_bytes(2, "big")


class LocalState:
    """Rows and offsets per partition in one RocksDB database."""

    def __init__(self, path: Path, *, write_buffer_mb: int = 32) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        options = Options(raw_mode=True)
        options.create_if_missing(True)
        options.set_write_buffer_size(write_buffer_mb * 1_048_576)
        options.set_max_write_buffer_number(2)
        # Bloom filters, as Kafka Streams sets them: most reads of a backlog ask for a key
        # that is not there (a new conversation, a new customer) and then skip the files.
        table = BlockBasedOptions()
        table.set_bloom_filter(10, False)
        options.set_block_based_table_factory(table)
        options.set_memtable_prefix_bloom_ratio(0.1)
        options.set_memtable_whole_key_filtering(True)
        try:
            self._db = Rdict(str(path), options)
        except Exception as exc:  # rocksdict raises a bare Exception naming the LOCK file
            if "lock" in str(exc).lower():
                raise StateDirInUse(
                    f"the local state {path} is in use by another worker process: give each "
                    "worker on this machine its own SOCIALCARE_DATA_DIR"
                ) from exc
            raise

    def get(self, partition: int, key: bytes) -> bytes | None:
        value: bytes | None = self._db.get(_prefix(partition) + _ROW + key)
        return value

    def rows(self, partition: int, key_prefix: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        """(changelog key, value) of a partition's rows whose key starts with `key_prefix`."""
        start = _prefix(partition) + _ROW + key_prefix
        bounds = ReadOptions()
        bounds.set_iterate_upper_bound(_successor(start))
        cut = len(_prefix(partition)) + 1
        for key, value in self._db.items(from_key=start, read_opt=bounds):
            assert isinstance(key, bytes) and isinstance(value, bytes)
            yield key[cut:], value

    def offset(self, partition: int) -> int | None:
        """The changelog offset the partition's copy reflects, None without a copy."""
        raw: bytes | None = self._db.get(_prefix(partition) + _OFFSET)
        return None if raw is None else int(raw)

    def partitions(self) -> set[int]:
        """The partitions with a copy here (owned now, or before): one seek per partition."""
        found: set[int] = set()
        seek = b"\x00\x00"
        while True:
            first = next(iter(self._db.keys(from_key=seek)), None)
            if not isinstance(first, bytes):
                return found
            partition = int.from_bytes(first[:2], "big")
            if self.offset(partition) is not None:
                found.add(partition)
            if partition + 1 >= _MAX_PARTITIONS:
                return found
            seek = _prefix(partition + 1)

    def write(
        self, partition: int, rows: Iterable[tuple[bytes, bytes | None]], offset: int
    ) -> None:
        """Rows (None: deleted) and the offset they bring the copy to, atomically."""
        prefix = _prefix(partition) + _ROW
        batch = WriteBatch(raw_mode=True)
        for key, value in rows:
            if value is None:
                batch.delete(prefix + key)
            else:
                batch.put(prefix + key, value)
        batch.put(_prefix(partition) + _OFFSET, str(offset).encode())
        self._db.write(batch)

    def forget(self, partition: int) -> None:
        """Drop the partition's copy: the changelog no longer holds what follows it."""
        self._db.delete_range(_prefix(partition), _successor(_prefix(partition)))

    def close(self) -> None:
        self._db.close()


def _successor(prefix: bytes) -> bytes:
    """The smallest key after every key starting with `prefix`."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return b"\xff" * (len(prefix) + 1)
    return stripped[:-1] + bytes([stripped[-1] + 1])
