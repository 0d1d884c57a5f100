"""The quality board's rows on what becomes of the customers: churn risk, retention and
online reviews (docs/metrics.md: Quality metrics, Retention, Online reviews)."""

from __future__ import annotations

from grafana.boards.panels import (
    COUNT,
    SECONDS,
    SHARE,
    BarGauge,
    Format,
    Panel,
    Q,
    Row,
    Timeseries,
)
from grafana.boards.promql import (
    bc,
    eq,
    filled_ratio,
    inc,
    m,
    quantile,
    sum_rate,
    window_sum,
    zero_fill,
)
from processor.metrics.families import family

STARS = Format("none", decimals=2, min=1, max=5)


def _churn() -> list[Panel | Row]:
    at_risk = inc(m("churn_risk_conversations"), "brand", "7d")
    return [
        Row("Churn risk"),
        Timeseries(
            "Churn-risk conversations per hour",
            "Conversations where the customer says they are leaving (inquiry type churn_risk "
            "or a phrase of SOCIALCARE_CHURN_PHRASES), per hour over the last hour, by brand "
            f"({family('churn_risk_conversations').name}).",
            COUNT,
            [
                Q(
                    f"{sum_rate('brand', bc(m('churn_risk_conversations')), '1h')} * 3600",
                    "{{brand}}",
                )
            ],
            w=12,
        ),
        Timeseries(
            "Churn risks resolved and recovered (7d)",
            "Of the churn-risk conversations of the last 7 days, the share resolved and the "
            "share recovered (a CSAT of 4-5 or an NPS of 7-10), by brand.",
            SHARE,
            [
                Q(
                    filled_ratio(inc(m(f"churn_risk_{outcome}"), "brand", "7d"), at_risk),
                    f"{{{{brand}}}} {outcome}",
                )
                for outcome in ("resolved", "recovered")
            ],
            w=12,
        ),
    ]


def _retention() -> list[Panel | Row]:
    resolutions = inc(m("customer_resolutions"), "brand", "7d")
    conversations_24h = window_sum("customer_conversations", "brand", window="24h")
    returning_24h = window_sum("returning_customer_conversations", "brand", window="24h")
    hourly = f"{sum_rate('brand', bc(m('customer_conversations')), '1h')} * 3600"
    returning_hourly = (
        f"{sum_rate('brand', bc(m('returning_customer_conversations')), '1h')} * 3600"
    )
    return [
        Row("Retention"),
        Timeseries(
            "Repeat contact share (7d)",
            "Of the conversations resolved in the last 7 days, the share whose customer opened "
            "another conversation with the brand within 7 (30) days of the resolution, by "
            "brand. The latest days are still filling: read a past week for the final share "
            "(docs/metrics.md, Retention).",
            SHARE,
            [
                Q(
                    filled_ratio(
                        inc(m("repeat_contact_resolutions"), "brand", "7d", eq("within", within)),
                        resolutions,
                    ),
                    f"{{{{brand}}}} within {within}",
                )
                for within in ("7d", "30d")
            ],
            w=8,
        ),
        Timeseries(
            "Returning customers' share (24h, event time)",
            "Conversations of the last 24 hours opened by a customer who had an earlier "
            "conversation with the brand (remembered SOCIALCARE_CUSTOMER_TTL_SECONDS), by brand.",
            SHARE,
            [Q(filled_ratio(returning_24h, conversations_24h), "{{brand}}")],
            w=8,
        ),
        Timeseries(
            "New and returning customers' conversations per hour",
            "Conversations per hour over the last hour, split by whether their customer had "
            "written to the brand before.",
            COUNT,
            [
                Q(f"{hourly} - {zero_fill(returning_hourly, hourly)}", "{{brand}} new"),
                Q(zero_fill(returning_hourly, hourly), "{{brand}} returning"),
            ],
            w=8,
        ),
        Timeseries(
            "Repeat contacts per day",
            "Conversations opened within 7 (30) days after the resolution of an earlier "
            "conversation of the same customer, over the last day "
            f"({family('repeat_contacts').name}).",
            COUNT,
            [
                Q(
                    zero_fill(
                        inc(m("repeat_contacts"), "brand", "1d", eq("within", within)),
                        inc(m("customer_conversations"), "brand", "1d"),
                    ),
                    f"{{{{brand}}}} within {within}",
                )
                for within in ("7d", "30d")
            ],
            w=24,
        ),
    ]


def _reviews() -> list[Panel | Row]:
    reviews_24h = window_sum("reviews", "brand, source", window="24h")
    stars_24h = window_sum("review_stars", "brand, source", window="24h")
    negative = inc(m("negative_reviews"), "brand", "7d")
    return [
        Row("Online reviews"),
        Timeseries(
            "Reviews per hour by site",
            "Online reviews (posts with a rating) per hour over the last hour, by brand and "
            f"review site ({family('reviews').name}).",
            COUNT,
            [
                Q(
                    f"{sum_rate('brand, source', bc(m('reviews')), '1h')} * 3600",
                    "{{brand}} {{source}}",
                )
            ],
            w=8,
        ),
        Timeseries(
            "Average rating (24h, event time)",
            "Average first rating (1-5 stars) of the reviews of the last 24 hours, by brand "
            "and site.",
            STARS,
            [Q(f"{stars_24h} / {reviews_24h}", "{{brand}} {{source}}")],
            w=8,
        ),
        BarGauge(
            "Rating distribution (7d)",
            "Reviews of the last 7 days by their first rating.",
            COUNT,
            [Q(inc(m("reviews_by_rating"), "rating", "7d"), "{{rating}} stars")],
            w=8,
        ),
        Timeseries(
            "Negative reviews answered and recovered (7d)",
            "Of the 1-2 star reviews of the last 7 days, the share the brand answered (a human "
            "reply) and the share whose reviewer updated the rating to 4-5 stars.",
            SHARE,
            [
                Q(
                    filled_ratio(inc(m("negative_reviews_answered"), "brand", "7d"), negative),
                    "{{brand}} answered",
                ),
                Q(
                    filled_ratio(inc(m("review_recoveries"), "brand", "7d"), negative),
                    "{{brand}} recovered",
                ),
            ],
            w=8,
        ),
        Timeseries(
            "Time to answer a review (p50, p90)",
            "From the review to the brand's first human reply, over the last day "
            f"({family('review_response_seconds').name}).",
            SECONDS,
            [
                Q(
                    quantile(q, bc(m("review_response_seconds", "bucket")), "1d", "brand"),
                    f"{{{{brand}}}} p{round(q * 100)}",
                )
                for q in (0.5, 0.9)
            ],
            w=8,
        ),
        Timeseries(
            "Negative reviews in the last hour (event time)",
            "1-2 star reviews of the last hour by brand: the SocialcareNegativeReviewBurst alert "
            "fires on a burst against the same hour of the previous days.",
            COUNT,
            [Q(window_sum("negative_reviews", "brand", window="1h"), "{{brand}}")],
            w=8,
        ),
    ]


def customer_rows() -> list[Panel | Row]:
    """Churn risk, retention and online reviews, in that order."""
    return [*_churn(), *_retention(), *_reviews()]
