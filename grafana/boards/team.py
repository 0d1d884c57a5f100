"""The teams and cost board: who answers, how fast, and what a human reply costs.

Team series also filter by the `$team` variable. Staffing cost is configured per team, not
per brand, so the cost panels read it without the brand and channel filter.
"""

from __future__ import annotations

from grafana.boards.panels import (
    BACKLOG_COLORS,
    BAD_WHEN_ABOVE_ZERO,
    BUSINESS_VARIABLES,
    COUNT,
    PCT_THRESHOLDS,
    SECONDS,
    SHARE,
    TEAM_VARIABLE,
    USD,
    BarGauge,
    Format,
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
    eq,
    filled_ratio,
    inc,
    increase,
    le,
    m,
    mean,
    quantile,
    ratio,
    sel,
    share_of_total,
    sum_by,
    sum_increase,
    sum_rate,
    zero_fill,
)

TEAM = 'team=~"$team"'
# Brand, channel and team variables.
BCT = f"{BC},{TEAM}"
TFR = "team_first_response_seconds"
TRES = "team_resolution_seconds"


def _activity() -> list[Panel | Row]:
    replies = bc(m("replies"))
    return [
        Row("Team activity"),
        Timeseries(
            "Human replies per hour by team",
            "Human brand replies sent in the preceding hour, by the team named on the reply "
            "(unassigned without one). Bot replies are not team work and are left out.",
            COUNT,
            [Q(sum_increase("team", sel(m("team_replies"), BCT), "1h"), "{{team}}")],
            stacked=True,
        ),
        BarGauge(
            "Share of human replies by team (24h)",
            "Each team's share of the human brand replies of the last 24 hours.",
            SHARE,
            [Q(share_of_total("team", increase(sel(m("team_replies"), BCT), "24h")), "{{team}}")],
            w=6,
        ),
        Stat(
            "Bot share of brand replies (1h)",
            "Share of brand replies of the last hour that were automated, by brand. Bot replies "
            "never stop an SLA clock.",
            SHARE,
            [
                Q(
                    filled_ratio(
                        sum_rate("brand", bc(m("replies"), eq("kind", "automated")), "1h"),
                        sum_rate("brand", replies, "1h"),
                    ),
                    "{{brand}}",
                )
            ],
            w=6,
        ),
    ]


def _performance() -> list[Panel | Row]:
    first_buckets = sel(m(TFR, "bucket"), BCT)
    return [
        Row("Team performance"),
        Timeseries(
            "Team first response time p50 / p90",
            "Time to the first human reply, credited to the team of that reply, median and 90th "
            "percentile over the last hour.",
            SECONDS,
            [
                Q(quantile(0.5, first_buckets, "1h", "team"), "p50 {{team}}"),
                Q(quantile(0.9, first_buckets, "1h", "team"), "p90 {{team}}"),
            ],
        ),
        BarGauge(
            "Team first responses within 5 minutes (24h)",
            "Share of each team's first responses of the last 24 hours given within 5 minutes "
            "of the opening post.",
            SHARE,
            [
                Q(
                    ratio(
                        sum_increase("team", sel(m(TFR, "bucket"), BCT, le(300)), "24h"),
                        sum_increase("team", sel(m(TFR, "count"), BCT), "24h"),
                    ),
                    "{{team}}",
                )
            ],
            w=6,
            thresholds=PCT_THRESHOLDS,
        ),
        BarGauge(
            "Team mean first response time (24h)",
            "Average time to the first human reply of the conversations each team answered "
            "first in the last 24 hours.",
            SECONDS,
            [Q(mean(TFR, "team", "24h", BCT), "{{team}}")],
            w=6,
        ),
        Timeseries(
            "Resolutions per hour by team",
            "First resolutions of the preceding hour, credited to the team of the resolving "
            "reply (for an inactivity resolution, the last human reply; unassigned for a bot).",
            COUNT,
            [Q(sum_increase("team", sel(m(TRES, "count"), BCT), "1h"), "{{team}}")],
            stacked=True,
        ),
        BarGauge(
            "Team time to resolution p50 (24h)",
            "Median time from the opening post to the first resolution over the last 24 hours, "
            "by the team that resolved it.",
            SECONDS,
            [Q(quantile(0.5, sel(m(TRES, "bucket"), BCT), "24h", "team"), "{{team}}")],
        ),
    ]


def _cost() -> list[Panel | Row]:
    staffing = sum_by("team", sel(m("team_staffing_cost_per_hour"), TEAM))
    replies_per_second = sum_rate("team", sel(m("team_replies"), TEAM), "1h")
    return [
        Row("Cost and value"),
        BarGauge(
            "Cost per human response (1h)",
            "Configured staffing cost per hour of each team divided by the human replies it "
            "sent per hour over the last hour (all brands and channels: staffing is not split "
            "by brand). Currency of SOCIALCARE_TEAM_STAFFING.",
            Format("currencyUSD", decimals=2),
            [Q(ratio(staffing, f"({replies_per_second} * 3600)"), "{{team}}")],
            w=8,
        ),
        BarGauge(
            "Staffing cost per hour",
            "Configured hourly cost of each team (cost per agent hour x staffed agents, "
            "SOCIALCARE_TEAM_STAFFING): a constant from the configuration, not a roster.",
            USD,
            [Q(staffing, "{{team}}")],
            w=8,
        ),
        Stat(
            "Breached customer value (24h)",
            "Sum of customer_value of the conversations whose first-response SLA was breached "
            "in the last 24 hours, by brand: the value of the customers kept waiting.",
            USD,
            [
                Q(
                    zero_fill(
                        inc(m("breached_customer_value"), "brand"),
                        inc(m("first_response_sla"), "brand"),
                    ),
                    "{{brand}}",
                )
            ],
            w=8,
            thresholds=BAD_WHEN_ABOVE_ZERO,
        ),
        Timeseries(
            "Open customer value by state",
            "Sum of customer_value of the open conversations, by backlog state: what is at "
            "stake in the queue, at_risk and breached being the value at risk.",
            USD,
            [Q(sum_by("state", bc(m("open_customer_value"))), "{{state}}")],
            stacked=True,
            overrides=BACKLOG_COLORS,
        ),
        Table(
            "Replies per labelled agent (24h)",
            "Human replies of the last 24 hours of the agents listed in SOCIALCARE_AGENT_LABELS "
            "(no agent has a series unless listed there), by brand and agent.",
            COUNT,
            [Q(inc(m("agent_replies"), "brand, agent"), "{{agent}}", instant=True)],
            overrides=[override("Value", ("displayName", "replies 24h"))],
        ),
    ]


def board() -> Json:
    return dashboard(
        "socialcare-team",
        "Social care — teams and cost",
        "Team and agent performance: replies, first response and resolution times by team, "
        "bot share, cost per human response and customer value at stake.",
        [*_activity(), *_performance(), *_cost()],
        [*BUSINESS_VARIABLES, TEAM_VARIABLE],
        "now-24h",
        "1m",
    )
