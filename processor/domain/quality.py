"""Quality arithmetic: sentiment classes, CSAT and NPS categories, recovery.

Pure functions; the thresholds are configuration (`SOCIALCARE_*_SENTIMENT_*`), recorded in a
conversation's state when it opens so that a later change of configuration does not change
what was already counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# VADER's conventional cut-offs for its compound score: below -0.05 negative, above 0.05
# positive, neutral between.
DEFAULT_NEGATIVE_BELOW = -0.05
DEFAULT_POSITIVE_ABOVE = 0.05

SENTIMENT_CLASSES = ("negative", "neutral", "positive", "unknown")
NPS_CATEGORIES = ("promoter", "passive", "detractor")


@dataclass(frozen=True)
class SentimentRules:
    """Where negative ends and positive starts, on the -1..1 sentiment scale."""

    negative_below: float = DEFAULT_NEGATIVE_BELOW
    positive_above: float = DEFAULT_POSITIVE_ABOVE

    def classify(self, sentiment: float | None) -> str:
        if sentiment is None:
            return "unknown"
        if sentiment < self.negative_below:
            return "negative"
        if sentiment > self.positive_above:
            return "positive"
        return "neutral"


def nps_category(score: int) -> str:
    """NPS: 9-10 promoter, 7-8 passive, 0-6 detractor."""
    if score >= 9:
        return "promoter"
    if score >= 7:
        return "passive"
    return "detractor"


def csat_satisfied(score: int) -> bool:
    """CSAT on 1-5: 4 and 5 count as satisfied."""
    return score >= 4


def satisfied_answer(kind: str, score: int) -> bool:
    """A survey answer that says the customer is content: CSAT 4-5 or NPS 7-10 (not a
    detractor), by the categories above."""
    if kind == "csat":
        return csat_satisfied(score)
    return kind == "nps" and nps_category(score) != "detractor"


def recovered(
    opening_sentiment: float | None,
    negative_below: float,
    later_sentiments: Iterable[float | None],
    surveys: Iterable[tuple[str, int]],
) -> bool | None:
    """None if the conversation did not start negative; else whether it ended recovered.

    Recovered: a later customer post that is not negative (sentiment >= the negative
    threshold), or a CSAT of 4-5, or an NPS of 7-10.
    """
    if opening_sentiment is None or opening_sentiment >= negative_below:
        return None
    if any(s is not None and s >= negative_below for s in later_sentiments):
        return True
    return any(satisfied_answer(kind, score) for kind, score in surveys)
