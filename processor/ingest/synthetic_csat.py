"""The synthetic traffic's CSAT answers: a known relation between the service and the score.

The predicted-CSAT backtest (`socialcare backtest csat`) measures the model against it, so it
is written down here once: 4.5 + 0.6 x the opening post's sentiment - 0.5 per hour to the
first human reply (at most 4 hours) - 0.35 per customer follow-up - 0.4 if redirected, plus
normal noise (standard deviation 0.45), rounded and kept within 1-5.
"""

from __future__ import annotations

from statistics import NormalDist

BASE = 4.5
PER_SENTIMENT = 0.6
PER_FIRST_RESPONSE_HOUR = -0.5
FIRST_RESPONSE_HOURS_CAP = 4.0
PER_FOLLOW_UP = -0.35
IF_REDIRECTED = -0.4
NOISE = NormalDist(0.0, 0.45)


def expected_csat(
    opening_sentiment: float, first_response_ms: float, follow_ups: int, redirected: bool
) -> float:
    """The score the service earns before the customer's own noise."""
    hours = min(first_response_ms / 3_600_000, FIRST_RESPONSE_HOURS_CAP)
    return (
        BASE
        + PER_SENTIMENT * opening_sentiment
        + PER_FIRST_RESPONSE_HOUR * hours
        + PER_FOLLOW_UP * follow_ups
        + (IF_REDIRECTED if redirected else 0.0)
    )


def csat_answer(expected: float, uniform: float) -> int:
    """The answer for one uniform draw in [0, 1) (one draw, as an NPS answer takes)."""
    noise = NOISE.inv_cdf(min(max(uniform, 1e-9), 1 - 1e-9))
    return min(5, max(1, round(expected + noise)))
