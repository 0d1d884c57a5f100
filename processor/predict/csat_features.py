"""What the processor knows of a resolved conversation, as the numbers the CSAT model reads.

Pure arithmetic on the conversation's summary: no work that grows with the thread. Every
feature is bounded (hours capped, ratios capped) so one outlier thread cannot drag a linear
model, and a feature the conversation has no value for is 0 with an indicator beside it.
The constant `bias` stands for the intercept (river's Bayesian regression has none).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from processor.domain.conversation import ConversationState
    from processor.domain.thread import ThreadWalk

Features = dict[str, float]

_HOUR = 3600.0
HOURS_CAP = 24.0  # a first or next response after a day is as bad as it gets
RATIO_CAP = 10.0  # ten times the target
INQUIRY_TYPES = ("complaint", "question", "feedback", "recommendation", "praise")
PRIORITIES = ("low", "high", "urgent")  # normal is the baseline

FEATURE_NAMES: tuple[str, ...] = (
    "bias",
    "first_response_hours",
    "first_response_over_target",
    "no_human_response",
    "longest_next_wait_hours",
    "next_wait_over_target",
    "resolution_log_hours",
    "resolution_over_target",
    "redirections",
    "customer_posts",
    "brand_posts",
    "reopens",
    "opening_sentiment",
    "sentiment_change",
    "sentiment_unknown",
    *(f"inquiry_{name}" for name in INQUIRY_TYPES),
    *(f"priority_{name}" for name in PRIORITIES),
)


def _over_target(seconds: float, target: float | None) -> float:
    """How far past its target a duration went, in targets (0 within it or without one)."""
    if target is None or target <= 0:
        return 0.0
    return min(max(seconds / target - 1.0, 0.0), RATIO_CAP)


def csat_features(state: ConversationState, end: ThreadWalk) -> Features | None:
    """The features of a conversation at the end `end` of its walk; None before a resolution.

    The first and next responses are measured against the targets the conversation opened
    with; posts, channels and resolution time up to its first resolution, as the resolution
    metrics count them; reopenings up to now (a conversation resolved again is scored again).
    """
    opened_at = state.opened_at
    resolved_at = end.first_resolution_at
    if opened_at is None or resolved_at is None:
        return None
    first_response = end.first_response_at
    if first_response is not None and first_response <= resolved_at:
        waited = first_response - opened_at
        no_human = 0.0
    else:
        waited = resolved_at - opened_at  # nobody answered before it was resolved
        no_human = 1.0
    resolution = resolved_at - opened_at
    redirections = sum(1 for at in state.redirections.values() if at <= resolved_at)
    opening = state.opening_sentiment
    later = state.later_sentiment_max
    features: Features = {
        "bias": 1.0,
        "first_response_hours": min(waited / _HOUR, HOURS_CAP),
        "first_response_over_target": _over_target(waited, state.first_response_target),
        "no_human_response": no_human,
        "longest_next_wait_hours": min(end.longest_wait / _HOUR, HOURS_CAP),
        "next_wait_over_target": _over_target(end.longest_wait, state.next_response_target),
        "resolution_log_hours": math.log1p(resolution / _HOUR),
        "resolution_over_target": _over_target(resolution, state.resolution_target),
        "redirections": float(redirections),
        "customer_posts": float(min(end.customer, 20)),
        "brand_posts": float(min(end.brand, 20)),
        "reopens": float(min(end.reopens, 5)),
        "opening_sentiment": opening if opening is not None else 0.0,
        "sentiment_change": (later - opening) if opening is not None and later is not None else 0.0,
        "sentiment_unknown": 1.0 if opening is None else 0.0,
    }
    inquiry = state.inquiry_type
    for name in INQUIRY_TYPES:
        features[f"inquiry_{name}"] = 1.0 if inquiry == name else 0.0
    for name in PRIORITIES:
        features[f"priority_{name}"] = 1.0 if state.priority == name else 0.0
    return features
