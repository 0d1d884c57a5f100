"""Conversation states kept as objects between events give what their documents give.

`ConversationStore` keeps recently stored states (`SOCIALCARE_STATE_CACHE_CONVERSATIONS`)
so an event of a live conversation neither reads nor decodes its document. The reference is
the store without it (0): every state read from its document.
"""

from __future__ import annotations

import orjson

from processor.domain.conversation import ConversationState
from processor.ingest.synthetic import SyntheticTraffic, TrafficProfile
from processor.settings import Settings
from processor.stream.conversations import ConversationStore
from processor.stream.interfaces import Message
from processor.stream.pipeline import Pipeline
from tests.unit.stream.test_pipeline import RecordingHealth
from tests.unit.stream.test_replay_equals_live import TOPICS, build

START = 1_700_000_000.0


async def run_half_a_day(
    settings: Settings, messages: list[Message]
) -> tuple[Pipeline, dict[str, dict[str, object]]]:
    """A pipeline over dict tables fed `messages` in batches of 200, without an error."""
    pipeline, tables = build(settings, [START + 2 * 86400])
    health = pipeline.health
    assert isinstance(health, RecordingHealth)
    for start in range(0, len(messages), 200):
        await pipeline.handle_batch(messages[start : start + 200])
    assert health.errors == 0
    return pipeline, tables


def half_a_day(start: float, seed: int, conversations_per_minute: float) -> list[Message]:
    """Twelve hours of synthetic traffic as messages on two partitions, in event order."""
    profile = TrafficProfile(conversations_per_minute=conversations_per_minute)
    documents = SyntheticTraffic(start, seed=seed, profile=profile).advance(start + 43_200)
    return [
        Message(TOPICS[str(doc["type"])], offset % 2, offset,
                str(doc["conversation_id"]).encode(), orjson.dumps(doc), None)
        for offset, doc in enumerate(documents)
    ]  # fmt: skip


async def _tables_after(states_kept: int, messages: list[Message]) -> dict[str, dict[str, object]]:
    settings = Settings.model_validate({
        "partitions": 2, "allowed_lateness_seconds": 600, "clock": "event",
        "state_cache_conversations": states_kept,
    })  # fmt: skip
    pipeline, tables = await run_half_a_day(settings, messages)
    assert isinstance(pipeline.health, RecordingHealth)
    assert pipeline.health.outcomes.count(("mention", "counted")) > 1000
    return tables


async def test_kept_states_give_the_tables_of_states_read_from_documents() -> None:
    """Half a day of traffic on two partitions: every table equal, document by document,
    with no state kept, a few (most events then miss and read their document) or plenty."""
    messages = half_a_day(START, seed=11, conversations_per_minute=3)
    reference = await _tables_after(0, messages)
    assert len(reference["c"]) > 500
    for states_kept in (7, 20_000):
        assert await _tables_after(states_kept, messages) == reference, states_kept


def _stored(store: ConversationStore, conversation_id: str) -> ConversationState:
    state = store.load(conversation_id, 0)
    state.brand, state.channel, state.opened_at = "acme", "twitter", START
    state.last_event_at = START
    store.store(state)
    return state


def test_a_stored_state_is_the_object_the_next_load_returns() -> None:
    store = ConversationStore({}, {}, states_kept=2)
    first = _stored(store, "a")
    assert store.load("a", 0) is first
    _stored(store, "b")
    _stored(store, "c")  # the least recently stored ("a") goes
    again = store.load("a", 0)
    assert again is not first and again == first  # read from its document


def test_storing_a_kept_state_again_makes_it_the_most_recent() -> None:
    store = ConversationStore({}, {}, states_kept=2)
    first = _stored(store, "a")
    second = _stored(store, "b")
    store.store(first)  # "a" again: now "b" is the least recently stored
    _stored(store, "c")
    assert store.load("a", 0) is first
    assert store.load("b", 0) is not second and store.load("b", 0) == second


def test_a_change_that_fails_half_way_is_read_again_from_its_document() -> None:
    store = ConversationStore({}, {})
    state = _stored(store, "a")
    state.customer_posts = 99  # a change whose event then failed
    store.discard("a", 0)
    assert store.load("a", 0).customer_posts == 0


def test_revoked_and_reindexed_partitions_forget_their_kept_states() -> None:
    table: dict[str, object] = {}
    store = ConversationStore(table, {})
    state = _stored(store, "a")
    store.forget({0})
    assert store.load("a", 0) is not state
    state = _stored(store, "a")
    store.index({0})  # the table may have been restored under it
    assert store.load("a", 0) is not state
    assert store.load("a", 0) == state


def test_a_stored_document_does_not_change_with_its_kept_state() -> None:
    """The next event changes the kept state in place; until it is stored (or if it fails
    half way) the table's document, which the changelog writes, stays as it was."""
    table: dict[str, object] = {}
    store = ConversationStore(table, {})
    state = store.load("a", 0)
    state.brand, state.channel, state.opened_at = "acme", "twitter", START
    state.walk.pending.append([START, START + 60, START + 3600])
    state.settled.pending.append([START, START + 30, START + 1800])
    state.tail.append((START, "c"))
    state.surveys.append(("csat", 4))
    state.redirections["email"] = START
    state.chunks.append([0, START, START])
    store.store(state)
    written = orjson.dumps(table["0|a"])
    state.walk.pending.append([START + 70, START + 80, START + 4000])
    state.settled.pending.append([START + 70, START + 80, START + 4000])
    state.tail.append((START + 90, "b"))
    state.surveys.append(("nps", 9))
    state.redirections["chat"] = START + 5
    state.chunks[0][1] = START + 1
    assert orjson.dumps(table["0|a"]) == written
