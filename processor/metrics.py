"""Metric definitions and the pure arithmetic of aggregation and event-time windows.

Business metrics are additive numbers kept per partition in Faust tables (see
`processor.app`); this module says what they are called, how a change is added in, and
how the sliding windows ("last 5m / 1h / 24h") are summed from tumbling buckets.
Nothing here touches Kafka, so all of it is unit-tested directly.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Literal

PREFIX = "socialcare_"

# A contribution: (series name, label values, event time for windowed series) -> amount.
SeriesKey = tuple[str, tuple[str, ...], float | None]
Contributions = dict[SeriesKey, float]

# 30 s to 7 days: social care first responses range from a bot-fast minute to a weekend.
FIRST_RESPONSE_BUCKETS: tuple[float, ...] = (
    30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 43200, 86400, 172800,
    345600, 604800,
)  # fmt: skip


# Open to resolution: minutes to a month.
RESOLUTION_BUCKETS: tuple[float, ...] = (
    300, 900, 1800, 3600, 7200, 14400, 28800, 43200, 86400, 172800, 345600, 604800, 1209600,
    2592000,
)  # fmt: skip
# Counts of posts or channels: small integers.
POSTS_BUCKETS: tuple[float, ...] = (1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50)


# Age of open conversations: bucket upper bounds (seconds) and labels.
AGE_BOUNDS: tuple[float, ...] = (3600.0, 4 * 3600.0, 86400.0, 3 * 86400.0)
AGE_LABELS = ("lt_1h", "1h_4h", "4h_24h", "1d_3d", "gt_3d")


def age_label(age: float) -> str:
    """The age bucket of an open conversation (upper bounds exclusive: 1 h is 1h_4h)."""
    return AGE_LABELS[bisect.bisect_right(AGE_BOUNDS, age)]


def bucket_index(bounds: tuple[float, ...], value: float) -> int:
    """Index of the first bucket whose upper bound is >= value (len(bounds) means +Inf)."""
    return bisect.bisect_left(bounds, value)


@dataclass(frozen=True)
class Family:
    """One exported metric family (name without the `socialcare_` prefix)."""

    name: str
    kind: Literal["counter", "gauge", "histogram"]
    documentation: str
    labels: tuple[str, ...]


BUSINESS_FAMILIES: tuple[Family, ...] = (
    Family(
        "mentions", "counter", "Inbound customer posts (first and follow-up).",
        ("brand", "channel"),
    ),
    Family(
        "conversations_opened", "counter", "Conversations opened by a first inbound post.",
        ("brand", "channel"),
    ),
    Family(
        "replies", "counter", "Brand posts; kind=automated for bots.",
        ("brand", "channel", "kind"),
    ),
    Family(
        "first_response_seconds", "histogram",
        "Time from the opening post to the first human brand reply.", ("brand", "channel"),
    ),
    Family(
        "next_response_seconds", "histogram",
        "Time from a customer's follow-up (after a response) to the next human brand reply.",
        ("brand", "channel"),
    ),
    Family(
        "next_response_sla", "counter",
        "Follow-up waits whose next-response SLA was met or breached (breach at the deadline).",
        ("brand", "channel", "priority", "outcome"),
    ),
    Family(
        "mentions_answered", "counter",
        "Inbound posts followed by a human brand reply (response rate = answered / mentions).",
        ("brand", "channel"),
    ),
    Family(
        "resolution_seconds", "histogram",
        "Time from the opening post to the first resolution; redirected=true when the "
        "conversation was moved to a private channel before it.",
        ("brand", "channel", "redirected"),
    ),
    Family(
        "resolution_sla", "counter",
        "Conversations whose resolution SLA was met or breached (breach at the deadline).",
        ("brand", "channel", "priority", "outcome"),
    ),
    Family(
        "posts_to_resolution", "histogram",
        "Posts exchanged from the opening post to the first resolution, by side "
        "(customer, brand): Tweets to Resolution, and customer effort in posts.",
        ("brand", "channel", "side"),
    ),
    Family(
        "customer_effort_channels", "histogram",
        "Channels the customer used until the first resolution (1 + distinct redirections).",
        ("brand", "channel"),
    ),
    Family(
        "first_contact_resolutions", "counter",
        "Resolved conversations solved with one human brand reply, no redirection and no "
        "reopening (First Social Contact Resolution).",
        ("brand", "channel"),
    ),
    Family(
        "team_replies", "counter",
        "Human brand replies by team (unassigned without a team; other outside SOCIALCARE_TEAMS).",
        ("brand", "channel", "team"),
    ),
    Family(
        "agent_replies", "counter",
        "Human brand replies of the agents listed in SOCIALCARE_AGENT_LABELS (only those).",
        ("brand", "channel", "agent"),
    ),
    Family(
        "team_first_response_seconds", "histogram",
        "First response time, by the team of the reply that gave it.",
        ("brand", "channel", "team"),
    ),
    Family(
        "team_resolution_seconds", "histogram",
        "Time to the first resolution, by the team of the resolving (or last human) reply.",
        ("brand", "channel", "team"),
    ),
    Family(
        "open_conversations_by_age", "gauge",
        "Open conversations by age since the opening post (lt_1h, 1h_4h, 4h_24h, 1d_3d, "
        "gt_3d) at scrape time.",
        ("brand", "channel", "age"),
    ),
    Family(
        "open_conversations_by_priority", "gauge",
        "Open conversations by the opening post's priority and backlog state (as "
        "open_conversations), for alerts on high and urgent conversations.",
        ("brand", "channel", "priority", "state"),
    ),
    Family(
        "open_customer_value", "gauge",
        "Sum of customer_value of open conversations, by backlog state (value at stake).",
        ("brand", "channel", "state"),
    ),
    Family(
        "breached_customer_value", "counter",
        "Sum of customer_value of conversations whose first-response SLA was breached.",
        ("brand", "channel"),
    ),
    Family("reopens", "counter", "Customer posts after a resolution that reopened it.",
           ("brand", "channel")),
    Family(
        "first_response_sla", "counter",
        "Conversations whose first-response SLA was met or breached "
        "(a breach is counted at the deadline).",
        ("brand", "channel", "priority", "outcome"),
    ),
    Family(
        "resolutions", "counter",
        "Resolutions: how=explicit (a reply with resolves: true) or how=inactivity (no "
        "customer post for the inactivity time after a human reply).",
        ("brand", "channel", "how"),
    ),
    Family(
        "redirections", "counter", "Conversations moved to a private channel.",
        ("brand", "channel", "to_channel"),
    ),
    Family("surveys", "counter", "Survey answers received.", ("brand", "channel", "kind")),
    Family(
        "other_channel_contacts", "counter",
        "Contacts on other channels (channel=phone, email...) from the optional contacts topic, "
        "for deflection.",
        ("brand", "channel"),
    ),
    Family(
        "mentions_by_sentiment", "counter",
        "Inbound posts by sentiment class (negative, neutral, positive, unknown).",
        ("brand", "channel", "sentiment"),
    ),
    Family(
        "mentions_by_inquiry_type", "counter",
        "Inbound posts by inquiry type (complaint, feedback, recommendation, question, praise, "
        "other, unknown).",
        ("brand", "channel", "inquiry_type"),
    ),
    Family("complaints", "counter", "Inbound posts of inquiry type complaint.",
           ("brand", "channel")),
    Family("csat_responses", "counter",
           "CSAT survey answers (1-5); redirected=true if the conversation was redirected.",
           ("brand", "channel", "redirected")),
    Family("csat_score", "counter", "Sum of CSAT scores (average = score / responses).",
           ("brand", "channel", "redirected")),
    Family("csat_satisfied", "counter", "CSAT answers of 4 or 5.",
           ("brand", "channel", "redirected")),
    Family("csat_followup_needed", "counter", "CSAT answers of 3 or less: follow up.",
           ("brand", "channel", "redirected")),
    Family("nps_responses", "counter", "NPS answers by category (promoter 9-10, passive 7-8, "
           "detractor 0-6).", ("brand", "channel", "category")),
    Family("negative_conversations", "counter",
           "Conversations whose opening post was negative.", ("brand", "channel")),
    Family("recovered_conversations", "counter",
           "Negative-opening conversations that ended recovered (later non-negative post, "
           "CSAT 4-5 or NPS 7-10).", ("brand", "channel")),
    Family(
        "open_conversations", "gauge",
        "Open conversations by state: awaiting_first_response, awaiting_next_response, "
        "at_risk (deadline within the margin), breached (waiting past the deadline), "
        "awaiting_customer (answered, not resolved).",
        ("brand", "channel", "state"),
    ),
)  # fmt: skip

# Windowed views: stored series name -> exported gauge family (with a `window` label).
WINDOWED_SERIES: Mapping[str, Family] = {
    "mentions_total": Family(
        "window_mentions", "gauge", "Inbound posts in the last window (event time).",
        ("brand", "channel", "window"),
    ),
    "first_response_sla_total": Family(
        "window_first_response_sla", "gauge",
        "First-response SLA outcomes in the last window (event time of the reply or deadline).",
        ("brand", "channel", "priority", "outcome", "window"),
    ),
    "resolutions_total": Family(
        "window_resolutions", "gauge", "Resolutions in the last window (event time).",
        ("brand", "channel", "how", "window"),
    ),
    "next_response_sla_total": Family(
        "window_next_response_sla", "gauge",
        "Next-response SLA outcomes in the last window (event time of the reply or deadline).",
        ("brand", "channel", "priority", "outcome", "window"),
    ),
    "resolution_sla_total": Family(
        "window_resolution_sla", "gauge",
        "Resolution SLA outcomes in the last window (event time of the resolution or deadline).",
        ("brand", "channel", "priority", "outcome", "window"),
    ),
    "other_channel_contacts_total": Family(
        "window_other_channel_contacts", "gauge",
        "Contacts on other channels in the last window (event time of the interval).",
        ("brand", "channel", "window"),
    ),
    "complaints_total": Family(
        "window_complaints", "gauge",
        "Inbound posts of inquiry type complaint in the last window (event time).",
        ("brand", "channel", "window"),
    ),
}  # fmt: skip

# Histogram families and their bucket bounds (the bucket index is the last label).
HISTOGRAM_BOUNDS: Mapping[str, tuple[float, ...]] = {
    "first_response_seconds": FIRST_RESPONSE_BUCKETS,
    "next_response_seconds": FIRST_RESPONSE_BUCKETS,
    "resolution_seconds": RESOLUTION_BUCKETS,
    "posts_to_resolution": POSTS_BUCKETS,
    "customer_effort_channels": POSTS_BUCKETS,
    "team_first_response_seconds": FIRST_RESPONSE_BUCKETS,
    "team_resolution_seconds": RESOLUTION_BUCKETS,
}

# Tumbling bucket sizes, and which one each sliding window is summed from.
FINE_BUCKET_SECONDS = 60.0
COARSE_BUCKET_SECONDS = 900.0
WINDOWS: Mapping[str, tuple[float, float]] = {
    "5m": (300.0, FINE_BUCKET_SECONDS),
    "1h": (3600.0, FINE_BUCKET_SECONDS),
    "24h": (86400.0, COARSE_BUCKET_SECONDS),
}
BUCKET_SIZES = (FINE_BUCKET_SECONDS, COARSE_BUCKET_SECONDS)


def retention_seconds(bucket_size: float, allowed_lateness: float) -> float:
    """How long a bucket must be kept: its longest window, late events and one bucket."""
    longest = max(window for window, size in WINDOWS.values() if size == bucket_size)
    return longest + allowed_lateness + bucket_size


def bucket_start(at: float, size: float) -> float:
    return at - (at % size)


def series_id(name: str, extra_labels: tuple[str, ...]) -> str:
    """Storage key of a series inside a (partition, brand, channel) aggregate."""
    return "|".join((name, *extra_labels))


def split_series_id(identifier: str) -> tuple[str, tuple[str, ...]]:
    name, *labels = identifier.split("|")
    return name, tuple(labels)


def add_into(
    target: MutableMapping[str, float], name: str, labels: tuple[str, ...], amount: float
) -> None:
    key = series_id(name, labels)
    # Rounded to the microunit: amounts (counts, seconds with milliseconds, money with
    # cents) then add up to the same value in any order, and a sum back at zero is zero.
    value = round(target.get(key, 0.0) + amount, 6)
    if value == 0.0:
        target.pop(key, None)
    else:
        target[key] = value


def window_covers(bucket: float, size: float, window: float, now: float) -> bool:
    """True if the tumbling bucket starting at `bucket` belongs to the window ending at now.

    A window of W seconds is the current bucket and the W/size - 1 before it, so it
    covers between W - size and W seconds of event time; nothing after `now` counts.
    """
    current = bucket_start(now, size)
    return current - window + size <= bucket <= current


def sum_windows(
    buckets: Iterable[tuple[float, float, Mapping[str, float]]], now: float
) -> dict[str, dict[str, float]]:
    """Sum (bucket start, bucket size, series values) into {window: {series id: total}}."""
    totals: dict[str, dict[str, float]] = {window: {} for window in WINDOWS}
    for start, size, values in buckets:
        for window, (length, window_size) in WINDOWS.items():
            if window_size != size or not window_covers(start, size, length, now):
                continue
            into = totals[window]
            for key, amount in values.items():
                into[key] = into.get(key, 0.0) + amount
    return totals


def cumulative_buckets(
    counts: Mapping[int, float], bounds: tuple[float, ...]
) -> list[tuple[str, float]]:
    """Prometheus `le` buckets (cumulative, +Inf last) from per-bucket counts."""
    running = 0.0
    out = []
    for index, bound in enumerate(bounds):
        running += counts.get(index, 0.0)
        out.append((_format_bound(bound), running))
    running += counts.get(len(bounds), 0.0)
    out.append(("+Inf", running))
    return out


def _format_bound(bound: float) -> str:
    return repr(float(bound))
