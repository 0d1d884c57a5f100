"""processor.stream.pipeline.Pipeline driven with plain dicts as tables (no Kafka, no Redis).

The Pipeline takes its tables as mappings and its dedup / health / dead-letter sink as
protocols, so these are the real code paths with in-memory stand-ins.

Times: T0 = 2017-10-31T22:00:00Z = 1509408000 + 22*3600 = 1509487200, a multiple of 900
(and so of 60): bucket starts are T0 + a multiple of the bucket size. The wall clock is
fixed at T0 + 3600. Settings (EVENT_CLOCK): event clock, allowed lateness 60 s, 4 partitions,
no resolution by inactivity and no at-risk margin (the first-response view the older tests
were written for; DEFAULT_RULES_CLOCK keeps the defaults: inactivity 24 h, margin 600 s);
SLA default first response 15 min (900 s), next response 1 h, resolution 8 h.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator, FormatChecker

from processor.domain import conversation
from processor.domain.conversation import ConversationState
from processor.domain.events import Rejection
from processor.domain.identity import CONFLICT, DUPLICATE, FIRST, Sighting
from processor.domain.sla import SlaPolicyCache, SlaPolicySet, SlaTargets
from processor.metrics.series import totals_key, window_key
from processor.metrics.windows import sum_windows
from processor.settings import Settings
from processor.state.records import Outgoing
from processor.stream.conversations import INDEX_FIELD
from processor.stream.customers import decode_facts, partition_for
from processor.stream.deadletters import TopicDeadLetters
from processor.stream.interfaces import Message
from processor.stream.pipeline import Pipeline
from processor.stream.tables import Tables
from tests.series_form import contributions, conversation_side

T0 = 1509487200.0
WALL = T0 + 3600
BRAND = "Acme"
TICKS = "socialcare-clock-ticks"
TOPICS = {
    "mention": "social.mentions",
    "reply": "social.replies",
    "redirection": "social.redirections",
    "survey": "social.surveys",
}
SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"
DROP = object()  # a field value meaning "leave this field out"
EVENT_CLOCK = Settings(
    clock="event",
    allowed_lateness_seconds=60,
    partitions=4,
    inactivity_resolution_seconds=0,
    at_risk_margin_seconds=0,
)
DEFAULT_RULES_CLOCK = Settings(clock="event", allowed_lateness_seconds=60, partitions=4)


LOG_OFFSETS = itertools.count()


class SetDedup:
    """The Redis window's rule, written out again: an id is new or marked by the same
    record (first), marked with the same content digest (a copy), or with another (a
    conflict)."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[str, str]] = {}

    async def sightings(self, event_ids: list[str], marks: list[str]) -> list[Sighting]:
        verdicts = []
        for event_id, mark in zip(event_ids, marks, strict=True):
            position, digest = mark.split(" ")
            first_position, first_digest = self.seen.setdefault(event_id, (position, digest))
            if first_position == position:
                verdicts.append(Sighting(FIRST))
            elif first_digest == digest:
                verdicts.append(Sighting(DUPLICATE, first_position))
            else:
                verdicts.append(Sighting(CONFLICT, first_position))
        return verdicts

    async def forget(self, event_ids: list[str]) -> None:
        for event_id in event_ids:
            self.seen.pop(event_id, None)


class RecordingHealth:
    def __init__(self) -> None:
        self.outcomes: list[tuple[str, str]] = []
        self.dead: list[str] = []
        self.errors = 0
        self.overflows: dict[str, int] = {}
        self.observed: list[tuple[float, float | None]] = []

    def processed(self, event_type: str, outcome: str) -> None:
        self.outcomes.append((event_type, outcome))

    def processed_counts(self, counts: Mapping[tuple[str, str], int]) -> None:
        for outcome, amount in counts.items():
            self.outcomes.extend([outcome] * amount)

    def dead_lettered(self, reason: str) -> None:
        self.dead.append(reason)

    def processing_error(self) -> None:
        self.errors += 1

    def overflowed(self, label: str, events: int) -> None:
        self.overflows[label] = self.overflows.get(label, 0) + events

    def observe_events(
        self, event_times: Sequence[float], produced_at: Sequence[float | None]
    ) -> None:
        self.observed.extend(zip(event_times, produced_at, strict=True))


class Harness:
    """A Pipeline over plain dicts, plus helpers to feed it events."""

    def __init__(
        self,
        tables: dict[str, dict[Any, Any]] | None = None,
        settings: Settings = EVENT_CLOCK,
        send_contact: Callable[[int, Outgoing], None] | None = None,
    ) -> None:
        self.tables = tables or {
            "conversations": {}, "threads": {}, "totals": {}, "windows": {}, "clocks": {},
            "progress": {}, "seen": {}, "customers": {}, "models": {},
        }  # fmt: skip
        self.dedup = SetDedup()
        self.health = RecordingHealth()
        self.dead_letters: list[tuple[bytes | None, dict[str, Any]]] = []
        self.settings = settings
        self.policies = SlaPolicyCache(
            SlaPolicySet(
                default=SlaTargets(
                    first_response=timedelta(minutes=15), resolution=timedelta(hours=8)
                )
            )
        )
        self.offset = 0
        self.pipeline = Pipeline(
            self.settings,
            tables=Tables(**self.tables),
            policies=self.policies,
            dedup=self.dedup,
            health=self.health,
            dead_letters=TopicDeadLetters(self._sink, self.health, lambda: WALL),
            wall_clock=lambda: WALL,
            send_contact=send_contact,
        )

    async def _sink(self, partition: int, key: bytes | None, value: bytes) -> None:
        self.dead_letters.append((key, orjson.loads(value)))

    @property
    def totals(self) -> dict[str, Any]:
        """The conversations' side of the totals (the customers' side: `customer_totals`)."""
        return conversation_side(self.tables["totals"])

    @property
    def windows(self) -> dict[str, Any]:
        return conversation_side(self.tables["windows"])

    @property
    def customer_totals(self) -> dict[str, Any]:
        return conversation_side(self.tables["totals"], customers=True)

    @property
    def conversations(self) -> dict[str, Any]:
        """The stored states by conversation id (keys name the partition; index entries out)."""
        return {
            key.split("|", 1)[1]: {
                name: value for name, value in document.items() if name != INDEX_FIELD
            }
            for key, document in self.tables["conversations"].items()
        }

    async def send_raw(
        self, topic: str, partition: int, key: bytes | None, value: bytes | None
    ) -> None:
        # One log for every harness: workers sharing tables read the same topics.
        self.offset = next(LOG_OFFSETS)
        await self.pipeline.handle_batch(
            [Message(topic, partition, self.offset, key, value, timestamp=WALL)]
        )

    async def send(
        self,
        kind: str,
        conversation: str,
        offset: float,
        *,
        partition: int = 1,
        **fields: Any,
    ) -> None:
        await self.pipeline.handle_batch(
            [self.message(kind, conversation, offset, partition=partition, **fields)]
        )

    def message(
        self,
        kind: str,
        conversation: str,
        offset: float,
        *,
        partition: int = 1,
        channel: str = "twitter",
        event_id: str | None = None,
        topic: str | None = None,
        **fields: Any,
    ) -> Message:
        """An event's record (next offset of the one log), to send alone or in a batch."""
        doc: dict[str, Any] = {
            "event_id": event_id or f"{conversation}-{kind}-{offset:g}",
            "type": kind,
            "occurred_at": iso(T0 + offset),
            "conversation_id": conversation,
            "brand": BRAND,
            "channel": channel,
        }
        if kind == "mention":
            doc["author_id"] = "u-" + conversation
        doc.update(fields)
        doc = {name: value for name, value in doc.items() if value is not DROP}
        self.offset = next(LOG_OFFSETS)
        return Message(
            topic or TOPICS[kind], partition, self.offset, conversation.encode(),
            orjson.dumps(doc), timestamp=WALL,
        )  # fmt: skip

    async def tick(self, partition: int) -> None:
        await self.send_raw(TICKS, partition, b"tick", b"")


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


def tkey(channel: str, partition: int = 1) -> str:
    return totals_key(partition, BRAND, channel)


def wkey(channel: str, size: float, offset: float, partition: int = 1) -> str:
    return window_key(partition, BRAND, channel, size, T0 + offset)


async def scenario(h: Harness) -> None:
    """Three conversations on partition 1 (EVENT_CLOCK: no inactivity, no margin).

    c1 twitter: mention @0, human reply @300 (resolves)  -> met, FRT 300, resolved @300
       (explicit; 1 customer post, 1 brand post, 1 channel, one human reply: a first
       contact resolution; resolution 300 s, SLA met @300)
    c2 facebook: mention @120 (high), human reply @1500  -> deadline 1020, breached, FRT 1380;
       then awaits the customer
    c3 twitter: mention @200, bot reply @230, nothing else -> deadline 1100; the watermark
       after the reply @1500 is 1500 - 60 = 1440 >= 1100: breached by silence at 1100
    """
    await h.send("mention", "c1", 0)
    await h.send("mention", "c2", 120, channel="facebook", priority="high")
    await h.send("mention", "c3", 200)
    await h.send("reply", "c3", 230, automated=True)
    await h.send("reply", "c1", 300, resolves=True, agent_id="a-1", team="Tier 1")
    await h.send("reply", "c2", 1500, channel="facebook", agent_id="a-2")


async def test_scenario_totals() -> None:
    h = Harness()
    await scenario(h)
    assert h.totals == {
        tkey("twitter"): {
            "mentions_total": 2.0,  # c1, c3
            "mentions_by_sentiment_total|unknown": 2.0,  # no sentiment given
            "mentions_by_inquiry_type_total|unknown": 2.0,
            "conversations_opened_total": 2.0,
            "replies_total|automated": 1.0,  # c3 bot
            "replies_total|human": 1.0,  # c1
            "first_response_seconds_bucket|3": 1.0,  # c1 waited 300 -> le=300, index 3
            "first_response_seconds_sum": 300.0,
            "first_response_seconds_count": 1.0,
            "first_response_sla_total|normal|met": 1.0,  # c1
            "first_response_sla_total|normal|breached": 1.0,  # c3 by silence
            "mentions_answered_total": 1.0,  # c1's mention (a bot reply answers nothing)
            "resolutions_total|explicit": 1.0,  # c1
            # c1: resolved 300 s after opening -> RESOLUTION_BUCKETS (300, ...) index 0
            "resolution_seconds_bucket|false|0": 1.0,
            "resolution_seconds_sum|false": 300.0,
            "resolution_seconds_count|false": 1.0,
            # c1: 1 customer post and 1 brand post -> POSTS_BUCKETS (1, ...) index 0
            "posts_to_resolution_bucket|customer|0": 1.0,
            "posts_to_resolution_sum|customer": 1.0,
            "posts_to_resolution_count|customer": 1.0,
            "posts_to_resolution_bucket|brand|0": 1.0,
            "posts_to_resolution_sum|brand": 1.0,
            "posts_to_resolution_count|brand": 1.0,
            "customer_effort_channels_bucket|0": 1.0,  # 1 channel
            "customer_effort_channels_sum": 1.0,
            "customer_effort_channels_count": 1.0,
            "first_contact_resolutions_total": 1.0,  # c1
            "resolution_sla_total|normal|met": 1.0,  # c1, 300 <= 28800
            "open_conversations|breached": 1.0,  # c3; the awaiting series went back to 0
            # Teams (no SOCIALCARE_TEAMS allowlist: labels as given; no agents listed, so no
            # agent series): c1's human reply is team "Tier 1" (c3's bot reply counts for no
            # team). c1's first response (300 s, index 3) and its resolution (300 s,
            # RESOLUTION_BUCKETS index 0) are credited to "Tier 1".
            "team_replies_total|Tier 1": 1.0,
            "team_first_response_seconds_bucket|Tier 1|3": 1.0,
            "team_first_response_seconds_sum|Tier 1": 300.0,
            "team_first_response_seconds_count|Tier 1": 1.0,
            "team_resolution_seconds_bucket|Tier 1|0": 1.0,
            "team_resolution_seconds_sum|Tier 1": 300.0,
            "team_resolution_seconds_count|Tier 1": 1.0,
        },
        tkey("facebook"): {
            "mentions_total": 1.0,
            "mentions_by_sentiment_total|unknown": 1.0,
            "mentions_by_inquiry_type_total|unknown": 1.0,
            "conversations_opened_total": 1.0,
            "replies_total|human": 1.0,
            # c2 waited 1500 - 120 = 1380: 900 < 1380 <= 1800 -> index 6
            "first_response_seconds_bucket|6": 1.0,
            "first_response_seconds_sum": 1380.0,
            "first_response_seconds_count": 1.0,
            "first_response_sla_total|high|breached": 1.0,
            "mentions_answered_total": 1.0,
            "open_conversations|awaiting_customer": 1.0,  # answered, not resolved
            # c2's reply has no team: "unassigned"; FRT 1380 -> index 6 as above.
            "team_replies_total|unassigned": 1.0,
            "team_first_response_seconds_bucket|unassigned|6": 1.0,
            "team_first_response_seconds_sum|unassigned": 1380.0,
            "team_first_response_seconds_count|unassigned": 1.0,
        },
    }
    assert h.tables["clocks"] == {"1": T0 + 1500}
    assert h.dead_letters == []
    assert h.health.outcomes == [
        ("mention", "counted"),
        ("mention", "counted"),
        ("mention", "counted"),
        ("reply", "counted"),
        ("reply", "counted"),
        ("reply", "counted"),
    ]
    assert [event_time for event_time, _ in h.health.observed] == [
        T0,
        T0 + 120,
        T0 + 200,
        T0 + 230,
        T0 + 300,
        T0 + 1500,
    ]
    # c3's clock was swept to the watermark 1440 (past its deadline: breached by silence);
    # c2 was answered (late) before any sweep reached its deadline: never swept.
    assert h.conversations["c3"]["swept_until"] == T0 + 1440
    assert h.conversations["c2"]["swept_until"] is None


async def test_scenario_window_buckets() -> None:
    h = Harness()
    await scenario(h)
    met_and_resolved = {
        "first_response_sla_total|normal|met": 1.0,
        "resolutions_total|explicit": 1.0,
        "resolution_sla_total|normal|met": 1.0,
    }
    assert h.windows == {
        # fine (60 s) buckets: mention @0 -> 0, @200 -> 180, @120 -> 120; c1 met, resolved
        # and resolution SLA met @300 -> 300; c3 breached at its deadline 1100 -> 1080;
        # c2 at 1020 -> 1020
        wkey("twitter", 60.0, 0): {"mentions_total": 1.0},
        wkey("twitter", 60.0, 180): {"mentions_total": 1.0},
        wkey("twitter", 60.0, 300): met_and_resolved,
        wkey("twitter", 60.0, 1080): {"first_response_sla_total|normal|breached": 1.0},
        wkey("facebook", 60.0, 120): {"mentions_total": 1.0},
        wkey("facebook", 60.0, 1020): {"first_response_sla_total|high|breached": 1.0},
        # coarse (900 s) buckets: 0..899 -> 0, 900..1799 -> 900
        wkey("twitter", 900.0, 0): {"mentions_total": 2.0, **met_and_resolved},
        wkey("twitter", 900.0, 900): {"first_response_sla_total|normal|breached": 1.0},
        wkey("facebook", 900.0, 0): {"mentions_total": 1.0},
        wkey("facebook", 900.0, 900): {"first_response_sla_total|high|breached": 1.0},
    }
    # Sliding windows at window_now = latest event time T0+1500:
    # 5m covers fine 1260..1500 (empty); 1h covers every fine bucket here; 24h covers
    # coarse buckets from 900 - 86400 + 900 on, so both.
    twitter = [
        (start, size, conversation_side({"": values})[""])
        for _, _, channel, size, start, values in h.pipeline.view.owned_buckets({1})
        if channel == "twitter" and conversation_side({"": values})
    ]
    windows = sum_windows(twitter, h.pipeline.view.window_now(1))
    assert windows["5m"] == {}
    expected_twitter = {
        "mentions_total": 2.0,
        "first_response_sla_total|normal|breached": 1.0,
        **met_and_resolved,
    }
    assert windows["1h"] == expected_twitter
    assert windows["24h"] == expected_twitter
    assert not any(conversation_side({"": row[5]}) for row in h.pipeline.view.owned_buckets({2}))


async def test_owned_totals_by_partition() -> None:
    h = Harness()
    await h.send("mention", "p1", 0, partition=1)
    await h.send("mention", "p3", 0, partition=3)

    def owned(partitions: set[int]) -> list[tuple[int, str, str, dict[str, float]]]:
        return [row for row in h.pipeline.view.owned_totals(partitions)
                if conversation_side({"": row[3]})]  # fmt: skip

    assert [(p, b, c) for p, b, c, _ in owned({1})] == [(1, BRAND, "twitter")]
    assert sorted((p, v["mentions_total"]) for p, _, _, v in owned({1, 3})) == [(1, 1.0), (3, 1.0)]
    assert owned({0, 2}) == []


async def test_sweep_breaches_when_watermark_passes_deadline() -> None:
    h = Harness()
    await h.send("mention", "c1", 0)  # deadline 900
    # watermark = latest - 60. A mention of another conversation @959 -> watermark 899
    await h.send("mention", "c2", 959)
    assert h.totals[tkey("twitter")]["open_conversations|awaiting_first_response"] == 2.0
    assert "open_conversations|breached" not in h.totals[tkey("twitter")]
    # a tick does not move event time, so nothing changes
    await h.tick(1)
    assert "open_conversations|breached" not in h.totals[tkey("twitter")]
    # @960 -> watermark 900 >= deadline 900: c1 breached by silence
    await h.send("mention", "c3", 960)
    totals = h.totals[tkey("twitter")]
    assert totals["open_conversations|breached"] == 1.0
    assert totals["open_conversations|awaiting_first_response"] == 2.0  # c2, c3
    assert totals["first_response_sla_total|normal|breached"] == 1.0
    # fine bucket 900..959 holds the mention @959 and the breach counted at deadline 900
    assert h.windows[wkey("twitter", 60.0, 900)] == {
        "mentions_total": 1.0,
        "first_response_sla_total|normal|breached": 1.0,
    }
    # another partition's event time does not move partition 1's clock
    await h.send("mention", "q1", 5000, partition=2)
    assert h.totals[tkey("twitter")]["open_conversations|breached"] == 1.0


async def test_wall_clock_mode_uses_wall_time_for_deadlines() -> None:
    h = Harness(settings=Settings(clock="wall", allowed_lateness_seconds=60, partitions=4))
    # opened at WALL - 1000: deadline WALL - 100 already passed on the wall clock
    await h.send("mention", "c1", 3600 - 1000)
    assert h.totals[tkey("twitter")]["open_conversations|breached"] == 1.0


async def test_too_late_dead_letter() -> None:
    h = Harness()
    await h.send("mention", "c1", 1000)
    # latest 1000, lateness 60: 940 is the oldest accepted time
    await h.send("mention", "c1", 940)
    await h.send("mention", "c1", 939, event_id="late-1")
    assert h.totals[tkey("twitter")]["mentions_total"] == 2.0
    assert h.health.dead == ["too_late"]
    assert h.health.outcomes[-1] == ("mention", "deadlettered")
    key, envelope = h.dead_letters[0]
    assert key == b"c1"
    assert envelope["reason"] == "too_late"
    assert envelope["event_id"] == "late-1"
    assert envelope["source_topic"] == "social.mentions"
    assert envelope["source_partition"] == 1
    assert envelope["source_offset"] == h.offset  # the third record sent
    assert envelope["source_key"] == base64.b64encode(b"c1").decode()
    original = orjson.loads(base64.b64decode(envelope["original_value_b64"]))
    assert original["occurred_at"] == iso(T0 + 939)
    # WALL = T0 + 3600 = 2017-10-31T23:00:00Z
    assert envelope["dead_lettered_at"] == "2017-10-31T23:00:00Z"
    # the dead letter was not remembered as seen: it can be re-sent
    assert "late-1" not in h.dedup.seen


async def test_before_retention_horizon_dead_letter() -> None:
    # Replay: only the configured earliest time (default 2000-01-01T00:00:00Z = 946684800).
    h = Harness()
    await h.send_raw("social.mentions", 1, b"c0", orjson.dumps({
        "event_id": "epoch-0", "type": "mention", "occurred_at": "1970-01-01T00:00:00Z",
        "conversation_id": "c0", "brand": BRAND, "channel": "twitter", "author_id": "u",
    }))  # fmt: skip
    assert h.health.dead == ["before_retention_horizon"]
    assert "2000-01-01T00:00:00Z" in h.dead_letters[0][1]["detail"]
    assert h.tables["clocks"] == {}  # it did not move the partition's clock
    assert "epoch-0" not in h.dedup.seen
    # Live: the wall clock (T0 + 3600) less the conversation TTL (1000 s) is T0 + 2600.
    live = Harness(settings=Settings(clock="wall", conversation_ttl_seconds=1000))
    await live.send("mention", "c1", 2600)
    await live.send("mention", "c2", 2599, event_id="stale-1")
    assert live.health.dead == ["before_retention_horizon"]
    assert live.dead_letters[0][1]["event_id"] == "stale-1"
    assert live.totals[tkey("twitter")]["mentions_total"] == 1.0


async def test_reply_before_its_mention_dead_letter() -> None:
    h = Harness()
    await h.send("mention", "c1", 100, event_id="c1")
    # A reply to the opening post stamped before it: a feed or clock bug.
    await h.send("reply", "c1", 99, event_id="r-early", in_reply_to="c1")
    # At the same second, or answering another post, it is a reply like any other.
    await h.send("reply", "c1", 100, event_id="r-same", in_reply_to="c1")
    await h.send("reply", "c1", 50, event_id="r-other", in_reply_to="broadcast-1")
    assert h.health.dead == ["reply_before_mention"]
    letter = h.dead_letters[0][1]
    assert letter["event_id"] == "r-early"
    assert "before the post it answers" in letter["detail"]
    assert "r-early" not in h.dedup.seen
    assert h.totals[tkey("twitter")]["replies_total|human"] == 2.0
    # The opening mention unknown yet: the reply cannot be judged and is counted.
    await h.send("reply", "c9", 10, event_id="r-first", in_reply_to="c9", partition=2)
    await h.send("mention", "c9", 20, event_id="c9", partition=2)
    assert h.health.dead == ["reply_before_mention"]
    assert h.totals[tkey("twitter", partition=2)]["replies_total|human"] == 1.0


async def test_future_timestamp_dead_letter() -> None:
    h = Harness()
    # wall T0+3600, max future 300 s: T0+3900 is accepted, T0+3901 is not
    await h.send("mention", "c1", 3900)
    await h.send("mention", "c2", 3901, event_id="future-1")
    assert h.health.dead == ["future_timestamp"]
    assert h.dead_letters[0][1]["reason"] == "future_timestamp"
    assert h.dead_letters[0][1]["event_id"] == "future-1"
    assert h.totals[tkey("twitter")]["mentions_total"] == 1.0
    # a rejected event does not move the partition's clock
    assert h.tables["clocks"] == {"1": T0 + 3900}


async def test_invalid_messages_dead_lettered() -> None:
    h = Harness()
    await h.send_raw("social.mentions", 0, b"k", b"{not json")
    await h.send_raw("social.mentions", 0, None, None)
    await h.send_raw("social.mentions", 0, b"k", b"x" * (1_048_576 + 1))
    await h.send("mention", "c1", 0, author_id=DROP)
    await h.send("reply", "c1", 0, topic="social.mentions")
    assert h.health.dead == [
        "invalid_json",
        "invalid_json",
        "oversized",
        "schema_violation",
        "wrong_topic",
    ]
    assert h.health.outcomes == [
        ("mention", "deadlettered"),
        ("mention", "deadlettered"),
        ("mention", "deadlettered"),
        ("mention", "deadlettered"),
        ("mention", "deadlettered"),
    ]
    assert h.dead_letters[1][0] is None
    assert h.dead_letters[1][1]["source_key"] is None
    assert h.dead_letters[1][1]["original_value_b64"] == ""
    assert h.totals == {}
    assert h.conversations == {}
    # every envelope follows the dead-letter schema
    schema = json.loads((SCHEMAS / "deadletter.schema.json").read_text())
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    for _, envelope in h.dead_letters:
        assert validator.is_valid(envelope), envelope


async def test_duplicates_counted_once() -> None:
    h = Harness()
    await h.send("mention", "c1", 0, event_id="m-1")
    await h.send("mention", "c1", 0, event_id="m-1")  # redelivered (new offset)
    await h.send("reply", "c1", 100, event_id="r-1")
    await h.send("reply", "c1", 100, event_id="r-1")
    totals = h.totals[tkey("twitter")]
    assert totals["mentions_total"] == 1.0
    assert totals["conversations_opened_total"] == 1.0
    assert totals["replies_total|human"] == 1.0
    assert totals["first_response_seconds_count"] == 1.0
    assert h.conversations["c1"]["customer_posts"] == 1
    assert h.conversations["c1"]["brand_posts"] == 1
    assert h.health.outcomes == [
        ("mention", "counted"),
        ("mention", "duplicate"),
        ("reply", "counted"),
        ("reply", "duplicate"),
    ]
    assert h.dead_letters == []


@pytest.mark.parametrize("redis", ["up", "down"])
async def test_a_reused_event_id_with_other_content_is_dead_lettered_not_dropped(
    redis: str,
) -> None:
    """Issue 13: a mention of conversation c2 under the id of c1's mention. Before, it was
    dropped as a duplicate (c2 never opened, no dead letter). Now it is dead-lettered
    `conflicting_event_id`, naming where the id was first counted, and not counted; a true
    copy (same content, other whitespace and key order) is still a duplicate. With Redis
    down the state's own ids decide, without the first position."""
    h = Harness()
    if redis == "down":
        h.pipeline.dedup = RedisDown()
    await h.send("mention", "c1", 0, event_id="m-1")
    first_offset = h.offset
    await h.send("mention", "c2", 5, event_id="m-1")  # another event reusing the id
    copy = {"author_id": "u-c1", "channel": "twitter", "brand": BRAND, "conversation_id": "c1",
            "occurred_at": iso(T0), "type": "mention", "event_id": "m-1"}  # fmt: skip
    await h.send_raw(TOPICS["mention"], 1, b"c1", orjson.dumps(copy, option=orjson.OPT_INDENT_2))
    assert h.totals[tkey("twitter")]["mentions_total"] == 1.0
    assert set(h.conversations) == {"c1"}
    assert h.health.outcomes == [
        ("mention", "counted"), ("mention", "deadlettered"), ("mention", "duplicate")]  # fmt: skip
    assert h.health.dead == ["conflicting_event_id"]
    ((_, letter),) = h.dead_letters
    assert letter["reason"] == "conflicting_event_id" and letter["event_id"] == "m-1"
    assert orjson.loads(base64.b64decode(letter["original_value_b64"]))["conversation_id"] == "c2"
    where = f"(at {TOPICS['mention']}/1/{first_offset})"
    assert (where in letter["detail"]) is (redis == "up"), letter["detail"]
    # Fixed and sent again under an id of its own, it counts.
    await h.send("mention", "c2", 5, event_id="m-2")
    assert h.totals[tkey("twitter")]["mentions_total"] == 2.0


class RedisDown:
    """The Redis window while Redis is unreachable: it cannot answer."""

    async def sightings(self, event_ids: list[str], marks: list[str]) -> None:
        return None

    async def forget(self, event_ids: list[str]) -> None:
        return None


async def test_without_redis_the_state_dedups_within_the_lateness() -> None:
    # EVENT_CLOCK: lateness 60 s. The state remembers m-1 (at 0) until stream time passes 60.
    h = Harness()
    h.pipeline.dedup = RedisDown()
    await h.send("mention", "c1", 0, event_id="m-1")
    await h.send("mention", "c1", 0, event_id="m-1")  # re-sent copy: a duplicate
    assert h.totals[tkey("twitter")]["mentions_total"] == 1.0
    assert h.health.outcomes == [("mention", "counted"), ("mention", "duplicate")]
    await h.send("mention", "c2", 61)  # stream time 61: m-1 (at 0) falls behind the horizon
    seen = h.pipeline.seen
    assert seen.digest_of(1, "m-1") is None and seen.digest_of(1, "c2-mention-61") is not None
    # One record per batch: m-1's (and its copy's batch wrote none) is deleted with it.
    assert [stored[2][0][0] for stored in h.tables["seen"].values()] == ["c2-mention-61"]
    await h.send("mention", "c1", 0, event_id="m-1")  # an older copy: too late, never counted
    assert h.totals[tkey("twitter")]["mentions_total"] == 2.0  # m-1 and c2's mention
    assert h.health.dead == ["too_late"]


async def test_processing_error_forgets_dedup_and_dead_letters() -> None:
    class FailingOnce(dict[Any, Any]):
        failed = False

        def __setitem__(self, key: Any, value: Any) -> None:
            if not self.failed:
                self.failed = True
                raise RuntimeError("store down")
            super().__setitem__(key, value)

    tables: dict[str, dict[Any, Any]] = {
        "conversations": FailingOnce(),
        "threads": {},
        "totals": {},
        "windows": {},
        "clocks": {},
        "progress": {},
        "seen": {},
        "customers": {},
        "models": {},
    }
    # The Python core writes a state at once, inside the event's fold; the native core
    # hands its writes over at the batch's end (test_partition_core.py covers its
    # failures: a panic in the fold).
    h = Harness(tables, settings=EVENT_CLOCK.model_copy(update={"core": "python"}))
    await h.send("mention", "c1", 0, event_id="m-1")
    assert h.health.dead == ["processing_error"]
    assert h.health.errors == 1
    assert h.dead_letters[0][1]["detail"] == "RuntimeError: store down"
    assert "m-1" not in h.dedup.seen
    # the retry is not a duplicate and is counted
    await h.send("mention", "c1", 0, event_id="m-1")
    assert h.totals[tkey("twitter")]["mentions_total"] == 1.0


async def test_window_buckets_expire_after_retention() -> None:
    h = Harness()
    await h.send("mention", "c1", 0)
    assert set(h.windows) == {wkey("twitter", 60.0, 0), wkey("twitter", 900.0, 0)}
    # retention: fine 3600 + 60 + 60 = 3720, coarse 86400 + 60 + 900 = 87360. A bucket is
    # dropped once start < latest - retention. Wall clock is T0+3600 (max future 300), so
    # move the wall clock with the events.
    clock = [WALL]
    h.pipeline.clock.wall_clock = lambda: clock[0]
    clock[0] = T0 + 87360
    await h.send("mention", "c2", 3720)  # fine 0: 0 < 3720 - 3720 is false -> kept
    assert wkey("twitter", 60.0, 0) in h.windows
    await h.send("mention", "c3", 3721)  # fine 0: 0 < 1 -> dropped; coarse 0 kept
    assert wkey("twitter", 60.0, 0) not in h.windows
    assert wkey("twitter", 900.0, 0) in h.windows
    await h.send("mention", "c4", 87360)  # coarse 0: 0 < 0 is false -> kept
    assert wkey("twitter", 900.0, 0) in h.windows
    await h.send("mention", "c5", 87361)  # coarse 0 dropped
    assert wkey("twitter", 900.0, 0) not in h.windows
    # the later mentions keep their own buckets: fine 87360 and coarse 87300 hold the
    # mentions @87360 and @87361 (the breaches by silence swept meanwhile are counted at
    # their deadlines, in older buckets)
    assert h.windows.get(wkey("twitter", 60.0, 87360)) == {"mentions_total": 2.0}
    assert h.windows.get(wkey("twitter", 900.0, 87300)) == {"mentions_total": 2.0}
    # totals are not windowed: all five mentions are counted
    assert h.totals[tkey("twitter")]["mentions_total"] == 5.0


async def test_contribution_older_than_retention_skips_the_bucket() -> None:
    h = Harness()
    clock = [T0 + 100000]
    h.pipeline.clock.wall_clock = lambda: clock[0]
    await h.send("mention", "c1", 0)  # deadline 900
    await h.send("mention", "c2", 10000)
    # the sweep at watermark 10000 - 60 breached c1 at its deadline 900. Its fine bucket
    # (900) is older than 10000 - 3720 = 6280 when written: not created; coarse 900 is.
    assert wkey("twitter", 60.0, 900) not in h.windows
    assert h.windows[wkey("twitter", 900.0, 900)] == {
        "first_response_sla_total|normal|breached": 1.0
    }
    assert h.totals[tkey("twitter")]["first_response_sla_total|normal|breached"] == 1.0


async def test_fine_bucket_expires_while_an_older_coarse_bucket_lives() -> None:
    h = Harness()
    clock = [T0 + 10000]
    h.pipeline.clock.wall_clock = lambda: clock[0]
    await h.send("mention", "c1", 60)  # fine 60, coarse 0
    # 60 < 3781 - 3720 = 61: the fine bucket 60 is past its retention; coarse 0 is not
    await h.send("mention", "c2", 3781)
    assert wkey("twitter", 900.0, 0) in h.windows
    assert wkey("twitter", 60.0, 60) not in h.windows


async def test_forget_partitions_and_reindex_from_tables() -> None:
    tables: dict[str, dict[Any, Any]] = {
        "conversations": {},
        "threads": {},
        "totals": {},
        "windows": {},
        "clocks": {},
        "progress": {},
        "seen": {},
        "customers": {},
        "models": {},
    }
    first = Harness(tables)
    await first.send("mention", "a1", 0, partition=2)  # deadline 900
    await first.send("mention", "b1", 0, partition=3)  # deadline 900, other partition
    # Another worker owned partition 2 for a while and opened a2 there (deadline 100+900).
    second = Harness(tables)
    await second.send("mention", "a2", 100, partition=2)
    # The first worker gets partition 2 back: its derived indexes are dropped and rebuilt
    # from the tables on next use.
    first.pipeline.revoke({2})
    await first.send("mention", "a3", 1061, partition=2)  # watermark 1001 >= 1000 and 900
    # a1 and a2 were swept to the watermark 1001 (past their deadlines 900 and 1000);
    # a3 (deadline 1961) was not due, so never swept
    assert first.conversations["a1"]["swept_until"] == T0 + 1001
    assert first.conversations["a2"]["swept_until"] == T0 + 1001
    assert first.conversations["a3"]["swept_until"] is None
    # partition 3's watermark is still T0 - 60: b1 never swept
    assert first.conversations["b1"]["swept_until"] is None
    totals = tables["totals"][tkey("twitter", 2)]
    assert totals["first_response_sla_total|normal|breached"] == 2.0
    assert totals["open_conversations|breached"] == 2.0
    assert totals["open_conversations|awaiting_first_response"] == 1.0  # a3


async def test_new_worker_indexes_window_buckets_from_tables() -> None:
    tables: dict[str, dict[Any, Any]] = {
        "conversations": {},
        "threads": {},
        "totals": {},
        "windows": {},
        "clocks": {},
        "progress": {},
        "seen": {},
        "customers": {},
        "models": {},
    }
    first = Harness(tables)
    await first.send("mention", "a1", 0, partition=2)
    first.pipeline.revoke()  # revoke everything
    # A new owner with the same (changelog-restored) tables expires the old buckets.
    second = Harness(tables)
    clock = [T0 + 100000]
    second.pipeline.clock.wall_clock = lambda: clock[0]
    await second.send("mention", "a2", 87361, partition=2)
    assert wkey("twitter", 60.0, 0, partition=2) not in tables["windows"]
    assert wkey("twitter", 900.0, 0, partition=2) not in tables["windows"]
    assert tables["totals"][tkey("twitter", 2)]["mentions_total"] == 2.0


async def test_batches_give_the_same_tables_as_one_by_one() -> None:
    # Synthetic hour of traffic over 3 partitions, plus a duplicate, a broken message and a
    # late event, handled one by one in one harness and in batches of 7 in another.
    from processor.ingest.synthetic import SyntheticTraffic, TrafficProfile

    settings = Settings.model_validate(
        {"clock": "event", "allowed_lateness_seconds": 600, "partitions": 3}
    )
    events = SyntheticTraffic(T0, seed=11, profile=TrafficProfile(conversations_per_minute=3))
    documents = events.advance(T0 + 3600)
    topics = {"mention": "social.mentions", "reply": "social.replies",
              "redirection": "social.redirections", "survey": "social.surveys"}  # fmt: skip
    messages = [
        Message(topics[str(doc["type"])], hash(doc["conversation_id"]) % 3, offset,
                str(doc["conversation_id"]).encode(), orjson.dumps(doc), WALL)
        for offset, doc in enumerate(documents)
    ]  # fmt: skip
    late = dict(documents[0], event_id="late-one")
    copy = messages[6]
    messages += [
        messages[5],  # a redelivery: already in the state
        Message(copy.topic, copy.partition, 9_999, copy.key, copy.value, WALL),  # re-sent
        Message("social.replies", 1, 10_000, b"x", b"{broken", WALL),
        Message("social.mentions", messages[0].partition, 10_001, b"c", orjson.dumps(late), WALL),
    ]
    one_by_one, batched = Harness(settings=settings), Harness(settings=settings)
    for message in messages:
        await one_by_one.pipeline.handle_batch([message])
    for start in range(0, len(messages), 7):
        await batched.pipeline.handle_batch(messages[start : start + 7])
    assert len(documents) > 200
    # Same aggregates, windows and clocks. The stored states are the same except for
    # `swept_until`, the time a conversation's clock was last checked: a batch sweeps once,
    # at its end, so a due conversation is swept to a later watermark than one by one.
    # What that state stands for is the same: equal contributions and next checks.
    for name in ("totals", "windows", "clocks"):
        assert batched.tables[name] == one_by_one.tables[name], name
    assert set(batched.conversations) == set(one_by_one.conversations)
    for conversation_id, document in one_by_one.conversations.items():
        other = batched.conversations[conversation_id]
        assert {**document, "swept_until": None} == {**other, "swept_until": None}
        mine, theirs = ConversationState.from_json(document), ConversationState.from_json(other)
        assert contributions(mine) == contributions(theirs)
        assert conversation.next_check(mine) == conversation.next_check(theirs)
    # Redeliveries are told apart before the batch is folded: same outcomes, another order.
    assert sorted(batched.health.outcomes) == sorted(one_by_one.health.outcomes)
    assert [letter["reason"] for _, letter in batched.dead_letters] == ["invalid_json", "too_late"]
    assert batched.dedup.seen == one_by_one.dedup.seen
    assert ("mention", "duplicate") in batched.health.outcomes
    assert ("mention", "redelivered") in batched.health.outcomes


async def test_idle_conversations_are_forgotten_after_the_ttl() -> None:
    # TTL 30 min in event time, lateness 60 s, first response 15 min, partition 1.
    # c-old opened at T0, c-mid at T0+30m, c-new at T0+60m; none answered.
    # At T0+60m the watermark is T0+59m: c-old (deadline +15m) and c-mid (+45m) are breached
    # by silence; c-old idle 60 m > 30 m: its state goes and it leaves the backlog; c-mid
    # (idle exactly 30 m, not more) stays. Counters (opened 3, breached 2) keep c-old.
    settings = Settings.model_validate(
        {"clock": "event", "allowed_lateness_seconds": 60, "partitions": 4,
         "conversation_ttl_seconds": 1800}
    )  # fmt: skip
    h = Harness(settings=settings)
    await h.send("mention", "c-old", 0)
    await h.send("mention", "c-mid", 1800)
    assert set(h.conversations) == {"c-old", "c-mid"}
    await h.send("mention", "c-new", 3600)
    assert set(h.conversations) == {"c-mid", "c-new"}
    totals = h.totals[totals_key(1, BRAND, "twitter")]
    assert totals["conversations_opened_total"] == 3
    assert totals["first_response_sla_total|normal|breached"] == 2
    assert totals["open_conversations|breached"] == 1  # c-mid only
    assert totals["open_conversations|awaiting_first_response"] == 1  # c-new
    # A late follow-up of the forgotten conversation would start it afresh: documented.


async def test_default_rules_at_risk_then_inactivity_resolution_then_reopen() -> None:
    # Default rules: margin 600 s, inactivity 86400 s. The wall clock is moved far ahead so
    # that event times up to T0+86900 are accepted; lateness 60 s.
    h = Harness(settings=DEFAULT_RULES_CLOCK)
    h.pipeline.clock.wall_clock = lambda: T0 + 200000
    await h.send("mention", "c1", 0)  # deadline 900, at risk from 900 - 600 = 300
    await h.send("mention", "c2", 360)  # watermark 300 >= 300: c1 at risk
    totals = h.totals[tkey("twitter")]
    assert totals["open_conversations|at_risk"] == 1.0  # c1
    assert totals["open_conversations|awaiting_first_response"] == 1.0  # c2 (at risk @660)
    await h.send("reply", "c1", 400)  # met (400 <= 900); now awaits the customer
    await h.send("reply", "c2", 420, resolves=True)  # c2 done: met and resolved
    totals = h.totals[tkey("twitter")]
    assert "open_conversations|at_risk" not in totals
    assert totals["open_conversations|awaiting_customer"] == 1.0
    assert totals["first_response_sla_total|normal|met"] == 2.0
    # c1's resolution deadline 28800 passes while it awaits the customer after a reply at
    # 400 <= 28800: no resolution SLA outcome until the inference or a customer post.
    await h.send("mention", "c3", 28900)  # watermark 28840
    totals = h.totals[tkey("twitter")]
    assert totals["resolution_sla_total|normal|met"] == 1.0  # c2 only
    assert "resolution_sla_total|normal|breached" not in totals
    assert totals["first_contact_resolutions_total"] == 1.0  # c2
    # @86860 -> watermark 86800 = 400 + 86400: c1 resolved by inactivity at 400: resolution
    # SLA met, a first contact resolution (one human reply, no redirection, no reopen).
    await h.send("reply", "c3", 86000, resolves=True)  # c3 out of the way (late, resolved)
    await h.send("mention", "c4", 86860)
    totals = h.totals[tkey("twitter")]
    assert totals["resolutions_total|inactivity"] == 1.0  # c1
    assert totals["resolutions_total|explicit"] == 2.0  # c2, c3
    assert totals["resolution_sla_total|normal|met"] == 2.0  # c1 @400, c2 @420
    # c3: resolved at 86000 > its deadline 28900 + 28800 = 57700: breached
    assert totals["resolution_sla_total|normal|breached"] == 1.0
    assert totals["first_contact_resolutions_total"] == 3.0  # c1, c2, c3
    assert "open_conversations|awaiting_customer" not in totals
    assert totals["open_conversations|awaiting_first_response"] == 1.0  # c4
    # A customer post of c1 after the gap reopens it: the first contact resolution is
    # withdrawn and a next-response wait starts (deadline 86900 + 3600, not at risk yet).
    await h.send("mention", "c1", 86900)
    totals = h.totals[tkey("twitter")]
    assert totals["reopens_total"] == 1.0
    assert totals["first_contact_resolutions_total"] == 2.0
    assert totals["resolutions_total|inactivity"] == 1.0  # the resolution stays counted
    assert totals["open_conversations|awaiting_next_response"] == 1.0


async def test_breach_of_a_clock_stopped_after_its_deadline_is_swept() -> None:
    # Regression: next_check() returned None once resolved, so the sweep dropped the breach.
    h = Harness()
    await h.send("mention", "c1", 0)  # deadline 900
    # a bot resolves at 950 (after the deadline, no human reply); watermark 890 < 900
    await h.send("reply", "c1", 950, automated=True, resolves=True)
    assert "first_response_sla_total|normal|breached" not in h.totals[tkey("twitter")]
    # @1100 -> watermark 1040 >= 900: the clock ran past the deadline with no reply
    await h.send("mention", "c2", 1100)
    state = ConversationState.from_json(h.conversations["c1"])
    conversation.advance_clock(state, T0 + 1040)
    assert ("first_response_sla_total", (BRAND, "twitter", "normal", "breached"), T0 + 900) in (
        contributions(state)
    )
    assert h.totals[tkey("twitter")]["first_response_sla_total|normal|breached"] == 1.0


# -- customers ----------------------------------------------------------------------------------


def customer_series(h: Harness, partition: int) -> dict[str, float]:
    return h.customer_totals.get(tkey("twitter", partition), {})


async def test_a_customers_conversations_on_two_partitions_meet_on_the_customers_one() -> None:
    """u-x's c1 (partition 1) resolved @300, c2 (partition 3) opened @1000: a returning
    customer, and a repeat contact within 7 days (and so 30) of c1's resolution."""
    sent: list[tuple[int, Outgoing]] = []
    h = Harness(send_contact=lambda partition, record: sent.append((partition, record)))
    await h.send("mention", "c1", 0, author_id="u-x")
    await h.send("reply", "c1", 300, resolves=True, agent_id="a-1")
    await h.send("mention", "c2", 1000, partition=3, author_id="u-x")
    customers_partition = partition_for(b"Acme|u-x", 4)
    # A record per batch and (telling partition, customers' partition), keyed by the first.
    assert [(p, r.topic, r.key, r.partition) for p, r in sent] == [
        (1, "socialcare-customer-contacts", b"1", customers_partition),
        (1, "socialcare-customer-contacts", b"1", customers_partition),
        (3, "socialcare-customer-contacts", b"3", customers_partition),
    ]
    assert [
        [(f.conversation_id, f.customer_id, f.opened_at - T0, f.resolved_at) for f in facts]
        for facts in (decode_facts(r.value) for _, r in sent)
        if not isinstance(facts, Rejection)
    ] == [[("c1", "u-x", 0, None)], [("c1", "u-x", 0, T0 + 300)], [("c2", "u-x", 1000, None)]]
    assert h.customer_totals == {}  # told through the topic, not yet read
    # c2's facts before c1's (each conversation's in the order its partition told them).
    told = [sent[2], sent[0], sent[1]]
    contacts = [Message(record.topic, customers_partition, offset, record.key, record.value)
                for offset, (_, record) in enumerate(told)]  # fmt: skip
    expected = {
        "customer_conversations_total": 2.0,
        "returning_customer_conversations_total": 1.0,
        "customer_resolutions_total": 1.0,
        "repeat_contact_resolutions_total|7d": 1.0,
        "repeat_contact_resolutions_total|30d": 1.0,
        "repeat_contacts_total|7d": 1.0,
        "repeat_contacts_total|30d": 1.0,
    }
    await h.pipeline.handle_batch(contacts)
    assert customer_series(h, customers_partition) == expected
    assert h.tables["progress"][customers_partition]["socialcare-customer-contacts"] == 3
    # Read again (a redelivery: skipped by the progress) and written again under new
    # offsets (an at-least-once write: the same facts change nothing).
    await h.pipeline.handle_batch(contacts)
    await h.pipeline.handle_batch([replace(m, offset=m.offset + 3) for m in contacts])
    assert customer_series(h, customers_partition) == expected
    assert h.health.outcomes.count(("mention", "redelivered")) == 0
    assert h.dead_letters == []


async def test_without_a_broker_the_facts_loop_back_within_the_batch() -> None:
    h = Harness()
    await h.send("mention", "c1", 0, author_id="u-y")
    await h.send("mention", "c2", 100, partition=2, author_id="u-y")
    customers_partition = partition_for(b"Acme|u-y", 4)
    assert customer_series(h, customers_partition) == {
        "customer_conversations_total": 2.0,
        "returning_customer_conversations_total": 1.0,
    }
    stored = h.tables["customers"][f"{customers_partition}|Acme|u-y"]
    assert [entry[0] for entry in stored["conversations"]] == ["c1", "c2"]


async def test_an_unreadable_contact_record_is_dead_lettered() -> None:
    h = Harness()
    await h.send_raw("socialcare-customer-contacts", 2, b"Acme|u", b'{"conversation_id": 1}')
    assert h.health.dead == ["schema_violation"]
    assert h.dead_letters[0][1]["source_topic"] == "socialcare-customer-contacts"
    assert h.customer_totals == {}
