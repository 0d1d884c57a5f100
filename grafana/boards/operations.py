"""The operations board: volume, SLA compliance, backlog and response times, live.

SLA compliance and volume read the event-time window gauges, so a replayed backfill does not
distort them; the processing-time rates beside them show the flow as it arrives.
"""

from __future__ import annotations

from grafana.boards.panels import (
    BACKLOG_COLORS,
    BAD_WHEN_ABOVE_ZERO,
    BUSINESS_VARIABLES,
    COUNT,
    MET_BREACHED_COLORS,
    PCT_THRESHOLDS,
    SECONDS,
    SHARE,
    USD,
    BarGauge,
    Format,
    Gauge,
    Json,
    Panel,
    Q,
    Row,
    Stat,
    Table,
    Timeseries,
    dashboard,
    override,
)
from grafana.boards.promql import (
    BC,
    bc,
    compliance,
    eq,
    inc,
    le,
    m,
    mean,
    quantile,
    ratio,
    sum_by,
    sum_rate,
    window_sum,
    zero_fill,
)
from processor.metrics.families import family

FRS = "first_response_seconds"


def _breached_first_responses(by: str) -> str:
    """First-response breaches per window, 0 where responses were decided but none breached."""
    return zero_fill(
        window_sum("first_response_sla", by, eq("outcome", "breached")),
        window_sum("first_response_sla", by),
    )


def _volume() -> list[Panel | Row]:
    return [
        Row("Volume"),
        Timeseries(
            "Inbound volume (posts/min)",
            "Inbound customer posts (mention events) per minute by brand and channel, averaged "
            "over 5 minutes of processing time. A replayed backfill lands all at once here; the "
            "event-time windows on the right are not affected.",
            Format("cpm"),
            [
                Q(
                    f"{sum_rate('brand, channel', bc(m('mentions')), '5m')} * 60",
                    "{{brand}} / {{channel}}",
                )
            ],
        ),
        Stat(
            "Mentions in the last 5m / 1h / 24h (event time)",
            "Inbound posts whose event time falls in the sliding windows of 5 minutes, 1 hour "
            f"and 24 hours ({family('window_mentions').name}), for the selected brands and "
            "channels.",
            COUNT,
            [Q(window_sum("mentions", "window"), "{{window}}")],
            w=6,
        ),
        BarGauge(
            "Mentions in the last hour by brand and channel",
            "Inbound posts of the last hour of event time per brand and channel: where the "
            "volume comes from right now.",
            COUNT,
            [Q(window_sum("mentions", "brand, channel", window="1h"), "{{brand}} / {{channel}}")],
            w=6,
        ),
        Timeseries(
            "New conversations per hour",
            "Conversations opened (first customer post of a thread) in the preceding hour, by "
            "brand. Follow-up posts are not counted here, only new threads.",
            COUNT,
            [Q(inc(m("conversations_opened"), "brand", "1h"), "{{brand}}")],
        ),
        Timeseries(
            "Response rate (1h)",
            "Share of customer posts followed by a human brand reply, by brand, over the last "
            "hour: answered mentions / mentions. Bot replies do not count as an answer.",
            Format("percentunit", min=0),
            [
                Q(
                    ratio(
                        sum_rate("brand", bc(m("mentions_answered")), "1h"),
                        sum_rate("brand", bc(m("mentions")), "1h"),
                    ),
                    "{{brand}}",
                )
            ],
        ),
    ]


def _sla() -> list[Panel | Row]:
    open_base = sum_by("brand, channel", bc(m("open_conversations")))
    return [
        Row("First-response SLA"),
        Stat(
            "First-response SLA compliance, last 5m / 1h / 24h",
            "Share of first responses due in each event-time window that met the SLA of their "
            "policy: met / (met + breached). Conversations still within their deadline are not "
            "counted yet; red below 80 %, green from 95 %.",
            SHARE,
            [Q(compliance("first_response_sla", "window"), "{{window}}")],
            w=8,
            thresholds=PCT_THRESHOLDS,
        ),
        Stat(
            "First-response breaches, last 5m / 1h / 24h",
            "First responses that breached their SLA in each event-time window (a late reply or "
            "no reply by the deadline). 0 is the goal; any breach in the last 5 minutes is red.",
            COUNT,
            [Q(_breached_first_responses("window"), "{{window}}")],
            w=8,
            thresholds=BAD_WHEN_ABOVE_ZERO,
        ),
        Stat(
            "Next-response and resolution SLA compliance (24h)",
            "Share of follow-up waits answered within the next-response target, and of "
            "conversations resolved within the resolution target, decided in the last 24 hours "
            "of event time.",
            SHARE,
            [
                Q(compliance("next_response_sla", "window", "24h"), "next response"),
                Q(compliance("resolution_sla", "window", "24h"), "resolution"),
            ],
            w=8,
            thresholds=PCT_THRESHOLDS,
        ),
        Timeseries(
            "First-response SLA compliance by brand, last 1h (event time)",
            "Share of first responses met in the last hour of event time, per brand, over "
            "time. A drop shows when answers started to miss their deadlines.",
            SHARE,
            [Q(compliance("first_response_sla", "brand", "1h"), "{{brand}}")],
        ),
        Timeseries(
            "SLA met vs breached per 5 min",
            "First-response SLA outcomes decided in each 5-minute step of processing time: met "
            "(a human reply within the deadline) or breached (late, or no reply by the "
            "deadline).",
            COUNT,
            [Q(inc(m("first_response_sla"), "outcome", "5m"), "{{outcome}}")],
            stacked=True,
            bars=True,
            overrides=MET_BREACHED_COLORS,
        ),
        BarGauge(
            "First-response SLA compliance by priority (24h)",
            "Share of first responses met in the last 24 hours of event time, per brand and "
            "priority of the opening post: whether urgent posts get their faster targets.",
            SHARE,
            [
                Q(
                    compliance("first_response_sla", "brand, priority", "24h"),
                    "{{brand}} {{priority}}",
                )
            ],
            h=10,
            thresholds=PCT_THRESHOLDS,
        ),
        Table(
            "By brand and channel",
            "One line per brand and channel: posts in the last hour (event time), first-response "
            "compliance of the last 24 hours, open conversations and the breached ones among "
            "them.",
            COUNT,
            [
                Q(
                    window_sum("mentions", "brand, channel", window="1h"),
                    "mentions 1h",
                    instant=True,
                ),
                Q(
                    compliance("first_response_sla", "brand, channel", "24h"),
                    "compliance 24h",
                    instant=True,
                ),
                Q(open_base, "open", instant=True),
                Q(
                    zero_fill(
                        sum_by(
                            "brand, channel", bc(m("open_conversations"), eq("state", "breached"))
                        ),
                        open_base,
                    ),
                    "breached",
                    instant=True,
                ),
            ],
            h=10,
            overrides=[
                override(
                    "Value #B",
                    ("unit", "percentunit"),
                    ("decimals", 1),
                    ("displayName", "compliance 24h"),
                ),
                *(
                    override(f"Value #{ref}", ("displayName", name))
                    for ref, name in (("A", "mentions 1h"), ("C", "open"), ("D", "breached"))
                ),
            ],
        ),
    ]


def _backlog() -> list[Panel | Row]:
    def now_in(state: str) -> str:
        return f"{sum_by('', bc(m('open_conversations'), eq('state', state)))} or vector(0)"

    value = m("open_customer_value")
    return [
        Row("Backlog and breaches"),
        Timeseries(
            "Open conversations by state",
            "Conversations not yet resolved, by state: waiting for a first or next response, "
            "at risk (deadline within the at-risk margin), breached (past the deadline) or "
            "waiting for the customer.",
            COUNT,
            [Q(sum_by("state", bc(m("open_conversations"))), "{{state}}")],
            stacked=True,
            overrides=BACKLOG_COLORS,
        ),
        Stat(
            "Breached and at-risk conversations now",
            "Open conversations waiting past their deadline (breached) or within the at-risk "
            "margin of it (at_risk). Both should be 0: each one is a customer waiting too long.",
            COUNT,
            [Q(now_in("breached"), "breached"), Q(now_in("at_risk"), "at risk")],
            w=6,
            thresholds=BAD_WHEN_ABOVE_ZERO,
        ),
        BarGauge(
            "Waiting conversations by priority",
            "Open conversations waiting for a brand reply (first or next response, at risk or "
            "breached), by priority of the opening post.",
            COUNT,
            [
                Q(
                    sum_by(
                        "priority",
                        bc(m("open_conversations_by_priority"), 'state!="awaiting_customer"'),
                    ),
                    "{{priority}}",
                )
            ],
            w=6,
        ),
        BarGauge(
            "Backlog by age",
            "Open conversations by time since their opening post: lt_1h, 1h_4h, 4h_24h, 1d_3d "
            "and gt_3d. Old open conversations point at forgotten threads.",
            COUNT,
            [Q(sum_by("age", bc(m("open_conversations_by_age"))), "{{age}}")],
            w=8,
        ),
        Timeseries(
            "Resolutions in the last hour (event time)",
            "Conversations resolved in the last hour of event time, by brand: the outflow of "
            "the backlog, to compare with new conversations per hour.",
            COUNT,
            [Q(window_sum("resolutions", "brand", window="1h"), "{{brand}}")],
            w=8,
        ),
        Stat(
            "Customer value at risk",
            "Sum of customer_value of the open conversations that are at risk or breached: "
            "what is at stake if they stay unanswered (currency of the source data).",
            USD,
            [
                Q(
                    zero_fill(
                        sum_by("brand", bc(value, 'state=~"at_risk|breached"')),
                        sum_by("brand", bc(value)),
                    ),
                    "{{brand}}",
                )
            ],
            w=8,
        ),
    ]


def _forecast() -> list[Panel | Row]:
    forecast = m("forecast_first_response_breaches")
    return [
        Row("Breach forecast (a forecast, not breaches that happened)"),
        Timeseries(
            "First-response breaches: forecast for the next hour vs the last hour",
            "FORECAST: first-response breaches expected with a deadline in the next 60 "
            "minutes, from the waiting conversations, how long the queue's conversations "
            "waited over the past week, the reply pace now and, with a staffing handle time, "
            "the arrivals. HAPPENED: breaches counted in the last hour. A forecast line should "
            "meet the happened line an hour later.",
            COUNT,
            [
                Q(sum_by("brand", bc(forecast, eq("horizon", "60m"))), "forecast {{brand}}"),
                Q(
                    inc(m("first_response_sla"), "brand", "1h", eq("outcome", "breached")),
                    "happened {{brand}}",
                ),
            ],
            w=12,
        ),
        BarGauge(
            "Breaches forecast by priority: next 15 minutes",
            "FORECAST: first-response breaches expected with a deadline in the next 15 "
            "minutes, by priority: the conversations to answer first.",
            COUNT,
            [Q(sum_by("priority", bc(forecast, eq("horizon", "15m"))), "{{priority}}")],
            w=6,
        ),
        BarGauge(
            "Breaches forecast by priority: next hour",
            "FORECAST: first-response breaches expected with a deadline in the next 60 "
            "minutes, by priority (SocialcareBreachForecast pages at 5 per brand and channel).",
            COUNT,
            [Q(sum_by("priority", bc(forecast, eq("horizon", "60m"))), "{{priority}}")],
            w=6,
        ),
    ]


def _response_times() -> list[Panel | Row]:
    buckets = bc(m(FRS, "bucket"))
    return [
        Row("Response times"),
        Timeseries(
            "First response time p50 / p90",
            "Time from a conversation's opening post to the brand's first human reply, median "
            f"and 90th percentile over the last 15 minutes ({family(FRS).name}).",
            SECONDS,
            [Q(quantile(0.5, buckets, "15m"), "p50"), Q(quantile(0.9, buckets, "15m"), "p90")],
        ),
        Timeseries(
            "First response time p90 by brand and channel",
            "90th percentile of the first response time over the last 15 minutes, per brand "
            "and channel: which queue is slow.",
            SECONDS,
            [Q(quantile(0.9, buckets, "15m", "brand, channel"), "{{brand}} / {{channel}}")],
        ),
        Stat(
            "Mean first response time (1h)",
            "Average time to the first human reply of the conversations answered in the last "
            "hour, by brand.",
            SECONDS,
            [Q(mean(FRS, "brand", "1h", BC), "{{brand}}")],
            w=8,
        ),
        Gauge(
            "Answered within 5 minutes (1h)",
            "Share of the first responses of the last hour given within 5 minutes of the "
            "opening post, by brand.",
            SHARE,
            [
                Q(
                    ratio(
                        sum_rate("brand", bc(m(FRS, "bucket"), le(300)), "1h"),
                        sum_rate("brand", bc(m(FRS, "count")), "1h"),
                    ),
                    "{{brand}}",
                )
            ],
            w=8,
            thresholds=PCT_THRESHOLDS,
        ),
        Stat(
            "Conversations never answered (24h)",
            "Share of the conversations opened in the last 24 hours that have no human reply "
            "yet, by brand: 1 - answered / opened. Recent conversations are naturally still "
            "waiting.",
            SHARE,
            [
                Q(
                    "1 - "
                    + ratio(inc(m(FRS, "count"), "brand"), inc(m("conversations_opened"), "brand")),
                    "{{brand}}",
                )
            ],
            w=8,
        ),
        Timeseries(
            "Next response time p90",
            "90th percentile of the wait after a customer's follow-up until the next human "
            f"reply, over the last hour, by brand ({family('next_response_seconds').name}).",
            SECONDS,
            [
                Q(
                    quantile(0.9, bc(m("next_response_seconds", "bucket")), "1h", "brand"),
                    "{{brand}}",
                )
            ],
            w=24,
        ),
    ]


def board() -> Json:
    return dashboard(
        "socialcare-operations",
        "Social care — operations",
        "Live social customer-care operations: inbound volume, first-response SLA compliance, "
        "backlog and breaches, the breach forecast, response times, by brand and channel.",
        [*_volume(), *_sla(), *_backlog(), *_forecast(), *_response_times()],
        BUSINESS_VARIABLES,
        "now-6h",
        "30s",
    )
