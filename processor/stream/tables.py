"""The tables of the stream core, as mappings: dicts in tests, the state store in a worker.

`conversations` (state per conversation, keyed `"<partition>|<conversation id>"`),
`threads` (the closed chunks of a conversation's tail, `"<partition>|<conversation id>|<n>"`),
`totals` and `windows` (the aggregates), `clocks` (stream time per partition), `progress`
(per partition, the next offset of each input topic whose event is in the state), `seen`
(ids counted within the allowed lateness), `customers` (`"<partition>|<brand>|<author>"`,
`processor.stream.customers`) and `models` (`"<partition>|csat|<brand>"`, the CSAT models of
`processor.stream.csat_models`). Every key names its input partition, so
a batch's changes go to the changelog partition of the input partition they came from, and
a worker's local copy finds a key's row without an index.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from processor.metrics.series import partition_of
from processor.state.store import PartitionOf, StateStore


def partition_prefixed(key: str) -> int:
    """The partition of a `"<partition>|<id>"` key (conversations, seen event ids)."""
    return int(key.split("|", 1)[0])


# How the store finds the input partition of a key: every key names it.
PARTITION_OF: dict[str, PartitionOf] = {
    "conversations": partition_prefixed,
    "threads": partition_prefixed,
    "totals": partition_of,
    "windows": partition_of,
    "clocks": int,
    "progress": int,
    "seen": partition_prefixed,
    "customers": partition_prefixed,
    "models": partition_prefixed,
}
# On disk only in a worker: the bulk of the state, read one conversation at a time.
ON_DISK = frozenset({"conversations", "threads", "customers"})


@dataclass
class Tables:
    """The tables the pipeline reads and writes; `progress` and `seen` make replays exact."""

    conversations: MutableMapping[Any, Any]
    threads: MutableMapping[Any, Any]
    totals: MutableMapping[Any, Any]
    windows: MutableMapping[Any, Any]
    clocks: MutableMapping[Any, Any]
    progress: MutableMapping[Any, Any]
    seen: MutableMapping[Any, Any]
    customers: MutableMapping[Any, Any]
    models: MutableMapping[Any, Any]

    @classmethod
    def in_memory(cls) -> Tables:
        return cls(
            conversations={},
            threads={},
            totals={},
            windows={},
            clocks={},
            progress={},
            seen={},
            customers={},
            models={},
        )

    @classmethod
    def of_store(cls, store: StateStore) -> Tables:
        return cls(**{name: store[name] for name in PARTITION_OF})
