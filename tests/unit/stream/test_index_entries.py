"""The index entries a stored state carries equal what following the state gives.

A restart rebuilds the clock-check, idle and backlog indexes from the entries stored with
each document instead of following every conversation: they must be what following it
(the reference, `conversation.walk`) gives, for every state of a synthetic day, open,
answered, breached and resolved ones alike.
"""

from __future__ import annotations

from typing import Any

from processor.stream.conversations import INDEX_FIELD, ConversationStore
from tests.unit.stream.test_replay_equals_live import run_both


def indexes(store: ConversationStore, partition: int) -> tuple[Any, Any, Any]:
    return (
        sorted(store._checks[partition]),
        sorted(store._idle[partition]),
        dict(store.backlog(partition).entries),
    )


async def test_stored_index_entries_equal_the_followed_states() -> None:
    _, replay = await run_both()
    documents: dict[str, Any] = replay["c"]
    assert len(documents) > 1000 and all(INDEX_FIELD in doc for doc in documents.values())
    without = {
        key: {name: value for name, value in doc.items() if name != INDEX_FIELD}
        for key, doc in documents.items()
    }
    partitions = {int(key.split("|")[0]) for key in documents}
    from_entries, followed = ConversationStore(documents), ConversationStore(without)
    assert from_entries.index(partitions) == followed.index(partitions)
    open_total = 0
    for partition in partitions:
        assert indexes(from_entries, partition) == indexes(followed, partition)
        open_total += len(followed.backlog(partition))
    assert 0 < open_total < len(documents)  # both kinds were compared
    assert sum(len(followed._checks[p]) for p in partitions) > 0
