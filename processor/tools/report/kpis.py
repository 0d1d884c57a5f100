"""The report's KPIs: which recording rule each reads, which way is better, its target.

The values are the recording rules' expressions (`processor.tools.alert_rules.ratio_rules`)
with the report's period as their range, summed by brand instead of brand and channel: the
number a rule would record over exactly that period. Pure arithmetic besides: the change
against the baseline and whether it is good news.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from processor.tools.alert_rules import ratio_rules

Unit = Literal["share", "seconds", "score", "nps", "stars", "posts", "count"]
Better = Literal["higher", "lower"] | None
TargetKind = Literal["objective", "first_response", "resolution"] | None


@dataclass(frozen=True)
class Kpi:
    key: str  # the recording rule's name between its level and its window
    title: str
    unit: Unit
    better: Better
    target: TargetKind = None


KPIS: tuple[Kpi, ...] = (
    Kpi("socialcare_first_response_sla_compliance:ratio", "First-response SLA compliance",
        "share", "higher", "objective"),
    Kpi("socialcare_first_response_seconds:p50", "First response time, median", "seconds",
        "lower", "first_response"),
    Kpi("socialcare_first_response_seconds:p90", "First response time, 90th percentile",
        "seconds", "lower", "first_response"),
    Kpi("socialcare_response_rate:ratio", "Response rate (inbound posts answered)", "share",
        "higher"),
    Kpi("socialcare_resolution_sla_compliance:ratio", "Resolution SLA compliance", "share",
        "higher"),
    Kpi("socialcare_resolution_seconds:p50", "Resolution time, median", "seconds", "lower",
        "resolution"),
    Kpi("socialcare_resolution_seconds:p90", "Resolution time, 90th percentile", "seconds",
        "lower", "resolution"),
    Kpi("socialcare_first_contact_resolution:ratio", "First Social Contact Resolution",
        "share", "higher"),
    Kpi("socialcare_posts_to_resolution:mean", "Posts per side to resolution (Tweets to "
        "Resolution / 2)", "posts", "lower"),
    Kpi("socialcare_csat_score:mean", "CSAT, average (1-5)", "score", "higher"),
    Kpi("socialcare_csat_satisfied:ratio", "CSAT, satisfied (4-5)", "share", "higher"),
    Kpi("socialcare_nps:score", "NPS", "nps", "higher"),
    Kpi("socialcare_recovery:ratio", "Recovery of negative conversations", "share", "higher"),
    Kpi("socialcare_redirection:ratio", "Redirections per conversation", "share", None),
    Kpi("socialcare_repeat_contact_7d:ratio", "Repeat contact within 7 days of a resolution",
        "share", "lower"),
    Kpi("socialcare_returning_customer:ratio", "Conversations of returning customers", "share",
        None),
    Kpi("socialcare_review_rating:mean", "Online reviews, average rating", "stars", "higher"),
    Kpi("socialcare_negative_review_answered:ratio", "Negative reviews answered", "share",
        "higher"),
)  # fmt: skip


def rule_key(record: str) -> str:
    """`brand_channel:socialcare_x:ratio_rate1h` -> `socialcare_x:ratio`."""
    _, name, kind = record.split(":")
    return f"{name}:{kind.rsplit('_rate', 1)[0]}"


def expressions(period_seconds: float, job: str, by: str) -> dict[str, str]:
    """Every recording rule's expression over the period, by rule key, summed `by`."""
    window = f"{int(period_seconds)}s"
    return {rule_key(rule["record"]): rule["expr"] for rule in ratio_rules(window, job, by)}


@dataclass(frozen=True)
class Change:
    """The period against the baseline: the difference, its arrow, and if it is good news."""

    delta: float
    arrow: str  # ▲ up, ▼ down, ▶ the same
    good: bool | None  # None: neither (no better direction, or no change)


def change(value: float, baseline: float, better: Better) -> Change | None:
    """None when either side has no value. A change under 0.5 % of the baseline is none."""
    if math.isnan(value) or math.isnan(baseline):
        return None
    delta = value - baseline
    if abs(delta) <= 0.005 * abs(baseline) or delta == 0:
        return Change(delta, "▶", None)
    up = delta > 0
    good = None if better is None else up == (better == "higher")
    return Change(delta, "▲" if up else "▼", good)


def meets(value: float, target: float | None, better: Better) -> bool | None:
    """Whether the value meets its target (None: no target or no value)."""
    if target is None or math.isnan(value) or better is None:
        return None
    return value >= target if better == "higher" else value <= target


def formatted(value: float, unit: Unit) -> str:
    """A value as the report prints it."""
    if math.isnan(value):
        return "–"
    if unit == "share":
        return f"{value * 100:.1f} %"
    if unit == "seconds":
        return duration(value)
    if unit == "nps":
        return f"{value:+.0f}"
    if unit == "count":
        return f"{value:,.0f}"
    return f"{value:.2f}"


def duration(seconds: float) -> str:
    """4 min 05 s, 2 h 10 min, 3 d 4 h: two units at most."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"
    return f"{int(seconds // 86400)} d {int(seconds % 86400 // 3600)} h"


def formatted_change(item: Change, unit: Unit) -> str:
    """The difference in the KPI's unit: +2.1 pt for shares, -3 min 10 s for durations."""
    sign = "+" if item.delta > 0 else "-" if item.delta < 0 else "±"
    size = abs(item.delta)
    if unit == "share":
        return f"{sign}{size * 100:.1f} pt"
    if unit == "seconds":
        return f"{sign}{duration(size)}"
    return f"{sign}{formatted(size, unit).lstrip('+')}"
