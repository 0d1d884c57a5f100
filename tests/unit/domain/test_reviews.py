"""Online reviews (processor.domain.reviews) on hand-computed conversations, in any order.

R1: 1 star on google @0, the brand's human reply @3600, the review updated to 5 stars @7200:
    a negative review, answered in 3600 s, recovered.
R2: 4 stars on trustpilot @0, no reply: a review, not negative.
R3: 2 stars without a site @0 (site "other"), updated to 3 stars @500: negative, answered
    by a bot only (not answered), not recovered (3 < 4).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import orjson

from processor.domain import conversation
from processor.domain.conversation import ConversationRules, ConversationState
from processor.domain.events import Mention, Reply, decode_event
from processor.domain.sla import SlaPolicyCache
from processor.metrics import customer_families as cf
from processor.metrics.series import field_of

T0 = 1_700_000_000.0
RULES = ConversationRules(inactivity_seconds=0)
REVIEW_FAMILIES = {family.name for family in cf.CUSTOMER_FAMILIES if "review" in family.name}


def post(kind: str, conv: str, at: float, **fields: Any) -> Mention | Reply:
    document = {"event_id": f"{conv}-{kind}-{at}", "type": kind, "conversation_id": conv,
                "brand": "Acme", "channel": "reviews", **fields,
                "occurred_at": datetime.fromtimestamp(T0 + at, UTC).isoformat()}  # fmt: skip
    if kind == "mention":
        document.setdefault("author_id", "reviewer")
    event = decode_event(orjson.dumps(document), kind, 1 << 20)
    assert isinstance(event, Mention | Reply), event
    return event


R1 = [
    post("mention", "r1", 0, rating=1, review_source="google", text="Never again."),
    post("reply", "r1", 3600, agent_id="a-1"),
    post("mention", "r1", 7200, rating=5, review_source="google", text="They fixed it!"),
]
R2 = [post("mention", "r2", 0, rating=4, review_source="trustpilot")]
R3 = [
    post("mention", "r3", 0, rating=2),
    post("reply", "r3", 60, agent_id="bot", automated=True),
    post("mention", "r3", 500, rating=3),
]


def review_values(events: list[Mention | Reply]) -> dict[tuple[str, float | None], float]:
    """The review series a conversation's events add up to, folded in this order."""
    state = ConversationState(conversation_id=events[0].conversation_id, partition=0)
    totals: dict[tuple[str, float | None], float] = defaultdict(float)
    for event in events:
        for key, amount in conversation.apply_event(state, event, SlaPolicyCache(), RULES).items():
            if key.family in REVIEW_FAMILIES:
                totals[(field_of(key), key.at)] += amount
    return {key: amount for key, amount in totals.items() if amount}


def test_a_negative_review_answered_and_recovered() -> None:
    assert review_values(R1) == {
        ("reviews_total|google", T0): 1.0,
        ("review_stars_total|google", T0): 1.0,
        ("reviews_by_rating_total|google|1", None): 1.0,
        ("reviews_answered_total|google", None): 1.0,
        ("negative_reviews_total|google", T0): 1.0,
        ("negative_reviews_answered_total|google", None): 1.0,
        ("review_recoveries_total|google", None): 1.0,
        # 3600 s: in the 3600 s bucket (index 3 of the resolution bounds), sum and count
        ("review_response_seconds_bucket|google|3", None): 1.0,
        ("review_response_seconds_sum|google", None): 3600.0,
        ("review_response_seconds_count|google", None): 1.0,
    }


def test_a_good_review_without_an_answer() -> None:
    assert review_values(R2) == {
        ("reviews_total|trustpilot", T0): 1.0,
        ("review_stars_total|trustpilot", T0): 4.0,
        ("reviews_by_rating_total|trustpilot|4", None): 1.0,
    }


def test_a_bot_answer_is_no_answer_and_three_stars_no_recovery() -> None:
    assert review_values(R3) == {
        ("reviews_total|other", T0): 1.0,
        ("review_stars_total|other", T0): 2.0,
        ("reviews_by_rating_total|other|2", None): 1.0,
        ("negative_reviews_total|other", T0): 1.0,
    }


def test_any_order_gives_the_same_values() -> None:
    for events in (R1, R3):
        expected = review_values(events)
        for order in itertools.permutations(events):
            assert review_values(list(order)) == expected, [e.event_id for e in order]


def test_a_post_without_a_rating_is_no_review() -> None:
    assert review_values([post("mention", "m", 0), post("reply", "m", 60, agent_id="a")]) == {}
