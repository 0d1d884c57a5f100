"""The clock-check heap: every conversation whose stored check is due comes out once, and
the heap holds a few entries per conversation however many times its check moved."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from pathlib import Path

from benchmarks.data import messages_of, thread_events
from benchmarks.pipeline import build, handle_all
from processor.settings import Settings
from processor.stream.clock_checks import ClockChecks


def sweep(
    checks: ClockChecks,
    stored: dict[str, float | None],
    now: float,
    swept: Callable[[float], float | None] = lambda now: None,
) -> list[str]:
    """The caller's side (`ConversationStore.due`): a due conversation is yielded and
    stored again with the check `swept` gives (as a sweep stores it before the next comes
    out), an early entry is scheduled again at its stored check."""
    yielded = []
    for conversation_id in checks.due(now):
        due = stored[conversation_id]
        if due is None or due > now:
            checks.schedule(conversation_id, due)
            continue
        yielded.append(conversation_id)
        store(checks, stored, conversation_id, swept(now))
    return yielded


def store(
    checks: ClockChecks, stored: dict[str, float | None], conversation_id: str, due: float | None
) -> None:
    """`ConversationStore.store`."""
    checks.schedule(conversation_id, due)
    stored[conversation_id] = due


def test_a_later_check_waits_behind_the_earliest_entry() -> None:
    checks = ClockChecks()
    stored: dict[str, float | None] = {}
    store(checks, stored, "a", 10.0)
    for later in (20.0, 30.0, 40.0):  # replies: the check moves later, nothing pushed
        store(checks, stored, "a", later)
    assert checks.entries() == [(10.0, "a")]
    assert sweep(checks, stored, 15.0) == []  # early: scheduled again at 40
    assert checks.entries() == [(40.0, "a")]
    store(checks, stored, "a", 5.0)  # a step back (a customer post): an earlier entry
    store(checks, stored, "a", 35.0)
    store(checks, stored, "a", 7.0)  # a step back, but after the entry at 5: not pushed
    assert checks.entries() == [(5.0, "a"), (40.0, "a")]
    assert sweep(checks, stored, 8.0, lambda now: 50.0) == ["a"]  # swept, stored at 50
    assert checks.entries() == [(40.0, "a"), (50.0, "a")]
    # The entry at 40 is left behind the one at 50: dropped when due, "a" not yielded.
    assert sweep(checks, stored, 45.0) == []
    assert checks.entries() == [(50.0, "a")]
    assert sweep(checks, stored, 50.0) == ["a"]
    assert len(checks) == 0


def test_a_conversation_swept_without_a_check_is_checked_again_when_stored() -> None:
    checks = ClockChecks()
    stored: dict[str, float | None] = {}
    store(checks, stored, "a", 10.0)
    store(checks, stored, "a", 5.0)
    assert sweep(checks, stored, 6.0) == ["a"]  # swept: no check; the entry at 10 is left
    store(checks, stored, "a", 20.0)  # a late event: stored with a check again
    assert sweep(checks, stored, 12.0) == []  # the entry at 10: left behind, dropped
    assert sweep(checks, stored, 20.0) == ["a"]


def test_an_index_built_from_entries_keeps_the_earliest_of_each() -> None:
    checks = ClockChecks([(30.0, "b"), (10.0, "a"), (20.0, "b")])
    assert checks.entries() == [(10.0, "a"), (20.0, "b"), (30.0, "b")]
    stored: dict[str, float | None] = {"a": 10.0, "b": 20.0}
    store(checks, stored, "b", 25.0)  # after b's earliest entry (20): nothing pushed
    assert len(checks) == 3
    assert sweep(checks, stored, 26.0) == ["a", "b"]  # swept: no check
    assert sweep(checks, stored, 30.0) == []  # b's entry at 30: left behind, dropped
    assert len(checks) == 0


def later(rng: random.Random, now: float) -> float | None:
    """The check a swept conversation is stored with: none, or a later one."""
    return None if rng.random() < 0.3 else now + rng.uniform(0.1, 100.0)


def test_random_moves_yield_exactly_the_due_conversations() -> None:
    """Against the plain definition: at each sweep, the conversations whose stored check
    is at or before now, each once, and a few entries per conversation."""
    rng = random.Random(7)
    checks = ClockChecks()
    stored: dict[str, float | None] = {}
    ids = [f"c{n}" for n in range(200)]
    now = 0.0
    most = 0
    for _ in range(300):
        for _ in range(rng.randrange(1, 60)):  # events: checks move either way
            due = None if rng.random() < 0.1 else now + rng.uniform(-5.0, 200.0)
            store(checks, stored, rng.choice(ids), due)
        now += rng.uniform(0.0, 10.0)
        expected = sorted(c for c, due in stored.items() if due is not None and due <= now)
        yielded = sweep(checks, stored, now, lambda now: later(rng, now))
        assert sorted(yielded) == expected
        assert len(yielded) == len(set(yielded))
        most = max(most, len(checks))
    # 200 conversations, 9,000 stores: entries never more than a few per conversation
    assert 0 < most <= 4 * len(ids)


def test_a_long_thread_keeps_a_few_entries_not_one_per_event(tmp_path: Path) -> None:
    """Ten threads of 2,000 posts through the pipeline: the heap held 11,000 entries (one
    per event within the checks' horizon) before; a few per conversation now."""
    # The Python core's `ConversationStore` (the native core keeps its own checks).
    settings = Settings.model_validate({"clock": "event", "partitions": 4, "core": "python"})
    messages = messages_of(thread_events(20_000, 2_000, seed=1), settings, 4)
    pipeline, _, local = build(settings, tmp_path, disk=True)
    assert local is not None

    asyncio.run(handle_all(pipeline, messages))
    local.close()
    store = pipeline.conversations
    entries = [entry for partition in range(4) for entry in store.clock_checks(partition).entries()]
    conversations = {conversation_id for _, conversation_id in entries}
    assert len(conversations) == 10
    assert len(entries) <= 10 * len(conversations)
