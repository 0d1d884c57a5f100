"""The changelog's record format: one compacted topic for every table, framed by batch.

A key is the JSON pair `[table, key]`; a value is the JSON document, or a tombstone (None)
for a deleted key, so compaction keeps the newest value of every key. Every record of a
batch carries the batch's id in a header; the batch's last record of a partition (its input
progress) also carries the commit header. On Kafka the batch is a transaction anyway; on a
broker without transactions the reader applies a batch only once it has read its commit.
"""

from __future__ import annotations

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


def _stored_json(value: Any) -> orjson.Fragment:
    """A value written as JSON already (the native core's documents) goes in as it is."""
    raw = getattr(value, "stored_json", None)
    if not isinstance(raw, bytes):
        raise TypeError(f"{type(value).__name__} is not a stored table value")
    return orjson.Fragment(raw)


def encode_value(value: Any) -> bytes:
    return orjson.dumps(value, default=_stored_json)


def plain(value: Any) -> Any:
    """A table value as Python reads it: a document the native core wrote as JSON
    (`socialcare_native.StoredJson`) decoded, anything else as it is."""
    raw = getattr(value, "stored_json", None)
    return value if raw is None else orjson.loads(raw)


def decode_value(raw: bytes | None) -> Any:
    return None if raw is None else orjson.loads(raw)


def header(headers: Any, name: str) -> bytes | None:
    """A header's value from a consumed record's headers (a sequence of pairs)."""
    for key, value in headers or ():
        if key == name:
            return bytes(value)
    return None
