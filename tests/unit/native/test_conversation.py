"""The native conversation fold against `processor.domain.conversation`, the reference: the
same events (in and out of order, before and after the opening mention), the same
settlings and clock sweeps give the same change of contributions for every event, the same
event counts, the same current values, next clock check and header.

The stored document too: after every step the native document is the reference's, and
at a random point both take up the reference's document (a restart) and go on from it.

The customer facts told after each event and each sweep that changed something (as the
pipeline tells them) are the reference's too.

The CSAT model's features after every step too (`native/src/scoring.rs`); the rest of the
predictions (when a resolution is scored, an answer checked and learned) is compared on
whole backlogs in `test_partition_core.py`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import ModuleType
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from processor.domain import conversation, customers
from processor.domain.business_hours import BusinessCalendar
from processor.domain.churn import states_leaving
from processor.domain.conversation import ConversationRules, ConversationState
from processor.domain.events import Mention, Redirection, Reply, Survey
from processor.domain.quality import SentimentRules
from processor.domain.sla import SlaPolicyCache, SlaPolicySet, SlaTargets
from processor.metrics.families import BUSINESS_FAMILIES, HISTOGRAM_BOUNDS
from processor.predict.csat_features import FEATURE_NAMES, csat_features

START = 1_750_000_000.0
# The built-in targets around the clock, or business hours with short targets (a
# deadline falls on a later day, across a weekend).
AROUND_THE_CLOCK = SlaPolicyCache()
OFFICE_HOURS = SlaPolicyCache(
    SlaPolicySet(
        default=SlaTargets(
            first_response=timedelta(minutes=30), next_response=timedelta(minutes=20),
            resolution=timedelta(hours=6), calendar="office",
        ),
        calendars={"office": BusinessCalendar(
            timezone="America/New_York",
            hours={day: ["09:00-12:00", "13:00-17:30"] for day in ("mon", "tue", "wed", "fri")},
            holidays=[date(2025, 6, 19)],
        )},
    )
)  # fmt: skip


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


@st.composite
def events(draw: st.DrawFn, number: int) -> Any:
    at = START + draw(st.integers(min_value=0, max_value=240)) * 60.0
    at += draw(st.sampled_from([0.0, 0.0, 0.5, 30.0]))
    common = {
        "event_id": f"e{number}", "occurred_at": iso(at), "conversation_id": "c1",
        "brand": draw(st.sampled_from(["acme", "acme", "acme", "globex"])),
        "channel": draw(st.sampled_from(["twitter", "twitter", "facebook"])),
    }  # fmt: skip
    kind = draw(st.sampled_from(["mention", "mention", "reply", "reply", "reply", "redirection",
                                 "survey"]))  # fmt: skip
    if kind == "mention":
        return Mention(
            **common, author_id=draw(st.sampled_from(["u1", "u2"])),
            priority=draw(st.sampled_from([None, "high", "urgent"])),
            sentiment=draw(st.sampled_from([None, -0.6, -0.05, 0.0, 0.3, 0.9])),
            inquiry_type=draw(st.sampled_from([None, "complaint", "question", "churn_risk"])),
            customer_value=draw(st.sampled_from([None, 0.0, 120.5, 40.0])),
            rating=draw(st.sampled_from([None, None, 1, 2, 4, 5])),
            review_source=draw(st.sampled_from([None, "google"])),
        )  # fmt: skip
    if kind == "reply":
        return Reply(
            **common, agent_id=draw(st.sampled_from([None, "a1", "a2"])),
            team=draw(st.sampled_from([None, "support", "billing"])),
            automated=draw(st.sampled_from([None, False, True])),
            resolves=draw(st.sampled_from([None, False, False, True])),
        )  # fmt: skip
    if kind == "redirection":
        return Redirection(**common, to_channel=draw(st.sampled_from(["dm", "email"])))
    if draw(st.booleans()):
        return Survey(**common, kind="csat", score=draw(st.integers(min_value=1, max_value=5)))
    return Survey(**common, kind="nps", score=draw(st.integers(min_value=0, max_value=10)))


@st.composite
def lives(draw: st.DrawFn) -> tuple[ConversationRules, SlaPolicyCache, list[Any]]:
    """Rules, policies, and a conversation's life: its events in arrival order with clock
    steps (the partition's watermark and the sweep's now) between them."""
    rules = ConversationRules(
        sentiment=SentimentRules(-0.05, 0.05),
        inactivity_seconds=draw(st.sampled_from([0.0, 3600.0, 86400.0])),
        at_risk_margin_seconds=draw(st.sampled_from([0.0, 600.0])),
        teams=draw(st.sampled_from([None, frozenset({"support"})])),
        agents=frozenset({"a1"}),
    )
    steps: list[Any] = []
    for number in range(draw(st.integers(min_value=1, max_value=25))):
        if draw(st.integers(min_value=0, max_value=3)) == 0:
            steps.append(("clock", draw(st.integers(min_value=0, max_value=60)) * 60.0))
        steps.append(draw(events(number)))
    if draw(st.booleans()):
        # In event-time order, as aligned input mostly is: the walk steps, no replay.
        timed = sorted((s for s in steps if not isinstance(s, tuple)), key=lambda e: e.occurred_ts)
        steps = [s if isinstance(s, tuple) else timed.pop(0) for s in steps]
    steps.append(("clock", draw(st.integers(min_value=0, max_value=3000)) * 60.0))
    return rules, draw(st.sampled_from([AROUND_THE_CLOCK, OFFICE_HOURS])), steps


def targets(policies: SlaPolicyCache, event: Mention) -> tuple[float, float, float]:
    return tuple(  # type: ignore[return-value]
        policies.target_seconds(target, event.brand, event.channel, event.effective_priority)
        for target in ("first_response", "next_response", "resolution")
    )


def header(state: ConversationState) -> dict[str, Any]:
    return {
        "brand": state.brand, "channel": state.channel, "priority": state.priority,
        "opened_at": state.opened_at, "customer_posts": state.customer_posts,
        "brand_posts": state.brand_posts, "automated_posts": state.automated_posts,
        "first_response_target": state.first_response_target,
        "next_response_target": state.next_response_target,
        "resolution_target": state.resolution_target,
        "inactivity_seconds": state.inactivity_seconds, "at_risk_margin": state.at_risk_margin,
        "negative_below": state.negative_below, "customer_value": state.customer_value,
        "opening_sentiment": state.opening_sentiment,
        "opening_instant_sentiment": state.opening_instant_sentiment,
        "later_sentiment_max": state.later_sentiment_max, "redirections": state.redirections,
        "surveys": state.surveys, "churn_risk_at": state.churn_risk_at,
        "customer_id": state.customer_id, "review_source": state.review_source,
        "first_rating": state.first_rating, "first_rating_at": state.first_rating_at,
        "last_rating": state.last_rating, "last_rating_at": state.last_rating_at,
        "inquiry_type": state.inquiry_type, "swept_until": state.swept_until,
        "last_event_at": state.last_event_at, "settled_until": state.settled_until,
        "settled": _listed(state.settled.to_json()), "walk": _listed(state.walk.to_json()),
    }  # fmt: skip


def features(state: ConversationState, at: float) -> list[float] | None:
    """The CSAT model's features as `csat_scoring` computes them at `at`, in order."""
    found = csat_features(state, state.walk.ending(at, []))
    return None if found is None else [found[name] for name in FEATURE_NAMES]


def told(state: ConversationState) -> tuple[Any, ...] | None:
    facts = customers.facts_to_tell(state)
    return None if facts is None else tuple(facts)


def _listed(stored: list[Any]) -> list[Any]:
    return [list(value) if isinstance(value, tuple) else value for value in stored]


def native_header(twin: Any) -> dict[str, Any]:
    found: dict[str, Any] = twin.header()
    found["surveys"] = [tuple(pair) for pair in found["surveys"]]
    found["settled"], found["walk"] = _listed(found["settled"]), _listed(found["walk"])
    return found


@settings(max_examples=500, deadline=None)
@given(lives())
def test_the_native_fold_changes_the_metrics_as_the_reference(
    native: ModuleType, life: tuple[ConversationRules, SlaPolicyCache, list[Any]]
) -> None:
    rules, policies, steps = life
    reference = ConversationState(conversation_id="c1", partition=0)
    twin = native.Conversation(
        rules.sentiment.negative_below, rules.sentiment.positive_above,
        rules.inactivity_seconds, rules.at_risk_margin_seconds,
        None if rules.teams is None else sorted(rules.teams), sorted(rules.agents), "c1", 0,
    )  # fmt: skip
    restart = len(steps) // 2
    latest = START
    watermark: float | None = None
    for number, step in enumerate(steps):
        if isinstance(step, tuple):  # the clock: a later watermark, a sweep to `latest`
            watermark = max(watermark or START, latest - step[1])
            conversation.settle(reference, watermark)
            twin.settle(watermark)
            now = latest + step[1]
            swept = conversation.sweep(reference, now)
            assert twin.sweep(now) == swept, number
            if swept is not None:
                assert twin.facts_to_tell() == told(reference), number
        else:
            event = step
            at = event.occurred_ts
            too_late = conversation.settled_before(reference, at)
            assert twin.settled_before(at) == too_late
            if too_late:
                continue
            conversation.settle(reference, watermark)
            twin.settle(watermark)
            goal = targets(policies, event) if isinstance(event, Mention) else (0.0, 0.0, 0.0)
            calendar = (
                policies.calendar_for(event.brand, event.channel, event.effective_priority)
                if isinstance(event, Mention)
                else None
            )
            leaving = isinstance(event, Mention) and states_leaving(
                event.inquiry_type, event.text, rules.churn_phrases
            )
            expected = conversation.apply_event(reference, event, policies, rules)
            assert twin.apply(event, goal, leaving, True, calendar) == expected, (number, event)
            assert twin.event_increments(event) == conversation.event_increments(event, rules)
            assert twin.facts_to_tell() == told(reference), number
            latest = max(latest, at)
        assert twin.current() == conversation.current(reference), number
        assert twin.next_check() == conversation.next_check(reference), number
        assert twin.features(latest) == features(reference, latest), number
        assert native_header(twin) == header(reference), number
        stored = orjson.loads(orjson.dumps(reference.to_json()))
        assert orjson.loads(twin.document()) == stored, number
        if number == restart:  # both start again from the reference's stored state
            chunks = reference.chunk_store
            reference = ConversationState.from_json(stored, chunks)
            twin.load(orjson.dumps(stored), {n: marks for n, marks in chunks.chunks.items()})
    assert twin.live() == conversation.live(reference)
    assert twin.retirement() == conversation.retirement(reference)


def test_the_native_catalogue_is_the_reference_s(native: ModuleType) -> None:
    families = {family.name: family for family in BUSINESS_FAMILIES}
    for name, kind, bounds in native.catalogue():
        assert families[name].kind == kind, name
        assert tuple(bounds) == tuple(float(b) for b in HISTOGRAM_BOUNDS.get(name, ())), name
