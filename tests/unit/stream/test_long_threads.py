"""Long threads through the pipeline on the worker's state store (RocksDB), with a restart.

Threads of 300 posts, delivered slightly out of order within the allowed lateness, make
the conversations' tails span many chunks (closed chunks are records of the `threads`
table, see `processor.domain.thread_tail`). A pipeline that stops half way and a new one
that takes up the local copy from disk must end with the totals of one uninterrupted
in-memory run, and the totals must hold what the threads say (every explicit resolution).
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path
from typing import Any

import orjson

from benchmarks.data import thread_events
from benchmarks.pipeline import LocalCheckpoint
from processor.domain.events import Rejection, decode_event
from processor.domain.sla import SlaPolicyCache
from processor.metrics.series import add_into, totals_key
from processor.settings import Settings
from processor.state.local import LocalState
from processor.state.records import encode_value
from processor.state.store import StateStore
from processor.stream.deadletters import TopicDeadLetters
from processor.stream.interfaces import Message
from processor.stream.pipeline import Pipeline
from processor.stream.tables import ON_DISK, PARTITION_OF, Tables
from processor.tools.backtest.offline import MemoryDedup, NoHealth
from tests import conversation_reference as reference
from tests.series_form import conversation_side

SETTINGS = Settings.model_validate(
    {"clock": "event", "partitions": 2, "allowed_lateness_seconds": 600}
)
POSTS = 300


def messages() -> list[Message]:
    """Two threads of 300 posts each (30 s apart), each post up to 5 min out of order."""
    documents = thread_events(2 * POSTS, POSTS, seed=7)
    rng = random.Random(7)
    order = sorted(range(len(documents)), key=lambda index: index * 30.0 / 2 + rng.uniform(0, 300))
    topics = {event_type: topic for topic, event_type in SETTINGS.input_topics.items()}
    out = []
    for offset, index in enumerate(order):
        document = documents[index]
        partition = 0 if document["conversation_id"].endswith("-0") else 1
        out.append(Message(topics[document["type"]], partition, offset,
                           document["conversation_id"].encode(), orjson.dumps(document),
                           None))  # fmt: skip
    return out


def reference_totals(stream: list[Message], tables: Tables) -> dict[str, dict[str, float]]:
    """The totals records an independent model gives: `tests/conversation_reference.py`
    folds each thread's events (its own timeline walk), swept as far as the worker swept."""
    states: dict[tuple[int, str], Any] = {}
    totals: dict[str, dict[str, float]] = {}
    for message in stream:
        event = decode_event(message.value, SETTINGS.input_topics[message.topic], 1 << 20)
        assert not isinstance(event, Rejection)
        for key, amount in reference.event_increments(event).items():  # type: ignore[arg-type]
            add_into(totals.setdefault(totals_key(message.partition, *key.labels[:2]), {}),
                     key, amount)  # fmt: skip
        state = states.setdefault(
            (message.partition, event.conversation_id),
            reference.ConversationState(event.conversation_id, message.partition),
        )
        reference.apply_event(state, event, SlaPolicyCache())  # type: ignore[arg-type]
    for (partition, conversation_id), state in states.items():
        stored = tables.conversations[f"{partition}|{conversation_id}"]
        state.swept_until = stored["swept_until"]
        for key, amount in reference.contributions(state).items():
            add_into(totals.setdefault(totals_key(partition, *key.labels[:2]), {}), key, amount)
    return {key: record for key, record in totals.items() if record}


def as_stored(table: Any) -> Any:
    """A table's documents as JSON gives them back (tuples become lists)."""
    return {key: orjson.loads(encode_value(value)) for key, value in table.items()}


def pipeline(tables: Tables, checkpoint: Any = None) -> Pipeline:
    async def nowhere(partition: int, key: bytes | None, value: bytes) -> None:
        raise AssertionError(f"dead letter {value!r}")

    return Pipeline(
        SETTINGS, tables=tables, policies=SlaPolicyCache(), dedup=MemoryDedup(),
        health=NoHealth(), dead_letters=TopicDeadLetters(nowhere, NoHealth()),
        checkpoint=checkpoint,
    )  # fmt: skip


async def test_long_threads_survive_a_restart_from_the_local_copy() -> None:
    stream = messages()
    whole = Tables.in_memory()
    uninterrupted = pipeline(whole)
    for first in range(0, len(stream), 50):
        await uninterrupted.handle_batch(stream[first : first + 50])

    with tempfile.TemporaryDirectory() as scratch:
        local = LocalState(Path(scratch) / "state")
        store = StateStore(PARTITION_OF, local, on_disk=ON_DISK)
        store.offsets.update({0: -1, 1: -1})
        first_half = pipeline(Tables.of_store(store), LocalCheckpoint(store))
        half = len(stream) // 2
        for first in range(0, half, 50):
            await first_half.handle_batch(stream[first : min(first + 50, half)])
        local.close()

        local = LocalState(Path(scratch) / "state")
        store = StateStore(PARTITION_OF, local, on_disk=ON_DISK)
        assert set(store.load({0, 1})) == {0, 1}  # both partitions' copies taken up
        second_half = pipeline(Tables.of_store(store), LocalCheckpoint(store))
        second_half.assign({0, 1})
        for first in range(half, len(stream), 50):
            await second_half.handle_batch(stream[first : first + 50])
        restarted = Tables.of_store(store)
        assert dict(restarted.totals.items()) == dict(whole.totals.items())
        assert dict(restarted.windows.items()) == dict(whole.windows.items())
        # the states too: settled walks, open chunks, closed chunk records
        assert as_stored(restarted.conversations) == as_stored(whole.conversations)
        assert as_stored(restarted.threads) == as_stored(whole.threads)
        assert as_stored(restarted.customers) == as_stored(whole.customers)
        assert len(whole.threads) >= 2, "the tails spanned closed chunks"
        local.close()

    # what the whole-timeline reference says of each final thread, plus every post's counts
    assert conversation_side(whole.totals) == reference_totals(stream, whole)
    # every 200th post resolves: posts 199 of each thread, counted once each
    resolved = sum(
        value
        for key, record in whole.totals.items()
        for series, value in record.items()
        if series == "resolutions_total|explicit"
    )
    assert resolved == 2 * (POSTS // 200)
