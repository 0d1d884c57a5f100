"""The tables of the stream core, as mappings: dicts in tests, the state store in a worker.

`conversations` (state per conversation), `totals` and `windows` (the aggregates), `clocks`
(stream time per partition), `progress` (per partition, the next offset of each input
topic whose event is in the state) and `seen` (ids counted within the allowed lateness).
Every key knows its input partition, so a batch's changes go to the changelog partition of
the input partition they came from.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from processor.metrics.series import partition_of
from processor.state.store import PartitionOf, StateStore

# How the store finds the input partition of a key (and its value).
PARTITION_OF: dict[str, PartitionOf] = {
    "conversations": lambda key, value: int(value["partition"]),
    "totals": lambda key, value: partition_of(key),
    "windows": lambda key, value: partition_of(key),
    "clocks": lambda key, value: int(key),
    "progress": lambda key, value: int(key),
    "seen": lambda key, value: int(value[0]),
}
# Kept as JSON bytes in a worker's memory: the bulk of the state, read one at a time.
ENCODED = frozenset({"conversations"})


@dataclass
class Tables:
    """The tables the pipeline reads and writes; `progress` and `seen` make replays exact."""

    conversations: MutableMapping[Any, Any]
    totals: MutableMapping[Any, Any]
    windows: MutableMapping[Any, Any]
    clocks: MutableMapping[Any, Any]
    progress: MutableMapping[Any, Any]
    seen: MutableMapping[Any, Any]

    @classmethod
    def in_memory(cls) -> Tables:
        return cls(conversations={}, totals={}, windows={}, clocks={}, progress={}, seen={})

    @classmethod
    def of_store(cls, store: StateStore) -> Tables:
        return cls(**{name: store[name] for name in PARTITION_OF})
