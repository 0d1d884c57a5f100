"""The index entries a stored state carries equal what following the state gives.

A restart rebuilds the clock-check, idle and backlog indexes from the entries stored with
each document instead of following every conversation: they must be what following it
(the reference, `conversation.walk`) gives, for every state of a synthetic day, open,
answered, breached and resolved ones alike.
"""

from __future__ import annotations

from typing import Any

from processor.stream.conversations import INDEX_FIELD, ConversationStore
from processor.stream.queue_history import RECENT_ANSWERS_SECONDS
from tests.unit.stream.test_replay_equals_live import _RUNS, run_both


def indexes(store: ConversationStore, partition: int) -> tuple[Any, ...]:
    history = store.history(partition)
    return (
        store.clock_checks(partition).entries(),
        sorted(store._idle[partition]),
        dict(store.backlog(partition).entries),
        dict(store.backlog(partition).awaiting_first_response()),
        history.arrivals,
        history.answers,
        history.targets,
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
    awaiting = sum(
        len(due)
        for p in partitions
        for due in followed.backlog(p).awaiting_first_response().values()
    )
    assert 0 < awaiting < open_total
    opened = sum(
        sum(counts.values()) for p in partitions for counts in followed.history(p).arrivals.values()
    )
    assert opened == sum(1 for doc in without.values() if doc.get("opened_at") is not None)
    assert sum(len(followed.clock_checks(p)) for p in partitions) > 0


def recent(answers: dict[Any, Any], since: float) -> dict[Any, dict[float, int]]:
    return {
        pair: {minute: count for minute, count in counts.items() if minute >= since}
        for pair, counts in answers.items()
    }


async def test_the_forecast_history_kept_live_equals_the_one_rebuilt_from_the_table() -> None:
    """Each change of a conversation replaces its queue facts; a restart counts them afresh."""
    await run_both()
    live, replay = _RUNS["pipelines"]  # type: ignore[misc]
    _, tables = await run_both()
    rebuilt = ConversationStore(tables["c"])
    rebuilt.index({0})
    for pipeline in (live, replay):
        history = pipeline.conversations.history(0)
        for name in ("arrivals", "hourly_answers", "waits", "targets"):
            assert getattr(history, name) == getattr(rebuilt.history(0), name), name
        # First responses by minute are kept for the recent minutes only (older ones are
        # dropped as they pile up, when depends on the order): those agree.
        latest = max(max(counts) for counts in history.answers.values())
        since = latest - RECENT_ANSWERS_SECONDS
        assert recent(history.answers, since) == recent(rebuilt.history(0).answers, since)
    answered = sum(sum(counts.values()) for counts in rebuilt.history(0).answers.values())
    assert answered > 1000
