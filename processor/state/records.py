"""The changelog's record format: one compacted topic for every table, framed by batch.

A key is the JSON pair `[table, key]`; a value is the JSON document, or a tombstone (None)
for a deleted key, so compaction keeps the newest value of every key. Every record of a
batch carries the batch's id in a header; the batch's last record of a partition (its input
progress) also carries the commit header. On Kafka the batch is a transaction anyway; on a
broker without transactions the reader applies a batch only once it has read its commit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

BATCH_HEADER = "socialcare-batch"
COMMIT_HEADER = "socialcare-commit"


def changelog_topic(app_id: str) -> str:
    """The changelog of an application: partitioned like its input topics."""
    return f"{app_id}-state-changelog"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A record to write in a partition's batch: the changelog's (topic ""), a dead letter
    or a customer contact; to the batch's partition unless `partition` says otherwise."""

    topic: str
    key: bytes | None
    value: bytes | None
    partition: int | None = None

    @property
    def size(self) -> int:
        """Key and value bytes (what the changelog volume counts)."""
        return len(self.key or b"") + len(self.value or b"")


def encode_key(table: str, key: Any) -> bytes:
    return orjson.dumps([table, key])


def decode_key(raw: bytes) -> tuple[str, Any]:
    table, key = orjson.loads(raw)
    if not isinstance(table, str):
        raise ValueError(f"changelog key without a table name: {raw[:80]!r}")
    return table, key


class StoredJson(Mapping[str, Any]):
    """A document the native core wrote as JSON: stored as it is (`encode_value` puts the
    bytes into the record), read as the dict it encodes, decoded on first use. Building
    the dict of every stored document once a batch cost the native core more than the
    fold itself; hardly any is read back in Python."""

    __slots__ = ("_decoded", "changelog_key", "stored_json")

    def __init__(self, stored_json: bytes, changelog_key: bytes | None = None) -> None:
        self.stored_json = stored_json
        # Its record's key, when the core wrote that too (`encode_key`'s bytes for the
        # table and key it is stored under): the batch's write then encodes nothing.
        self.changelog_key = changelog_key
        self._decoded: dict[str, Any] | None = None

    def _document(self) -> dict[str, Any]:
        if self._decoded is None:
            self._decoded = orjson.loads(self.stored_json)
        return self._decoded

    def __getitem__(self, key: str) -> Any:
        return self._document()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._document())

    def __len__(self) -> int:
        return len(self._document())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StoredJson):
            return self._document() == other._document()
        return self._document() == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"StoredJson({self.stored_json.decode()})"


def _stored_json(value: Any) -> orjson.Fragment:
    """A value written as JSON already (the native core's documents) goes in as it is."""
    if not isinstance(value, StoredJson):
        raise TypeError(f"{type(value).__name__} is not a stored table value")
    return orjson.Fragment(value.stored_json)


def encode_value(value: Any) -> bytes:
    return orjson.dumps(value, default=_stored_json)


def plain(value: Any) -> Any:
    """A table value as a plain dict where the native core wrote it as JSON."""
    return orjson.loads(value.stored_json) if isinstance(value, StoredJson) else value


def decode_value(raw: bytes | None) -> Any:
    return None if raw is None else orjson.loads(raw)


def header(headers: Any, name: str) -> bytes | None:
    """A header's value from a consumed record's headers (a sequence of pairs)."""
    for key, value in headers or ():
        if key == name:
            return bytes(value)
    return None
