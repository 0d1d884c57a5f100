"""The native partition core against the Python pipeline, on whole backlogs.

The same messages go through two pipelines that differ only in `SOCIALCARE_CORE`: the bench's
synthetic mix over four partitions, long threads (their tails spanning closed chunks), events
out of order within the allowed lateness, events later than it, re-sent copies, conflicting
copies, replies stamped before the post they answer, and a conversation idle past the TTL
that comes back. Every table must come out the same (conversation documents, closed chunks,
totals, window buckets, customers, seen ids), and so must the dead letters, the outcomes
counted and the scrape's open backlog; then a second native pipeline takes up the tables
half way (a restart from the stored documents) and must end where the uninterrupted
one did.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

import orjson
import pytest

from benchmarks.data import thread_events
from processor.domain.sla import SlaPolicyCache
from processor.ingest.synthetic import SyntheticTraffic, TrafficProfile
from processor.settings import Settings
from processor.state.records import StoredJson, encode_key, encode_value
from processor.stream.deadletters import TopicDeadLetters
from processor.stream.interfaces import Message
from processor.stream.pipeline import Pipeline
from processor.stream.tables import Tables
from tests.unit.stream.test_pipeline import RecordingHealth, SetDedup

PARTITIONS = 4
COMMON = {
    "clock": "event",
    "partitions": PARTITIONS,
    "allowed_lateness_seconds": 600,
    "conversation_ttl_seconds": 6 * 3600,
    "inactivity_resolution_seconds": 7200,
    "earliest_event_time": "2000-01-01T00:00:00Z",
}
BATCH = 150
START = 1_700_000_000.0  # a Tuesday, 22:13 UTC


def _documents(seed: int) -> list[dict[str, Any]]:
    """Sixteen hours of the synthetic mix, two long threads within them, copies."""
    rng = random.Random(seed)
    traffic = SyntheticTraffic(START, seed=seed, profile=TrafficProfile(conversations_per_minute=3))
    mix = traffic.advance(START + 16 * 3600)
    threads = thread_events(2 * 260, 260, seed=seed)
    offset = START + 14 * 3600 - _time(threads[0])
    threads = [{**d, "occurred_at": _shifted(d["occurred_at"], offset)} for d in threads]
    extra: list[dict[str, Any]] = []
    for document in rng.sample(mix, 60):  # re-sent copies
        extra.append(dict(document))
    for document in rng.sample(mix, 10):  # the same id, other content
        extra.append({**document, "brand": "OtherBrand"})
    # a conversation idle past the TTL that comes back
    first = next(d for d in mix if d["type"] == "mention")
    extra.append({**first, "event_id": f"{first['event_id']}-comeback",
                  "occurred_at": _shifted(mix[-1]["occurred_at"], 0)})  # fmt: skip
    return mix + threads + extra


def _time(document: dict[str, Any]) -> float:
    return datetime.fromisoformat(document["occurred_at"].replace("Z", "+00:00")).timestamp()


def _shifted(stamp: str, seconds: float) -> str:
    at = datetime.fromisoformat(stamp.replace("Z", "+00:00")) + timedelta(seconds=seconds)
    return at.isoformat().replace("+00:00", "Z")


def _stream(seed: int, settings: Settings) -> list[Message]:
    """Every document as a record of its topic, partitioned by conversation, in an order
    up to five minutes off event time."""
    rng = random.Random(seed)
    documents = _documents(seed)

    def moment(document: dict[str, Any]) -> float:
        return _time(document) + rng.uniform(0, 300)

    order = sorted(documents, key=moment)
    # replies stamped a minute before the post they answer, right after it
    openings = [d for d in order if d["type"] == "mention" and d.get("in_reply_to") is None]
    for opening in rng.sample(openings[100:-100], 10):
        early = {**opening, "type": "reply", "event_id": f"{opening['event_id']}-early",
                 "in_reply_to": opening["conversation_id"],
                 "occurred_at": _shifted(opening["occurred_at"], -60)}  # fmt: skip
        for name in ("author_id", "priority", "sentiment", "inquiry_type", "text",
                     "customer_value", "rating", "review_source"):  # fmt: skip
            early.pop(name, None)
        order.insert(order.index(opening) + 1, early)
    topics = {event_type: topic for topic, event_type in settings.input_topics.items()}
    offsets = dict.fromkeys(range(PARTITIONS), 0)
    out = []
    for document in order:
        key = str(document["conversation_id"]).encode()
        partition = zlib.crc32(key) % PARTITIONS
        out.append(Message(topics[document["type"]], partition, offsets[partition], key,
                           orjson.dumps(document), None))  # fmt: skip
        offsets[partition] += 1
    return out


def _pipeline(
    core: str,
    tables: Tables,
    letters: list[tuple[int, bytes]],
    predictions: bool = True,
    **overrides: Any,
) -> Pipeline:
    async def sink(partition: int, key: bytes | None, value: bytes) -> None:
        letters.append((partition, value))

    settings = Settings.model_validate({
        **COMMON, "core": core, "predictions": predictions, "csat_min_answers": 3,
        "csat_holdout_share": 0.2, **overrides,
    })  # fmt: skip
    health = RecordingHealth()
    return Pipeline(
        settings, tables=tables, policies=SlaPolicyCache(), dedup=SetDedup(), health=health,
        dead_letters=TopicDeadLetters(sink, health),
    )  # fmt: skip


async def _run(pipeline: Pipeline, stream: Sequence[Message]) -> None:
    for first in range(0, len(stream), BATCH):
        await pipeline.handle_batch(list(stream[first : first + BATCH]))


def _stored(table: Any) -> Any:
    """A table as its records give it back (the native core's documents are JSON)."""
    return {key: orjson.loads(encode_value(value)) for key, value in table.items()}


def _tables_equal(native: Tables, python: Tables) -> None:
    for name in ("conversations", "threads", "totals", "windows", "customers", "seen",
                 "clocks", "progress", "models"):  # fmt: skip
        left, right = _stored(getattr(native, name)), _stored(getattr(python, name))
        differing = sorted(key for key in left.keys() | right.keys()
                           if left.get(key) != right.get(key))  # fmt: skip
        first = differing[:1]
        assert not differing, (name, differing[:3], [(left.get(k), right.get(k)) for k in first])


def _letters(letters: list[tuple[int, bytes]]) -> list[tuple[int, str, str]]:
    out = []
    for partition, value in letters:
        letter = orjson.loads(value)
        out.append((partition, letter["reason"], letter["detail"]))
    return sorted(out)


@pytest.mark.parametrize(("seed", "predictions"), [(1, True), (2, True), (3, False)])
async def test_the_native_core_writes_what_the_python_pipeline_writes(
    native: ModuleType, seed: int, predictions: bool
) -> None:
    settings = Settings.model_validate(COMMON)
    stream = _stream(seed, settings)
    python_tables, native_tables = Tables.in_memory(), Tables.in_memory()
    python_letters: list[tuple[int, bytes]] = []
    native_letters: list[tuple[int, bytes]] = []
    python = _pipeline("python", python_tables, python_letters, predictions)
    native_pipeline = _pipeline("native", native_tables, native_letters, predictions)
    await _run(python, stream)
    await _run(native_pipeline, stream)

    _tables_equal(native_tables, python_tables)
    # Each document came with its record's key, the one the Python side would encode.
    for key, value in native_tables.conversations.items():
        assert isinstance(value, StoredJson) and value.changelog_key == encode_key(
            "conversations", key
        ), key
    assert _letters(native_letters) == _letters(python_letters)
    reasons = {reason for _, reason, _ in _letters(python_letters)}
    assert {"reply_before_mention", "conflicting_event_id"} <= reasons, reasons
    assert len(python_tables.threads) >= 2, "the long threads' tails spanned closed chunks"
    python_health, native_health = python.health, native_pipeline.health
    assert sorted(native_health.outcomes) == sorted(python_health.outcomes)  # type: ignore[attr-defined]
    assert native_health.errors == python_health.errors == 0  # type: ignore[attr-defined]
    owned = set(range(PARTITIONS))
    python.assign(owned)
    native_pipeline.assign(owned)
    assert native_pipeline.view.open_by_priority(owned) == python.view.open_by_priority(owned)
    assert native_pipeline.view.open_ages(owned) == python.view.open_ages(owned)
    assert native_pipeline.view.breach_forecast(owned) == python.view.breach_forecast(owned)
    fields = {field for record in python_tables.totals.values() for field in record}
    scored = {"predicted_csat_count|explicit", "predicted_csat_count|inactivity",
              "predicted_csat_checks_total|learned",
              "predicted_csat_checks_total|held_out"}  # fmt: skip
    if predictions:  # the models learned, predicted and were checked, on both sides
        assert scored <= fields, sorted(f for f in fields if "predicted" in f)
        assert python_tables.models
    else:
        assert not any("predicted" in field for field in fields)


async def test_a_native_pipeline_takes_up_the_tables_half_way(native: ModuleType) -> None:
    """A worker restarted on the native core reads the Python core's tables as the Python
    core does: the same as a Python worker restarted at the same point."""
    settings = Settings.model_validate(COMMON)
    stream = _stream(3, settings)
    half = len(stream) // 2
    ends = {}
    for second_core in ("python", "native"):
        tables = Tables.in_memory()
        letters: list[tuple[int, bytes]] = []
        await _run(_pipeline("python", tables, letters), stream[:half])
        second = _pipeline(second_core, tables, letters)
        second.assign(set(range(PARTITIONS)))
        await _run(second, stream[half:])
        ends[second_core] = (tables, _letters(letters))
    _tables_equal(ends["native"][0], ends["python"][0])
    assert ends["native"][1] == ends["python"][1]


async def test_the_states_kept_are_shared_out_among_the_owned_partitions(
    native: ModuleType,
) -> None:
    """`SOCIALCARE_STATE_CACHE_CONVERSATIONS` bounds a worker's states, shared out among
    the partitions it owns (a tenth under the share left after each trim): 40 over four
    partitions, 10 each, and the tables the same as with every state kept."""
    settings = Settings.model_validate(COMMON)
    stream = _stream(4, settings)
    letters: list[tuple[int, bytes]] = []
    kept, whole = Tables.in_memory(), Tables.in_memory()
    pipeline = _pipeline("native", kept, letters, state_cache_conversations=40)
    pipeline.assign(set(range(PARTITIONS)))
    await _run(pipeline, stream)
    assert pipeline.native is not None
    held = [core.sizes()[1] for core in pipeline.native.cores.values()]
    assert len(held) == PARTITIONS and max(held) <= 10 and min(held) >= 9, held
    await _run(_pipeline("native", whole, letters), stream)
    _tables_equal(kept, whole)
