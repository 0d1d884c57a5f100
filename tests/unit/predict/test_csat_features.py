"""The CSAT features of a conversation, computed by hand from its events."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from processor.domain.conversation import ConversationRules, apply_event
from processor.domain.sla import SlaPolicyCache, SlaPolicySet, SlaTargets
from processor.predict.csat_features import FEATURE_NAMES, csat_features
from tests.unit.domain.test_conversation import event, mention, new_state, reply

RULES = ConversationRules(inactivity_seconds=0, at_risk_margin_seconds=0)
# First response 15 min, next response 10 min, resolution 8 h.
POLICIES = SlaPolicyCache(
    SlaPolicySet(
        default=SlaTargets(
            first_response=timedelta(minutes=15),
            next_response=timedelta(minutes=10),
            resolution=timedelta(hours=8),
        )
    )
)


def features_after(*events: object) -> dict[str, float] | None:
    state = new_state()
    for item in events:
        apply_event(state, item, POLICIES, RULES)  # type: ignore[arg-type]
    return csat_features(state, state.walk.ending(float("inf"), []))


def test_a_slow_redirected_complaint_in_numbers() -> None:
    features = features_after(
        mention(0, sentiment=-0.6, inquiry_type="complaint", priority="high"),
        reply(1800, agent_id="a1", team="t1"),  # first response after 30 min: 1 target over
        event("redirection", 1800, to_channel="dm"),
        mention(2400, sentiment=-0.1),  # a follow-up, answered after 40 min (3 targets over)
        reply(4800, agent_id="a1", team="t1"),
        mention(5400, sentiment=0.5),  # waits 1 h until the resolution stops the wait
        reply(9000, agent_id="a1", team="t1", resolves=True),
        event("redirection", 9500, to_channel="email"),  # after the resolution: not counted
    )
    assert features is not None
    assert set(features) == set(FEATURE_NAMES)
    expected = {
        "bias": 1.0,
        "first_response_hours": 0.5,
        "first_response_over_target": 1.0,  # 30 min against 15
        "no_human_response": 0.0,
        "longest_next_wait_hours": 1.0,  # 5400 -> 9000, the stopped wait
        "next_wait_over_target": 5.0,  # 60 min against 10
        "resolution_log_hours": math.log1p(2.5),
        "resolution_over_target": 0.0,  # 2.5 h within 8 h
        "redirections": 1.0,
        "customer_posts": 3.0,
        "brand_posts": 3.0,
        "reopens": 0.0,
        "opening_sentiment": -0.6,
        "sentiment_change": pytest.approx(1.1),
        "sentiment_unknown": 0.0,
        "inquiry_complaint": 1.0,
        "inquiry_question": 0.0,
        "priority_high": 1.0,
        "priority_low": 0.0,
        "priority_urgent": 0.0,
    }
    for name, value in expected.items():
        assert features[name] == value, name


def test_nothing_before_a_resolution_and_a_resolution_nobody_answered() -> None:
    assert features_after(mention(0), reply(600, agent_id="a", team="t")) is None
    features = features_after(mention(0), reply(36000, agent_id="a", automated=True, resolves=True))
    assert features is not None
    # Resolved by a bot after 10 h: the wait is the whole time, 39 targets over, capped at 10.
    assert features["no_human_response"] == 1.0
    assert features["first_response_hours"] == 10.0
    assert features["first_response_over_target"] == 10.0
    assert features["resolution_over_target"] == pytest.approx(0.25)
    assert features["sentiment_unknown"] == 1.0
    assert features["opening_sentiment"] == 0.0
    assert features["longest_next_wait_hours"] == 0.0


def test_a_reopened_conversation_counts_its_reopening() -> None:
    features = features_after(
        mention(0, sentiment=0.2, inquiry_type="question"),
        reply(60, agent_id="a", team="t", resolves=True),
        mention(7200, sentiment=-0.4),
        reply(7260, agent_id="a", team="t", resolves=True),
    )
    assert features is not None
    assert features["reopens"] == 1.0
    # Posts and resolution time stop at the first resolution, as the resolution metrics do.
    assert features["customer_posts"] == 1.0
    assert features["resolution_log_hours"] == pytest.approx(math.log1p(60 / 3600))
    assert features["sentiment_change"] == pytest.approx(-0.6)
    assert features["inquiry_question"] == 1.0


def test_a_walk_stored_before_the_longest_wait_was_kept_reads_as_none_yet() -> None:
    from processor.domain.thread import ThreadWalk

    state = new_state()
    for item in (mention(0), reply(60, agent_id="a", team="t"), mention(120)):
        apply_event(state, item, POLICIES, RULES)
    apply_event(state, reply(720, agent_id="a", team="t"), POLICIES, RULES)
    stored = state.walk.to_json()
    assert ThreadWalk.from_json(stored).longest_wait == 600.0
    assert ThreadWalk.from_json(stored[:19]).longest_wait == 0.0
