"""The conversation summary against the whole-timeline reference (tests/conversation_reference.py).

Random conversations (ties, reopenings, inactivity, stopped waits, late openings, surveys,
redirections) are folded through `processor.domain.conversation` the way the pipeline does
it: in an arrival order within the allowed lateness, each event after settling the state to
the watermark, the clock swept now and then. The sum of the changes it returns must equal
what the reference (which re-walks every post of the final timeline) says the conversation
contributes. Events the lateness rule rejects are left out of the reference too.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import orjson
import pytest

from processor.domain import conversation, thread_tail
from processor.domain.conversation import ConversationRules, ConversationState
from processor.domain.events import Mention, Redirection, Reply, Survey
from processor.metrics.series import Contributions, SeriesKey
from tests import conversation_reference as reference
from tests.unit.domain.test_conversation import T0, event, policies

AnyEvent = Mention | Reply | Redirection | Survey
RULES = (
    ConversationRules(inactivity_seconds=1800.0, at_risk_margin_seconds=300.0),
    ConversationRules(inactivity_seconds=0.0, at_risk_margin_seconds=0.0),
    ConversationRules(teams=frozenset({"tier1"})),
)


def random_thread(rng: random.Random, posts: int) -> list[AnyEvent]:
    """A conversation's events on a coarse time grid (ties are common)."""
    span = rng.choice([3600.0, 4 * 3600.0, 48 * 3600.0])
    step = rng.choice([60.0, 300.0])
    events: list[AnyEvent] = []
    for _ in range(posts):
        at = float(int(rng.uniform(0, span) / step) * step)
        kind = rng.choices(["mention", "reply", "redirection", "survey"], [45, 45, 5, 5])[0]
        if kind == "mention":
            fields: dict[str, Any] = {"sentiment": rng.choice([None, -0.8, -0.3, 0.0, 0.6])}
            if rng.random() < 0.2:
                fields["customer_value"] = rng.choice([10.0, 250.0])
        elif kind == "reply":
            automated = rng.random() < 0.2  # a bot's resolution stops a wait unanswered
            fields = {"in_reply_to": "post-1", "automated": automated,
                      "resolves": rng.random() < (0.5 if automated else 0.15),
                      "agent_id": "a-1", "team": rng.choice([None, "tier1", "tier2"])}  # fmt: skip
        elif kind == "redirection":
            fields = {"to_channel": rng.choice(["dm", "email"])}
        else:
            kind_of_survey = rng.choice(["csat", "nps"])
            score = rng.randint(1, 5) if kind_of_survey == "csat" else rng.randint(0, 10)
            fields = {"kind": kind_of_survey, "score": score}
        events.append(event(kind, at, **fields))
    return events


def total(changes: list[Contributions]) -> Counter[SeriesKey]:
    summed: Counter[SeriesKey] = Counter()
    for change in changes:
        for key, amount in change.items():
            summed[key] += amount
    return Counter({key: amount for key, amount in summed.items() if abs(amount) > 1e-9})


def expected(events: list[AnyEvent], rules: ConversationRules, swept: float | None) -> Counter:
    state = reference.ConversationState(conversation_id="tw-1", partition=2)
    for item in events:
        reference.apply_event(state, item, policies(), rules)  # type: ignore[arg-type]
    state.swept_until = swept
    contributed = reference.contributions(state)
    return Counter({key: amount for key, amount in contributed.items() if abs(amount) > 1e-9})


def fold(
    events: list[AnyEvent], rng: random.Random, rules: ConversationRules, lateness: float
) -> tuple[list[AnyEvent], ConversationState, list[Contributions]]:
    """The pipeline's way: arrival order within `lateness`, settle, apply, sweep now and then."""
    arrival = sorted(events, key=lambda item: item.occurred_ts + rng.uniform(0, lateness * 1.2))
    state = ConversationState(conversation_id="tw-1", partition=2)
    changes: list[Contributions] = []
    counted: list[AnyEvent] = []
    stream_time: float | None = None
    for item in arrival:
        at = item.occurred_ts
        if stream_time is not None and at < stream_time - lateness:
            continue  # dead-lettered as too late
        assert not conversation.settled_before(state, at)
        conversation.settle(state, None if stream_time is None else stream_time - lateness)
        changes.append(conversation.apply_event(state, item, policies(), rules))
        counted.append(item)
        stream_time = at if stream_time is None else max(stream_time, at)
        if rng.random() < 0.3:
            now = stream_time - rng.uniform(0, lateness)
            swept = conversation.sweep(state, now)
            if swept is not None:
                changes.append(swept)
        # The stored form must carry everything: continue from a round trip now and then.
        if rng.random() < 0.3:
            state = ConversationState.from_json(state.to_json(), state.chunk_store)
    return counted, state, changes


@pytest.fixture(params=[64, 3], ids=["chunks-of-64", "chunks-of-3"])
def chunk_marks(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """The tail's chunk size: the default, and a tiny one so that every thread spans many
    chunks (appends close them, out-of-order events split them, settling reads them)."""
    monkeypatch.setattr(thread_tail, "CHUNK_MARKS", request.param)
    return int(request.param)


@pytest.mark.parametrize("seed", range(8))
def test_summary_sums_to_the_reference_in_any_arrival_order(seed: int, chunk_marks: int) -> None:
    rng = random.Random(seed)
    checked = 0
    for case in range(150):
        rules = RULES[case % len(RULES)]
        events = random_thread(rng, rng.choice([1, 2, 5, 12, 40]))
        lateness = rng.choice([0.0, 600.0, 3600.0, 10 * 3600.0])
        counted, state, changes = fold(events, rng, rules, lateness)
        final_now = max(item.occurred_ts for item in counted) + rng.choice([0.0, 7200.0, 1e6])
        swept = conversation.sweep(state, final_now)
        if swept is not None:
            changes.append(swept)
        want = expected(counted, rules, state.swept_until)
        assert total(changes) == want, (seed, case, lateness)
        checked += bool(want)
    assert checked > 100  # the cases are not empty


def test_long_in_order_thread_steps_without_replaying() -> None:
    """2,000 posts in order, settled as they go: the tail stays within the lateness, the
    document within one chunk of marks, and the sum still equals the reference."""
    rules = ConversationRules(inactivity_seconds=0.0)
    events: list[AnyEvent] = []
    for post in range(2000):
        at = post * 30.0
        if post % 2 == 0:
            events.append(event("mention", at, sentiment=-0.4))
        else:
            events.append(event("reply", at, in_reply_to="p", team="tier1",
                                resolves=post % 200 == 199))  # fmt: skip
    state = ConversationState(conversation_id="tw-1", partition=2)
    changes = []
    longest_tail = largest_document = 0
    for item in events:
        conversation.settle(state, item.occurred_ts - 3600.0)
        changes.append(conversation.apply_event(state, item, policies(), rules))
        unsettled = len(state.tail) + sum(ref[3] for ref in state.chunks)
        longest_tail = max(longest_tail, unsettled)
        largest_document = max(largest_document, len(orjson.dumps(state.to_json())))
    # an hour of posts (121 marks, with a resolving one) and at most a chunk more, since
    # a chunk leaves the tail once the next one starts before the watermark
    assert 3600 // 30 <= longest_tail <= 3600 // 30 + 2 + thread_tail.CHUNK_MARKS
    # the closed chunks stored: an hour of them, and the one the watermark is in
    closed = len(state.chunk_store.chunks)  # type: ignore[attr-defined]
    assert closed <= 3600 // 30 // thread_tail.CHUNK_MARKS + 2
    assert largest_document < 3_000  # the open chunk and the walks, whatever the length
    want = expected(events, rules, None)
    assert total(changes) == want
    assert want[SeriesKey("socialcare_resolutions", ("AcmeSupport", "twitter",
                          "explicit"), T0 + 199 * 30.0)] == 1.0  # fmt: skip


def test_an_event_older_than_the_settled_history_is_refused() -> None:
    state = ConversationState(conversation_id="tw-1", partition=2)
    conversation.apply_event(state, event("mention", 0.0), policies())
    conversation.settle(state, T0 + 100.0)
    assert conversation.settled_before(state, T0 + 50.0)
    assert not conversation.settled_before(state, T0 + 100.0)


@pytest.mark.parametrize("seed", range(4))
def test_a_whole_timeline_document_upgrades_to_the_same_contributions(seed: int) -> None:
    """States stored by the version before the summary (the reference's document form) are
    read as summaries that contribute what they contributed, and continue from there."""
    rng = random.Random(1000 + seed)
    for case in range(100):
        rules = RULES[case % len(RULES)]
        events = random_thread(rng, rng.choice([1, 3, 8, 30]))
        old = reference.ConversationState(conversation_id="tw-1", partition=2)
        for item in events[:-1]:
            reference.apply_event(old, item, policies(), rules)  # type: ignore[arg-type]
        old.swept_until = max(item.occurred_ts for item in events) - 600.0
        document = orjson.loads(orjson.dumps(old.to_json()))
        upgraded = ConversationState.from_json(document)
        assert "posts" in document and "walk" not in document
        want = Counter({k: v for k, v in reference.contributions(old).items() if v})
        assert Counter({k: v for k, v in conversation.live(upgraded).items() if v}) == want
        # the next event changes it as it changes the old state
        change = conversation.apply_event(upgraded, events[-1], policies(), rules)
        reference.apply_event(old, events[-1], policies(), rules)  # type: ignore[arg-type]
        want_change = reference.difference(want, reference.contributions(old))
        assert Counter({k: v for k, v in change.items() if abs(v) > 1e-9}) == Counter(
            {k: v for k, v in want_change.items() if abs(v) > 1e-9}
        )


@pytest.mark.parametrize("seed", range(6))
def test_chunked_tail_keeps_every_unsettled_mark_in_order(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Appends, inserts anywhere and settling against a plain sorted list."""
    monkeypatch.setattr(thread_tail, "CHUNK_MARKS", 4)
    rng = random.Random(seed)
    state = ConversationState(conversation_id="tw-1", partition=2)
    model: list[tuple[float, str]] = []
    stepped: list[tuple[float, str]] = []
    settled_until = 0.0
    for _ in range(600):
        at = settled_until + rng.choice([0.0, 1.0, 5.0, 30.0, 200.0])
        mark = (at, rng.choice(["c", "b", "htier1", "r"]))
        latest = max([m[0] for m in model] or [0.0])
        if model and at >= latest and rng.random() < 0.7:
            mark = (latest + rng.choice([0.0, 3.0]), "r")  # after every mark: appended
            thread_tail.append(state, mark)
        else:
            thread_tail.insert(state, mark)
        model.append(mark)
        model.sort(key=thread_tail.mark_key)
        if rng.random() < 0.2:
            settled_until += rng.choice([10.0, 60.0])
            thread_tail.settle(state, settled_until, stepped.append)
            # whatever left the tail is older than the watermark, and left in order
            assert all(m[0] < settled_until for m in stepped)
        assert stepped + list(thread_tail.marks(state)) == model
        assert all(ref[3] <= 8 for ref in state.chunks)  # split past twice the size
    assert state.chunks, "the tail spanned chunks"
    thread_tail.drop(state)
    assert state.chunk_store.chunks == {}  # type: ignore[attr-defined]
