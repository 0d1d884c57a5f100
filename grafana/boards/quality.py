"""The quality board: satisfaction, sentiment, resolution and redirections.

Survey and resolution counts are sparse (a brand may have no promoter or no reopen in a
day), so most ratios here are completed with 0 from a series that is present.
"""

from __future__ import annotations

from grafana.boards.customers import customer_rows
from grafana.boards.panels import (
    BAD_WHEN_ABOVE_ZERO,
    BUSINESS_VARIABLES,
    COUNT,
    MIX,
    PCT_THRESHOLDS,
    RATIO,
    SECONDS,
    SHARE,
    BarGauge,
    Format,
    Gauge,
    Json,
    Panel,
    Q,
    Row,
    Stat,
    Timeseries,
    dashboard,
    fixed_colors,
    steps,
)
from grafana.boards.predicted import predicted_rows
from grafana.boards.promql import (
    BC,
    bc,
    eq,
    filled_ratio,
    inc,
    increase,
    m,
    mean,
    quantile,
    rate,
    ratio,
    share_of_total,
    sum_by,
    sum_rate,
    window_sum,
    zero_fill,
)
from processor.metrics.families import family

CSAT_AVERAGE = Format("none", decimals=2, min=1, max=5)
NPS_CATEGORIES = ("promoter", "passive", "detractor")


def _csat_average(by: str) -> str:
    return ratio(inc(m("csat_score"), by), inc(m("csat_responses"), by))


def _nps_category(category: str) -> str:
    # Completed with 0 from the other categories: a brand with no promoter still has an NPS.
    nps = m("nps_responses")
    return sum_by(
        "brand",
        f"{increase(bc(nps, eq('category', category)), '7d')} or {increase(bc(nps), '7d')} * 0",
    )


def _satisfaction() -> list[Panel | Row]:
    nps = m("nps_responses")
    resolutions = inc(m("resolutions"), "brand")
    negative = sum_by("brand", bc(m("negative_conversations")))
    return [
        Row("Satisfaction"),
        Stat(
            "CSAT average (24h)",
            "Average CSAT score (1 to 5) of the survey answers of the last 24 hours, by brand of "
            "the conversation: score sum / answers.",
            CSAT_AVERAGE,
            [Q(_csat_average("brand"), "{{brand}}")],
            w=6,
            thresholds=steps("red", (3.5, "orange"), (4.2, "green")),
        ),
        Gauge(
            "CSAT satisfied (24h)",
            "Share of CSAT answers of the last 24 hours that scored 4 or 5, by brand.",
            SHARE,
            [
                Q(
                    ratio(inc(m("csat_satisfied"), "brand"), inc(m("csat_responses"), "brand")),
                    "{{brand}}",
                )
            ],
            w=6,
            thresholds=PCT_THRESHOLDS,
        ),
        Stat(
            "NPS (7d)",
            "Net Promoter Score of the last 7 days, by brand: 100 x (promoters - detractors) / "
            "answers, from -100 to 100 (promoters score 9-10, detractors 0-6).",
            Format("none", decimals=0, min=-100, max=100),
            [
                Q(
                    f"100 * ({_nps_category('promoter')} - {_nps_category('detractor')}) / "
                    + inc(nps, "brand", "7d"),
                    "{{brand}}",
                )
            ],
            w=6,
            thresholds=steps("red", (0, "orange"), (30, "green")),
        ),
        Stat(
            "CSAT answers needing a follow-up (24h)",
            "CSAT answers of 3 or less in the last 24 hours, by brand: customers someone should "
            "get back to.",
            COUNT,
            [
                Q(
                    zero_fill(
                        inc(m("csat_followup_needed"), "brand"),
                        inc(m("conversations_opened"), "brand"),
                    ),
                    "{{brand}}",
                )
            ],
            w=6,
            thresholds=BAD_WHEN_ABOVE_ZERO,
        ),
        BarGauge(
            "CSAT average, redirected vs public (24h)",
            "Average CSAT of the last 24 hours for conversations moved to a private channel "
            "(redirected=true) and conversations kept public (false).",
            CSAT_AVERAGE,
            [Q(_csat_average("redirected"), "redirected={{redirected}}")],
            w=8,
        ),
        BarGauge(
            "NPS answers by category (7d)",
            "NPS answers of the last 7 days by category: promoters (9-10), passives (7-8) and "
            "detractors (0-6); 0 for a category without answers.",
            COUNT,
            [
                Q(
                    " or ".join(
                        [
                            inc(nps, "category", "7d"),
                            *(
                                f'label_replace(vector(0), "category", "{category}", "", "")'
                                for category in NPS_CATEGORIES
                            ),
                        ]
                    ),
                    "{{category}}",
                )
            ],
            w=8,
        ),
        Timeseries(
            "Survey answers per hour",
            "CSAT and NPS survey answers received in the preceding hour, for the selected "
            "brands and channels (0 while none arrived).",
            COUNT,
            [
                Q(f"{inc(m('surveys'), '', '1h', eq('kind', kind))} or vector(0)", kind)
                for kind in ("csat", "nps")
            ],
            w=8,
        ),
        Stat(
            "Survey answers per resolution (24h)",
            "Survey answers per resolution over the last 24 hours, by brand: how often resolved "
            "customers answer a survey (an answer rate, not capped at 100 %).",
            RATIO,
            [Q(filled_ratio(inc(m("surveys"), "brand"), resolutions), "{{brand}}")],
            w=8,
        ),
        Stat(
            "Recovery rate",
            "Of the conversations that opened with a negative post, the share that ended "
            "recovered (a later non-negative post, a CSAT of 4-5 or an NPS of 7-10), by brand, "
            "since the counters started.",
            SHARE,
            [
                Q(
                    filled_ratio(sum_by("brand", bc(m("recovered_conversations"))), negative),
                    "{{brand}}",
                )
            ],
            w=8,
        ),
        Stat(
            "Complaints in the last hour (event time)",
            "Inbound posts with inquiry_type complaint in the last hour of event time, by brand "
            f"({family('window_complaints').name}). A jump is often a crisis or an outage.",
            COUNT,
            [Q(window_sum("complaints", "brand", window="1h"), "{{brand}}")],
            w=8,
        ),
    ]


def _mix(
    title: str, description: str, short: str, label: str, colors: list[Json] | None = None
) -> Timeseries:
    """Shares of inbound posts by one classification label over the last hour."""
    return Timeseries(
        title,
        description,
        MIX,
        [Q(share_of_total(label, rate(bc(m(short)), "1h")), f"{{{{{label}}}}}")],
        stacked=True,
        overrides=colors or [],
    )


def _sentiment() -> list[Panel | Row]:
    sentiment = _mix(
        "Sentiment mix of inbound posts (1h)",
        "Share of inbound posts by sentiment class (negative, neutral, positive, unknown) "
        "over the last hour. The shares add up to 100 %.",
        "mentions_by_sentiment",
        "sentiment",
        fixed_colors(negative="red", neutral="yellow", positive="green", unknown="gray"),
    )
    inquiry = _mix(
        "Inquiry type mix of inbound posts (1h)",
        "Share of inbound posts by inquiry type (complaint, question, feedback, "
        "recommendation, praise, other, unknown) over the last hour.",
        "mentions_by_inquiry_type",
        "inquiry_type",
    )
    return [Row("Sentiment and inquiries"), sentiment, inquiry]


def _resolution() -> list[Panel | Row]:
    resolved_first = inc(m("resolution_seconds", "count"), "brand")
    resolutions = inc(m("resolutions"), "brand")
    posts = "posts_to_resolution"
    effort = "customer_effort_channels"
    return [
        Row("Resolution"),
        Stat(
            "First Social Contact Resolution rate (24h)",
            "Share of the conversations first resolved in the last 24 hours that were resolved "
            "with exactly one human reply, without redirection and never reopened, by brand.",
            SHARE,
            [
                Q(
                    filled_ratio(inc(m("first_contact_resolutions"), "brand"), resolved_first),
                    "{{brand}}",
                )
            ],
            w=6,
        ),
        Stat(
            "Resolutions per opened conversation (24h)",
            "Resolutions of the last 24 hours divided by the conversations opened in the same "
            "period, by brand: close to 100 % when the team keeps up with the inflow.",
            RATIO,
            [Q(ratio(resolutions, inc(m("conversations_opened"), "brand")), "{{brand}}")],
            w=6,
        ),
        Stat(
            "Reopen rate (24h)",
            "Customer posts after a resolution (reopening the conversation) per resolution over "
            "the last 24 hours, by brand. High values mean conversations are closed too early.",
            RATIO,
            [Q(filled_ratio(inc(m("reopens"), "brand"), resolutions), "{{brand}}")],
            w=6,
        ),
        BarGauge(
            "Resolutions by kind (24h)",
            "Share of the resolutions of the last 24 hours that were explicit (a reply marked "
            "resolves) or inferred from the customer's inactivity after a human reply.",
            SHARE,
            [Q(share_of_total("how", increase(bc(m("resolutions")), "24h")), "{{how}}")],
            w=6,
        ),
        Timeseries(
            "Time to resolution p50, redirected vs public",
            "Median time from the opening post to the first resolution over the last 24 hours, "
            "for conversations redirected to a private channel before it (true) and the others "
            "(false).",
            SECONDS,
            [
                Q(
                    quantile(0.5, bc(m("resolution_seconds", "bucket")), "24h", "redirected"),
                    "redirected={{redirected}}",
                )
            ],
        ),
        Timeseries(
            "Tweets to resolution, mean",
            "Average number of posts from the opening one to the first resolution over the last "
            "24 hours, by brand: customer posts plus brand replies (bot replies included).",
            Format("short", decimals=1),
            [
                Q(
                    ratio(
                        sum_rate("brand", bc(m(posts, "sum")), "24h"),
                        sum_rate("brand", bc(m(posts, "count"), eq("side", "customer")), "24h"),
                    ),
                    "{{brand}}",
                )
            ],
        ),
        BarGauge(
            "Posts to resolution by side, mean / p90 (24h)",
            "Posts from the opening one to the first resolution over the last 24 hours, for the "
            "customer (effort in posts) and for the brand: mean, and 90th percentile estimated "
            "from the histogram buckets.",
            Format("short", decimals=1),
            [
                Q(mean(posts, "side", "24h", BC), "mean {{side}}"),
                Q(quantile(0.9, bc(m(posts, "bucket")), "24h", "side"), "p90 {{side}}"),
            ],
        ),
        Stat(
            "Customer effort: channels used, mean / p90 (24h)",
            "Channels the customer used until the first resolution (the public one plus each "
            "distinct private channel they were redirected to): mean and 90th percentile over "
            "the last 24 hours.",
            Format("short", decimals=2),
            [
                Q(mean(effort, "", "24h", BC), "mean"),
                Q(quantile(0.9, bc(m(effort, "bucket")), "24h"), "p90"),
            ],
        ),
    ]


def _redirections() -> list[Panel | Row]:
    return [
        Row("Redirections"),
        Timeseries(
            "Redirections per hour by target channel",
            "Conversations moved from the public channel to a private one (dm, chat, voice, "
            "email, other) in the preceding hour, by target channel.",
            COUNT,
            [Q(inc(m("redirections"), "to_channel", "1h"), "{{to_channel}}")],
            stacked=True,
        ),
        BarGauge(
            "Redirection share by brand and target (1h)",
            "Redirections of the last hour per conversation opened in the same hour, by brand "
            "and target channel: how much of the care moves out of public view.",
            RATIO,
            [
                Q(
                    ratio(
                        inc(m("redirections"), "brand, to_channel", "1h"),
                        "ignoring (to_channel) group_left "
                        + inc(m("conversations_opened"), "brand", "1h"),
                    ),
                    "{{brand}} → {{to_channel}}",
                )
            ],
        ),
    ]


def board() -> Json:
    return dashboard(
        "socialcare-quality",
        "Social care — quality",
        "Quality of social customer care: CSAT, NPS, recovery of negative conversations, "
        "sentiment, churn risk, retention, online reviews, First Social Contact Resolution, "
        "tweets to resolution and redirections.",
        [
            *_satisfaction(),
            *predicted_rows(),
            *_sentiment(),
            *customer_rows(),
            *_resolution(),
            *_redirections(),
        ],
        BUSINESS_VARIABLES,
        "now-24h",
        "1m",
    )
