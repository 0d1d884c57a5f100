"""Quality metrics: sentiment classes, CSAT/NPS categories and recovery, hand-computed."""

from __future__ import annotations

import itertools

import pytest

from processor.domain.quality import SentimentRules, csat_satisfied, nps_category, recovered
from processor.domain.sentiment import load_scorer, with_sentiment
from tests.series_form import contributions
from tests.unit.domain.test_conversation import L, event, mention, reply, run

NEGATIVE = ("negative_conversations_total", L, None)
RECOVERED = ("recovered_conversations_total", L, None)


def test_sentiment_classes_use_strict_thresholds() -> None:
    rules = SentimentRules()  # negative below -0.05, positive above 0.05
    assert [rules.classify(v) for v in (-1.0, -0.051, -0.05, 0.0, 0.05, 0.0501, 1.0, None)] == [
        "negative", "negative", "neutral", "neutral", "neutral", "positive", "positive", "unknown",
    ]  # fmt: skip
    custom = SentimentRules(negative_below=-0.5, positive_above=0.5)
    assert custom.classify(-0.4) == "neutral" and custom.classify(-0.6) == "negative"


def test_nps_and_csat_categories() -> None:
    assert [nps_category(s) for s in range(11)] == ["detractor"] * 7 + ["passive"] * 2 + [
        "promoter"
    ] * 2
    assert [csat_satisfied(s) for s in range(1, 6)] == [False, False, False, True, True]


@pytest.mark.parametrize(
    ("opening", "later", "surveys", "expected"),
    [
        (-0.6, [0.2], [], True),  # later post positive
        (-0.6, [-0.04], [], True),  # -0.04 is not negative (>= -0.05)
        (-0.6, [-0.3], [("csat", 3)], False),  # still negative, unhappy survey
        (-0.6, [], [("nps", 7)], True),  # passive or better NPS
        (-0.6, [], [("nps", 6)], False),
        (-0.6, [], [("csat", 4)], True),
        (-0.05, [], [], None),  # not below the threshold: not a negative start
        (0.3, [-0.9], [], None),
        (None, [0.5], [], None),  # no sentiment on the opening post
        (-0.6, [None], [], False),  # a later post without sentiment proves nothing
    ],
)
def test_recovered_rule(
    opening: float | None,
    later: list[float | None],
    surveys: list[tuple[str, int]],
    expected: bool | None,
) -> None:
    assert recovered(opening, -0.05, later, surveys) is expected


def test_recovery_from_state_in_any_order() -> None:
    # Opening post negative (-0.7) at T0, reply at +60, customer thanks (+0.6) at +300.
    events = [
        mention(0, sentiment=-0.7, event_id="m1"),
        reply(60, event_id="r1"),
        mention(300, sentiment=0.6, event_id="m2"),
    ]
    for order in itertools.permutations(events):
        out = contributions(run(list(order)))
        assert out[NEGATIVE] == 1.0 and out[RECOVERED] == 1.0, [e.event_id for e in order]


def test_negative_not_recovered_then_recovered_by_csat() -> None:
    state = run([mention(0, sentiment=-0.7), mention(300, sentiment=-0.2)])
    out = contributions(state)
    assert out[NEGATIVE] == 1.0 and RECOVERED not in out
    later = run([mention(0, sentiment=-0.7), mention(300, sentiment=-0.2),
                 event("survey", 900, kind="csat", score=5)])  # fmt: skip
    assert contributions(later)[RECOVERED] == 1.0


def test_positive_opening_is_not_counted() -> None:
    out = contributions(run([mention(0, sentiment=0.4), mention(60, sentiment=-0.9)]))
    assert NEGATIVE not in out and RECOVERED not in out


def test_vader_scores_posts_without_sentiment() -> None:
    scorer = load_scorer("vader")
    assert scorer is not None
    angry = with_sentiment(mention(0, text="@sprintcare is the worst customer service"), scorer)
    happy = with_sentiment(mention(0, text="Thanks so much, that fixed it! Great help :)"), scorer)
    assert angry.sentiment is not None and angry.sentiment < -0.05  # VADER compound -0.62
    assert happy.sentiment is not None and happy.sentiment > 0.05
    given = mention(0, text="terrible", sentiment=0.3)
    assert with_sentiment(given, scorer).sentiment == 0.3  # the source's own score wins
    assert with_sentiment(mention(0), scorer).sentiment is None  # no text, nothing to score
    assert load_scorer("none") is None
