"""Unit tests of the synthetic traffic generator (processor/ingest/synthetic.py).

The generator feeds demos, load tests and backfill tests, so it must be repeatable, honour the
v1 contract and look like real care traffic (shares close to the profile).
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from processor.ingest.synthetic import (
    DEFAULT_PROFILE,
    SyntheticTraffic,
    TrafficProfile,
    format_event_time,
    to_json_lines,
)
from tests.schemas import validators

START = 1_795_000_000.25  # 2026-11-18T11:06:40.250Z, deliberately not on a second boundary
HOUR = 3600.0
DAY = 86_400.0
TYPES = ("mention", "reply", "redirection", "survey")
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"

Event = dict[str, object]


def ts(event: Event) -> float:
    """Event time as POSIX seconds."""
    value = event["occurred_at"]
    assert isinstance(value, str)
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def by_conversation(events: list[Event]) -> dict[object, list[Event]]:
    """Events grouped per conversation, in emission order."""
    grouped: dict[object, list[Event]] = defaultdict(list)
    for event in events:
        grouped[event["conversation_id"]].append(event)
    return grouped


def human_replies(conversation: list[Event]) -> list[Event]:
    return [e for e in conversation if e["type"] == "reply" and not e["automated"]]


@pytest.fixture(scope="module")
def hour_events() -> list[Event]:
    return SyntheticTraffic(START, seed=7).advance(START + HOUR)


@pytest.fixture(scope="module")
def day_events() -> list[Event]:
    """A day of traffic plus 8 hours so that conversations opened early have finished."""
    return SyntheticTraffic(START, seed=11).advance(START + DAY + 8 * HOUR)


@pytest.fixture(scope="module")
def day_conversations(day_events: list[Event]) -> list[list[Event]]:
    """Conversations opened in the first 16 hours: their first reply (<= 6 h) is known."""
    grouped = by_conversation(day_events)
    return [c for c in grouped.values() if ts(c[0]) < START + 16 * HOUR]


def test_same_seed_same_events() -> None:
    first = SyntheticTraffic(START, seed=3).advance(START + HOUR)
    second = SyntheticTraffic(START, seed=3).advance(START + HOUR)
    assert first
    assert first == second
    other = SyntheticTraffic(START, seed=4).advance(START + HOUR)
    assert other != first


def test_events_sorted_and_within_range(hour_events: list[Event]) -> None:
    times = [ts(e) for e in hour_events]
    assert times == sorted(times)
    assert all(START - 1e-6 <= t <= START + HOUR + 1e-6 for t in times)
    assert [e["occurred_at"] for e in hour_events] == sorted(
        str(e["occurred_at"]) for e in hour_events
    )


def test_successive_calls_equal_one_big_call() -> None:
    whole = SyntheticTraffic(START, seed=5).advance(START + 3 * HOUR)
    live = SyntheticTraffic(START, seed=5)
    pieces: list[Event] = []
    assert live.advance(START - 10.0) == []  # before the start: nothing
    now = START
    while now < START + 600:  # ten minutes of live ticks, one per second
        now += 1.0
        pieces.extend(live.advance(now))
    pieces.extend(live.advance(now - 30.0))  # the clock going back yields nothing new
    pieces.extend(live.advance(now))  # the same "until" twice yields nothing new
    for step in (0.001, 59.999, 123.4, 1800.0, 3600.0):
        now += step
        pieces.extend(live.advance(now))
    pieces.extend(live.advance(START + 3 * HOUR))
    assert pieces == whole


def test_event_ids_unique_and_json_ready(hour_events: list[Event]) -> None:
    ids = [e["event_id"] for e in hour_events]
    assert len(ids) == len(set(ids))
    for event in hour_events:
        assert all(isinstance(k, str) for k in event)
        assert all(type(v) in (str, int, float, bool) for v in event.values()), event
        assert isinstance(event["occurred_at"], str) and TIME_RE.match(event["occurred_at"])
        assert event["schema_version"] == 1
        for field in ("event_id", "type", "occurred_at", "conversation_id", "brand", "channel"):
            assert isinstance(event[field], str) and event[field]
        assert event["brand"] in DEFAULT_PROFILE.brands
        assert event["channel"] in DEFAULT_PROFILE.channels


def test_conversation_opens_with_its_mention(hour_events: list[Event]) -> None:
    for conversation_id, conversation in by_conversation(hour_events).items():
        opening = conversation[0]
        assert opening["type"] == "mention"
        assert opening["event_id"] == conversation_id
        assert "in_reply_to" not in opening
        assert all(ts(e) >= ts(opening) for e in conversation)
        assert len({(e["brand"], e["channel"]) for e in conversation}) == 1
        assert all(e["type"] != "mention" or "in_reply_to" in e for e in conversation[1:])


def test_in_reply_to_points_to_an_earlier_post_of_the_thread(day_events: list[Event]) -> None:
    for conversation in by_conversation(day_events).values():
        seen: dict[object, Event] = {}
        for event in conversation:
            if "in_reply_to" in event:
                parent = seen[event["in_reply_to"]]
                assert parent["type"] in ("mention", "reply")
                if event["type"] == "mention":  # a follow-up answers the brand
                    assert parent["type"] == "reply" and not parent["automated"]
                    assert event["author_id"] == conversation[0]["author_id"]
                else:
                    assert parent["type"] == "mention"
            seen[event["event_id"]] = event


def test_all_four_types_in_an_hour(hour_events: list[Event]) -> None:
    counts = Counter(e["type"] for e in hour_events)
    assert set(counts) == set(TYPES)
    assert counts["mention"] > counts["redirection"] > 0


def test_field_values(day_events: list[Event]) -> None:
    agent_re = re.compile(r"^agent-(" + "|".join(DEFAULT_PROFILE.brands) + r")-\d+$")
    for event in day_events:
        if event["type"] == "mention":
            assert re.match(r"^cust-\d+$", str(event["author_id"]))
            assert event["priority"] in ("low", "normal", "high", "urgent")
            assert event["inquiry_type"] in (
                "complaint",
                "feedback",
                "recommendation",
                "question",
                "praise",
                "other",
            )
            sentiment = event["sentiment"]
            assert isinstance(sentiment, float) and -1.0 <= sentiment <= 1.0
            if event["inquiry_type"] == "complaint" and "in_reply_to" not in event:
                assert sentiment < 0
            assert event["language"] == "en"
            assert isinstance(event["text"], str) and event["text"]
            value = event.get("customer_value", 0.0)
            assert isinstance(value, float) and value >= 0
        elif event["type"] == "reply":
            assert isinstance(event["text"], str) and event["text"]
            if event["automated"]:
                assert event["agent_id"] == "bot" and event["resolves"] is False
            else:
                assert agent_re.match(str(event["agent_id"]))
                assert event["team"] in ("tier1", "tier2", "social")
            assert isinstance(event["public"], bool) and isinstance(event["resolves"], bool)
        elif event["type"] == "redirection":
            assert event["to_channel"] in ("dm", "chat", "voice", "email")
            assert agent_re.match(str(event["agent_id"]))
            assert isinstance(event["reason"], str)
        else:
            assert event["type"] == "survey"
            score = event["score"]
            assert type(score) is int
            if event["kind"] == "csat":
                assert 1 <= score <= 5
            else:
                assert event["kind"] == "nps" and 0 <= score <= 10
            assert isinstance(event["survey_id"], str)
    assert len({e["author_id"] for e in day_events if e["type"] == "mention"}) > 10_000


def test_conversation_flow(day_conversations: list[list[Event]]) -> None:
    for conversation in day_conversations:
        opened = ts(conversation[0])
        bots = [e for e in conversation if e["type"] == "reply" and e["automated"]]
        humans = human_replies(conversation)
        assert len(bots) <= 1
        if bots:
            assert 5.0 - 1e-3 <= ts(bots[0]) - opened <= 30.0 + 1e-3
            if humans:
                assert ts(humans[0]) > ts(bots[0])
        if humans:
            assert 15.0 - 1e-3 <= ts(humans[0]) - opened <= 6 * HOUR + 1e-3
        for redirection in (e for e in conversation if e["type"] == "redirection"):
            # A redirection happens together with a reply by the same agent.
            assert any(
                r["occurred_at"] == redirection["occurred_at"]
                and r["agent_id"] == redirection["agent_id"]
                for r in humans
            )
        resolving = [e for e in humans if e["resolves"]]
        assert len(resolving) <= 1
        if resolving:
            assert resolving[0] is humans[-1]
        surveys = [e for e in conversation if e["type"] == "survey"]
        if surveys:
            assert resolving and len(surveys) == 1
            assert 2 * 60 - 1e-3 <= ts(surveys[0]) - ts(resolving[0]) <= 45 * 60 + 1e-3
        if not humans:
            assert len(conversation) == 1 + len(bots)


def test_shares_follow_the_profile(day_conversations: list[list[Event]]) -> None:
    p = DEFAULT_PROFILE
    total = len(day_conversations)
    answered = [c for c in day_conversations if human_replies(c)]
    resolved = [c for c in answered if any(e["resolves"] for e in human_replies(c))]

    def share(part: int, whole: int) -> float:
        return part / whole

    assert abs(share(total - len(answered), total) - p.unanswered_share) < 0.02
    bot_first = sum(1 for c in day_conversations if c[1:] and c[1].get("automated") is True)
    assert abs(share(bot_first, total) - p.bot_first_share) < 0.02
    slow = sum(1 for c in answered if ts(human_replies(c)[0]) - ts(c[0]) >= 1800)
    assert abs(share(slow, len(answered)) - p.slow_reply_share) < 0.02
    redirected = sum(1 for c in answered if any(e["type"] == "redirection" for e in c))
    assert abs(share(redirected, len(answered)) - p.redirect_share) < 0.02
    follow_up = sum(1 for c in answered if any(e["type"] == "mention" for e in c[1:]))
    assert abs(share(follow_up, len(answered)) - p.follow_up_share) < 0.02
    assert abs(share(len(resolved), len(answered)) - p.resolve_share) < 0.03
    surveyed = sum(1 for c in resolved if any(e["type"] == "survey" for e in c))
    assert abs(share(surveyed, len(resolved)) - p.survey_share) < 0.03

    # Normal first replies: lognormal around 4 minutes.
    fast = sorted(
        ts(human_replies(c)[0]) - ts(c[0])
        for c in answered
        if ts(human_replies(c)[0]) - ts(c[0]) < 1800
    )
    assert 120 < fast[len(fast) // 2] < 480


def test_scores_skew_good(day_events: list[Event]) -> None:
    csat = [e["score"] for e in day_events if e.get("kind") == "csat"]
    nps = [e["score"] for e in day_events if e.get("kind") == "nps"]
    assert csat and nps
    assert sum(1 for s in csat if s in (4, 5)) / len(csat) > 0.55
    promoters = sum(1 for s in nps if s in (9, 10))
    detractors = sum(1 for s in nps if s in range(7))
    assert promoters > detractors


def test_rate_matches_profile_and_bursts_happen(day_events: list[Event]) -> None:
    openings = [e for e in day_events if e["type"] == "mention" and "in_reply_to" not in e]
    in_day = [e for e in openings if ts(e) <= START + DAY]
    per_minute = len(in_day) / (DAY / 60)
    assert abs(per_minute - DEFAULT_PROFILE.conversations_per_minute) < 0.15 * 30
    # Crises: some brand-minutes carry several times the calm rate (10 per brand and minute).
    brand_minutes = Counter((e["brand"], int((ts(e) - START) // 60)) for e in in_day)
    assert max(brand_minutes.values()) > 40


def test_no_bursts_and_custom_profile() -> None:
    profile = TrafficProfile(
        brands=("OnlyBrand",),
        channels=("tiktok",),
        conversations_per_minute=6.0,
        burst_probability=0.0,
        unanswered_share=0.0,
        bot_first_share=0.0,
        slow_reply_share=0.0,
        follow_up_share=0.0,
        redirect_share=0.0,
        resolve_share=1.0,
        survey_share=1.0,
    )
    events = SyntheticTraffic(START, seed=1, profile=profile).advance(START + 6 * HOUR)
    grouped = by_conversation(events)
    finished = [c for c in grouped.values() if ts(c[0]) < START + 2 * HOUR]
    assert 600 < len(finished) < 840  # 720 expected
    assert {e["brand"] for e in events} == {"OnlyBrand"}
    assert {e["channel"] for e in events} == {"tiktok"}
    assert not any(e["type"] == "redirection" for e in events)
    for conversation in finished:
        assert [e["type"] for e in conversation][-1] == "survey"
        assert sum(1 for e in conversation if e["type"] == "mention") == 1


def test_zero_rate_is_silent() -> None:
    profile = TrafficProfile(conversations_per_minute=0.0)
    assert SyntheticTraffic(START, profile=profile).advance(START + DAY) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"brands": ()},
        {"channels": ()},
        {"conversations_per_minute": -1.0},
        {"conversations_per_minute": float("inf")},
        {"unanswered_share": 1.5},
        {"survey_share": -0.1},
        {"burst_probability": 2.0},
    ],
)
def test_profile_rejects_nonsense(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        TrafficProfile(**kwargs)


def test_advance_rejects_infinite_until() -> None:
    traffic = SyntheticTraffic(START)
    with pytest.raises(ValueError):
        traffic.advance(float("inf"))
    with pytest.raises(ValueError):
        traffic.advance(float("nan"))


def test_memory_stays_bounded() -> None:
    traffic = SyntheticTraffic(START, seed=2, profile=TrafficProfile(conversations_per_minute=5.0))
    pending: list[int] = []
    now = START
    for _ in range(3 * 24):  # three days, hour by hour
        now += HOUR
        traffic.advance(now)
        pending.append(traffic.pending_events)
    # Only conversations still in progress are held: a few hours' worth, not the whole run.
    assert max(pending) < 3_000
    assert max(pending[48:]) < 2 * max(pending[:24])
    assert traffic.conversations_started > 15_000


def test_format_event_time() -> None:
    assert format_event_time(0) == "1970-01-01T00:00:00.000Z"
    assert format_event_time(1_795_000_000_123) == "2026-11-18T11:06:40.123Z"
    assert format_event_time(1_795_046_399_999) == "2026-11-18T23:59:59.999Z"


def test_to_json_lines(hour_events: list[Event]) -> None:
    sample = hour_events[:50]
    lines = list(to_json_lines(sample))
    assert len(lines) == len(sample)
    for line, event in zip(lines, sample, strict=True):
        assert line.endswith("\n") and line.count("\n") == 1
        assert json.loads(line) == event
        assert line == json.dumps(event, separators=(",", ":")) + "\n"
    assert list(to_json_lines([])) == []


def _schema_validators() -> dict[str, Any]:
    """A draft 2020-12 validator per event type, resolving `common.schema.json` references."""

    if not SCHEMAS.is_dir():
        pytest.skip(f"{SCHEMAS} does not exist yet (the schemas are written separately)")
    missing = [t for t in (*TYPES, "common") if not (SCHEMAS / f"{t}.schema.json").is_file()]
    if missing:
        pytest.skip(f"schemas not written yet: {', '.join(missing)}")
    return {event_type: validators()[event_type] for event_type in TYPES}


def test_events_validate_against_schemas(hour_events: list[Event]) -> None:
    validators = _schema_validators()
    seen: Counter[object] = Counter()
    for event in hour_events:
        errors = list(validators[str(event["type"])].iter_errors(event))
        assert not errors, (event, [e.message for e in errors])
        seen[event["type"]] += 1
    assert set(seen) == set(TYPES)
    # And the schemas do bite: a survey with an out-of-range score is rejected.
    survey = next(e for e in hour_events if e["type"] == "survey")
    assert not validators["survey"].is_valid({**survey, "kind": "csat", "score": 9})


def test_compress_time_maps_simulated_to_wall_time() -> None:
    from processor.ingest.live import compress_time
    from processor.ingest.producer import event_time

    start = 1_800_000_000.0
    # 3,600 simulated seconds after start at 60x are 60 wall seconds after start
    event = {"event_id": "e", "occurred_at": "2027-01-15T09:00:00.000Z"}
    simulated = event_time(event)
    compressed = compress_time(event, start, 60.0)
    assert event_time(compressed) == pytest.approx(start + (simulated - start) / 60, abs=0.001)
    assert compressed["event_id"] == "e" and event["occurred_at"] == "2027-01-15T09:00:00.000Z"
    assert (
        compress_time({"occurred_at": "2027-01-15T08:00:00.000Z"}, 1800000000.0 - 0, 1.0)[
            "occurred_at"
        ]
        == "2027-01-15T08:00:00.000Z"
    )
