"""Volume alerts: a window's volume against the same window of the previous days.

Two of them, one shape: inbound mentions (a crisis on social shows here first) and 1-2 star
reviews (a wave of bad reviews after an incident, or review bombing). Both read an
event-time window gauge of the workers (`socialcare_window_*`), recorded per brand, and
compare it with the mean of the same window 1..N days ago (the days that exist).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from processor.tools.rule_parts import Duration, Model, alert, record, select


class SpikeConfig(Model):
    window: Literal["5m", "1h", "24h"]
    days: int = Field(ge=1, le=28)
    factor: float = Field(gt=1)
    min_mentions: float = Field(ge=0)
    for_: Duration = Field(alias="for")


class ReviewBurstConfig(Model):
    window: Literal["5m", "1h", "24h"]
    days: int = Field(ge=1, le=28)
    factor: float = Field(gt=1)
    min_reviews: float = Field(ge=1)
    for_: Duration = Field(alias="for")


SPIKE_VOLUME = "brand:socialcare_window_mentions:sum"
NEGATIVE_REVIEWS_VOLUME = "brand:socialcare_window_negative_reviews:sum"


def _volume_rule(recorded: str, gauge: str, window: str, job: str) -> dict[str, Any]:
    selected = select(gauge, f'{{window="{window}"}}', job)
    return record(f"{recorded}{window}", f"sum by (brand) ({selected})")


def _burst(volume: str, days: int, factor: float, minimum: float) -> str:
    """`volume` above `factor` times its mean of the same window 1..days days ago, and at
    least `minimum`."""
    past = "\n  or\n".join(
        f'  label_replace({volume} offset {day}d, "days_ago", "{day}", "", "")'
        for day in range(1, days + 1)
    )
    baseline = f"avg without (days_ago) (\n{past}\n)"
    return (
        f"{volume}\n> on (brand) {factor:g} * {baseline}\nand on (brand)\n{volume} >= {minimum:g}"
    )


def spike_rules(config: SpikeConfig, job: str) -> list[dict[str, Any]]:
    return [_volume_rule(SPIKE_VOLUME, "socialcare_window_mentions", config.window, job)]


def spike_alerts(config: SpikeConfig, runbook: str) -> list[dict[str, Any]]:
    volume = f"{SPIKE_VOLUME}{config.window}"
    expr = _burst(volume, config.days, config.factor, config.min_mentions)
    return [alert(
        "SocialcareInboundSpike", expr, config.for_, "page",
        summary="{{ $labels.brand }}: inbound volume spike ({{ $value }} mentions in the "
        f"last {config.window})",
        description=f"{{{{ $labels.brand }}}} received {{{{ $value }}}} mentions in the last "
        f"{config.window}, more than {config.factor:g} times the same {config.window} of the "
        f"previous {config.days} days on average. A crisis on social shows here first.",
        runbook=runbook, anchor="socialcareinboundspike",
    )]  # fmt: skip


def review_burst_rules(config: ReviewBurstConfig, job: str) -> list[dict[str, Any]]:
    gauge = "socialcare_window_negative_reviews"
    return [_volume_rule(NEGATIVE_REVIEWS_VOLUME, gauge, config.window, job)]


def review_burst_alerts(config: ReviewBurstConfig, runbook: str) -> list[dict[str, Any]]:
    volume = f"{NEGATIVE_REVIEWS_VOLUME}{config.window}"
    expr = _burst(volume, config.days, config.factor, config.min_reviews)
    return [alert(
        "SocialcareNegativeReviewBurst", expr, config.for_, "ticket",
        summary="{{ $labels.brand }}: burst of 1-2 star reviews ({{ $value }} in the last "
        f"{config.window})",
        description=f"{{{{ $labels.brand }}}} received {{{{ $value }}}} reviews of 1 or 2 "
        f"stars in the last {config.window}, more than {config.factor:g} times the same "
        f"{config.window} of the previous {config.days} days on average: an incident "
        "customers write about, or review bombing. Answer them while they are fresh.",
        runbook=runbook, anchor="socialcarenegativereviewburst",
    )]  # fmt: skip
