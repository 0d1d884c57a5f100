"""Grafana dashboards as code: writes grafana/dashboards/*.json.

Run `python grafana/build_dashboards.py` after editing a panel here; the JSON files are the
build output, committed so that Grafana's file provisioning reads them directly
(`grafana/provisioning/dashboards/socialcare.yaml`). `tests/unit/test_dashboards.py` checks
that the files are up to date and that every panel follows the rules of issue 5: a title, a
description, a unit, and only the metric families documented in `docs/metrics.md`.

PromQL conventions (see the PromQL sections of docs/metrics.md):
* business sums are `sum by (...)` over all workers; ratios and quantiles after the sum;
* SLA compliance and volume read the event-time window gauges (`socialcare_window_*`);
* no `offset` and no recording rules: every expression works minutes after a start;
* a count that may be legitimately absent (no breach yet, no reopen yet) is completed with
  `or <a present series of the same labels> * 0`, so a panel shows 0 rather than no data.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DASHBOARDS_DIR = Path(__file__).resolve().parent / "dashboards"

# The uid of the provisioned datasource (grafana/provisioning/datasources/prometheus.yaml).
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}

# Label filter of the business boards' template variables.
BC = 'brand=~"$brand",channel=~"$channel"'
# Jobs of prometheus/prometheus.yml: the workers and the ingest webhook.
JOBS = 'job=~"socialcare|socialcare-webhook"'

Json = dict[str, Any]

PCT_THRESHOLDS: list[Json] = [
    {"color": "red", "value": None},
    {"color": "orange", "value": 0.8},
    {"color": "green", "value": 0.95},
]
BAD_WHEN_ABOVE_ZERO: list[Json] = [{"color": "green", "value": None}, {"color": "red", "value": 1}]
NEUTRAL: list[Json] = [{"color": "blue", "value": None}]


@dataclass(frozen=True)
class Q:
    """One PromQL target."""

    expr: str
    legend: str = ""
    instant: bool = False


@dataclass
class Panel:
    """A panel before layout: type, texts, unit, queries and type-specific options."""

    kind: str
    title: str
    description: str
    unit: str
    targets: list[Q]
    w: int = 12
    h: int = 8
    decimals: int | None = None
    min: float | None = None
    max: float | None = None
    thresholds: list[Json] = field(default_factory=lambda: list(NEUTRAL))
    stacked: bool = False
    bars: bool = False
    overrides: list[Json] = field(default_factory=list)


@dataclass(frozen=True)
class Row:
    """A (non-collapsed) row header: the panels after it, up to the next row, belong to it."""

    title: str


def color_override(name: str, color: str) -> Json:
    return {
        "matcher": {"id": "byName", "options": name},
        "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": color}}],
    }


MET_BREACHED_COLORS = [color_override("met", "green"), color_override("breached", "red")]
BACKLOG_COLORS = [color_override("breached", "red"), color_override("at_risk", "orange")]


def template_variable(name: str, label: str, query: str) -> Json:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": dict(DATASOURCE),
        "definition": query,
        "query": query,
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
        "hide": 0,
    }


BRAND_VARIABLE = template_variable(
    "brand", "Brand", "label_values(socialcare_mentions_total, brand)"
)
CHANNEL_VARIABLE = template_variable(
    "channel", "Channel", 'label_values(socialcare_mentions_total{brand=~"$brand"}, channel)'
)
TEAM_VARIABLE = template_variable(
    "team", "Team", f"label_values(socialcare_team_replies_total{{{BC}}}, team)"
)


def _target(query: Q, ref_id: str, kind: str) -> Json:
    target: Json = {
        "datasource": dict(DATASOURCE),
        "refId": ref_id,
        "expr": query.expr,
        "legendFormat": query.legend or "__auto",
        "range": not query.instant,
        "instant": query.instant,
    }
    if kind == "table":
        target["format"] = "table"
    return target


def _options(panel: Panel) -> Json:
    reduce = {"calcs": ["lastNotNull"], "fields": "", "values": False}
    if panel.kind == "timeseries":
        return {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    if panel.kind == "stat":
        return {
            "reduceOptions": reduce,
            "orientation": "auto",
            "textMode": "value_and_name" if len(panel.targets) > 1 else "auto",
            "colorMode": "value",
            "graphMode": "area",
            "justifyMode": "auto",
            "wideLayout": True,
            "showPercentChange": False,
        }
    if panel.kind == "gauge":
        return {
            "reduceOptions": reduce,
            "orientation": "auto",
            "showThresholdLabels": False,
            "showThresholdMarkers": True,
            "minVizWidth": 75,
            "minVizHeight": 75,
        }
    if panel.kind == "bargauge":
        return {
            "reduceOptions": reduce,
            "orientation": "horizontal",
            "displayMode": "gradient",
            "valueMode": "color",
            "namePlacement": "auto",
            "showUnfilled": True,
            "sizing": "auto",
            "minVizWidth": 8,
            "minVizHeight": 16,
        }
    if panel.kind == "table":
        return {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}
    raise ValueError(f"unknown panel type {panel.kind}")


def _field_defaults(panel: Panel) -> Json:
    defaults: Json = {
        "unit": panel.unit,
        "color": {"mode": "palette-classic" if panel.kind == "timeseries" else "thresholds"},
        "thresholds": {"mode": "absolute", "steps": panel.thresholds},
    }
    if panel.kind == "timeseries":
        defaults["custom"] = {
            "drawStyle": "bars" if panel.bars else "line",
            "lineWidth": 1,
            "fillOpacity": 80 if panel.bars else 10,
            "showPoints": "never",
            "spanNulls": False,
            "stacking": {"mode": "normal" if panel.stacked else "none", "group": "A"},
        }
    if panel.kind == "table":
        defaults["custom"] = {"align": "auto", "cellOptions": {"type": "auto"}}
    for key in ("decimals", "min", "max"):
        value = getattr(panel, key)
        if value is not None:
            defaults[key] = value
    return defaults


def _render(panel: Panel, panel_id: int, x: int, y: int) -> Json:
    out: Json = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": dict(DATASOURCE),
        "gridPos": {"h": panel.h, "w": panel.w, "x": x, "y": y},
        "fieldConfig": {"defaults": _field_defaults(panel), "overrides": panel.overrides},
        "options": _options(panel),
        "targets": [
            _target(query, chr(ord("A") + i), panel.kind) for i, query in enumerate(panel.targets)
        ],
    }
    if panel.kind == "table":
        out["transformations"] = [
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {"excludeByName": {"Time": True}}},
        ]
    return out


def layout(items: list[Panel | Row]) -> list[Json]:
    """Place panels left to right on the 24-column grid, a new line when one is full."""
    panels: list[Json] = []
    x = y = line_height = 0
    for item in items:
        panel_id = len(panels) + 1
        if isinstance(item, Row):
            y += line_height
            x = line_height = 0
            panels.append(
                {
                    "id": panel_id,
                    "type": "row",
                    "title": item.title,
                    "collapsed": False,
                    "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                    "panels": [],
                }
            )
            y += 1
            continue
        if x + item.w > 24:
            y += line_height
            x = line_height = 0
        panels.append(_render(item, panel_id, x, y))
        x += item.w
        line_height = max(line_height, item.h)
    return panels


def dashboard(
    uid: str,
    title: str,
    description: str,
    items: list[Panel | Row],
    variables: list[Json],
    time_from: str,
    refresh: str,
) -> Json:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["socialcare"],
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "graphTooltip": 1,
        "timezone": "browser",
        "time": {"from": time_from, "to": "now"},
        "timepicker": {},
        "refresh": refresh,
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "links": [
            {
                "title": "Social care boards",
                "type": "dashboards",
                "tags": ["socialcare"],
                "asDropdown": False,
                "includeVars": True,
                "keepTime": True,
                "icon": "external link",
                "targetBlank": False,
                "tooltip": "",
                "url": "",
            }
        ],
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "templating": {"list": variables},
        "panels": layout(items),
    }


def zero_fill(expr: str, base: str) -> str:
    """`expr`, or 0 for each series of `base` (same labels) where `expr` has none."""
    return f"({expr} or {base} * 0)"


# -- operations ------------------------------------------------------------------------------


def fr_window_all(by: str, outcome: str | None = None) -> str:
    match = BC + (f',outcome="{outcome}"' if outcome else "")
    return f"sum by ({by}) (socialcare_window_first_response_sla{{{match}}})"


def compliance(family: str, window: str, by: str) -> str:
    met = f'sum by ({by}) ({family}{{{BC},outcome="met",window="{window}"}})'
    return f'{met} / sum by ({by}) ({family}{{{BC},window="{window}"}})'


def operations() -> Json:
    frs = "socialcare_first_response_seconds"
    open_base = f"sum by (brand, channel) (socialcare_open_conversations{{{BC}}})"
    items: list[Panel | Row] = [
        Row("Volume"),
        Panel(
            "timeseries",
            "Inbound volume (posts/min)",
            "Inbound customer posts (mention events) per minute by brand and channel, averaged "
            "over 5 minutes of processing time. A replayed backfill lands all at once here; the "
            "event-time windows on the right are not affected.",
            "cpm",
            [
                Q(
                    f"sum by (brand, channel) (rate(socialcare_mentions_total{{{BC}}}[5m])) * 60",
                    "{{brand}} / {{channel}}",
                )
            ],
            w=12,
        ),
        Panel(
            "stat",
            "Mentions in the last 5m / 1h / 24h (event time)",
            "Inbound posts whose event time falls in the sliding windows of 5 minutes, 1 hour "
            "and 24 hours (socialcare_window_mentions), for the selected brands and channels.",
            "short",
            [Q(f"sum by (window) (socialcare_window_mentions{{{BC}}})", "{{window}}")],
            w=6,
        ),
        Panel(
            "bargauge",
            "Mentions in the last hour by brand and channel",
            "Inbound posts of the last hour of event time per brand and channel: where the "
            "volume comes from right now.",
            "short",
            [
                Q(
                    f'sum by (brand, channel) (socialcare_window_mentions{{{BC},window="1h"}})',
                    "{{brand}} / {{channel}}",
                )
            ],
            w=6,
        ),
        Panel(
            "timeseries",
            "New conversations per hour",
            "Conversations opened (first customer post of a thread) in the preceding hour, by "
            "brand. Follow-up posts are not counted here, only new threads.",
            "short",
            [
                Q(
                    f"sum by (brand) (increase(socialcare_conversations_opened_total{{{BC}}}[1h]))",
                    "{{brand}}",
                )
            ],
            w=12,
        ),
        Panel(
            "timeseries",
            "Response rate (1h)",
            "Share of customer posts followed by a human brand reply, by brand, over the last "
            "hour: answered mentions / mentions. Bot replies do not count as an answer.",
            "percentunit",
            [
                Q(
                    f"sum by (brand) (rate(socialcare_mentions_answered_total{{{BC}}}[1h])) / "
                    f"sum by (brand) (rate(socialcare_mentions_total{{{BC}}}[1h]))",
                    "{{brand}}",
                )
            ],
            w=12,
            min=0,
        ),
        Row("First-response SLA"),
        Panel(
            "stat",
            "First-response SLA compliance, last 5m / 1h / 24h",
            "Share of first responses due in each event-time window that met the SLA of their "
            "policy: met / (met + breached). Conversations still within their deadline are not "
            "counted yet; red below 80 %, green from 95 %.",
            "percentunit",
            [
                Q(
                    f'sum by (window) (socialcare_window_first_response_sla{{{BC},outcome="met"}})'
                    f" / sum by (window) (socialcare_window_first_response_sla{{{BC}}})",
                    "{{window}}",
                )
            ],
            w=8,
            decimals=1,
            min=0,
            max=1,
            thresholds=PCT_THRESHOLDS,
        ),
        Panel(
            "stat",
            "First-response breaches, last 5m / 1h / 24h",
            "First responses that breached their SLA in each event-time window (a late reply or "
            "no reply by the deadline). 0 is the goal; any breach in the last 5 minutes is red.",
            "short",
            [
                Q(
                    zero_fill(fr_window_all("window", outcome="breached"), fr_window_all("window")),
                    "{{window}}",
                )
            ],
            w=8,
            thresholds=BAD_WHEN_ABOVE_ZERO,
        ),
        Panel(
            "stat",
            "Next-response and resolution SLA compliance (24h)",
            "Share of follow-up waits answered within the next-response target, and of "
            "conversations resolved within the resolution target, decided in the last 24 hours "
            "of event time.",
            "percentunit",
            [
                Q(
                    compliance("socialcare_window_next_response_sla", "24h", "window"),
                    "next response",
                ),
                Q(
                    compliance("socialcare_window_resolution_sla", "24h", "window"),
                    "resolution",
                ),
            ],
            w=8,
            decimals=1,
            min=0,
            max=1,
            thresholds=PCT_THRESHOLDS,
        ),
        Panel(
            "timeseries",
            "First-response SLA compliance by brand, last 1h (event time)",
            "Share of first responses met in the last hour of event time, per brand, over "
            "time. A drop shows when answers started to miss their deadlines.",
            "percentunit",
            [Q(compliance("socialcare_window_first_response_sla", "1h", "brand"), "{{brand}}")],
            w=12,
            decimals=1,
            min=0,
            max=1,
        ),
        Panel(
            "timeseries",
            "SLA met vs breached per 5 min",
            "First-response SLA outcomes decided in each 5-minute step of processing time: met "
            "(a human reply within the deadline) or breached (late, or no reply by the "
            "deadline).",
            "short",
            [
                Q(
                    f"sum by (outcome) (increase(socialcare_first_response_sla_total{{{BC}}}[5m]))",
                    "{{outcome}}",
                )
            ],
            w=12,
            stacked=True,
            bars=True,
            overrides=MET_BREACHED_COLORS,
        ),
        Panel(
            "bargauge",
            "First-response SLA compliance by priority (24h)",
            "Share of first responses met in the last 24 hours of event time, per brand and "
            "priority of the opening post: whether urgent posts get their faster targets.",
            "percentunit",
            [
                Q(
                    compliance("socialcare_window_first_response_sla", "24h", "brand, priority"),
                    "{{brand}} {{priority}}",
                )
            ],
            w=12,
            h=10,
            decimals=1,
            min=0,
            max=1,
            thresholds=PCT_THRESHOLDS,
        ),
        Panel(
            "table",
            "By brand and channel",
            "One line per brand and channel: posts in the last hour (event time), first-response "
            "compliance of the last 24 hours, open conversations and the breached ones among "
            "them.",
            "short",
            [
                Q(
                    f'sum by (brand, channel) (socialcare_window_mentions{{{BC},window="1h"}})',
                    "mentions 1h",
                    instant=True,
                ),
                Q(
                    compliance("socialcare_window_first_response_sla", "24h", "brand, channel"),
                    "compliance 24h",
                    instant=True,
                ),
                Q(open_base, "open", instant=True),
                Q(
                    zero_fill(
                        "sum by (brand, channel) "
                        f'(socialcare_open_conversations{{{BC},state="breached"}})',
                        open_base,
                    ),
                    "breached",
                    instant=True,
                ),
            ],
            w=12,
            h=10,
            overrides=[
                {
                    "matcher": {"id": "byName", "options": "Value #B"},
                    "properties": [
                        {"id": "unit", "value": "percentunit"},
                        {"id": "decimals", "value": 1},
                        {"id": "displayName", "value": "compliance 24h"},
                    ],
                },
                *(
                    {
                        "matcher": {"id": "byName", "options": f"Value #{ref}"},
                        "properties": [{"id": "displayName", "value": name}],
                    }
                    for ref, name in (("A", "mentions 1h"), ("C", "open"), ("D", "breached"))
                ),
            ],
        ),
        Row("Backlog and breaches"),
        Panel(
            "timeseries",
            "Open conversations by state",
            "Conversations not yet resolved, by state: waiting for a first or next response, "
            "at risk (deadline within the at-risk margin), breached (past the deadline) or "
            "waiting for the customer.",
            "short",
            [Q(f"sum by (state) (socialcare_open_conversations{{{BC}}})", "{{state}}")],
            w=12,
            stacked=True,
            overrides=BACKLOG_COLORS,
        ),
        Panel(
            "stat",
            "Breached and at-risk conversations now",
            "Open conversations waiting past their deadline (breached) or within the at-risk "
            "margin of it (at_risk). Both should be 0: each one is a customer waiting too long.",
            "short",
            [
                Q(
                    f'sum (socialcare_open_conversations{{{BC},state="breached"}}) or vector(0)',
                    "breached",
                ),
                Q(
                    f'sum (socialcare_open_conversations{{{BC},state="at_risk"}}) or vector(0)',
                    "at risk",
                ),
            ],
            w=6,
            thresholds=BAD_WHEN_ABOVE_ZERO,
        ),
        Panel(
            "bargauge",
            "Waiting conversations by priority",
            "Open conversations waiting for a brand reply (first or next response, at risk or "
            "breached), by priority of the opening post.",
            "short",
            [
                Q(
                    "sum by (priority) (socialcare_open_conversations_by_priority"
                    f'{{{BC},state!="awaiting_customer"}})',
                    "{{priority}}",
                )
            ],
            w=6,
        ),
        Panel(
            "bargauge",
            "Backlog by age",
            "Open conversations by time since their opening post: lt_1h, 1h_4h, 4h_24h, 1d_3d "
            "and gt_3d. Old open conversations point at forgotten threads.",
            "short",
            [Q(f"sum by (age) (socialcare_open_conversations_by_age{{{BC}}})", "{{age}}")],
            w=8,
        ),
        Panel(
            "timeseries",
            "Resolutions in the last hour (event time)",
            "Conversations resolved in the last hour of event time, by brand: the outflow of "
            "the backlog, to compare with new conversations per hour.",
            "short",
            [
                Q(
                    f'sum by (brand) (socialcare_window_resolutions{{{BC},window="1h"}})',
                    "{{brand}}",
                )
            ],
            w=8,
        ),
        Panel(
            "stat",
            "Customer value at risk",
            "Sum of customer_value of the open conversations that are at risk or breached: "
            "what is at stake if they stay unanswered (currency of the source data).",
            "currencyUSD",
            [
                Q(
                    zero_fill(
                        "sum by (brand) (socialcare_open_customer_value"
                        f'{{{BC},state=~"at_risk|breached"}})',
                        f"sum by (brand) (socialcare_open_customer_value{{{BC}}})",
                    ),
                    "{{brand}}",
                )
            ],
            w=8,
        ),
        Row("Response times"),
        Panel(
            "timeseries",
            "First response time p50 / p90",
            "Time from a conversation's opening post to the brand's first human reply, median "
            "and 90th percentile over the last 15 minutes (socialcare_first_response_seconds).",
            "s",
            [
                Q(
                    f"histogram_quantile(0.5, sum by (le) (rate({frs}_bucket{{{BC}}}[15m])))",
                    "p50",
                ),
                Q(
                    f"histogram_quantile(0.9, sum by (le) (rate({frs}_bucket{{{BC}}}[15m])))",
                    "p90",
                ),
            ],
            w=12,
        ),
        Panel(
            "timeseries",
            "First response time p90 by brand and channel",
            "90th percentile of the first response time over the last 15 minutes, per brand "
            "and channel: which queue is slow.",
            "s",
            [
                Q(
                    "histogram_quantile(0.9, sum by (le, brand, channel) "
                    f"(rate({frs}_bucket{{{BC}}}[15m])))",
                    "{{brand}} / {{channel}}",
                )
            ],
            w=12,
        ),
        Panel(
            "stat",
            "Mean first response time (1h)",
            "Average time to the first human reply of the conversations answered in the last "
            "hour, by brand.",
            "s",
            [
                Q(
                    f"sum by (brand) (rate({frs}_sum{{{BC}}}[1h])) / "
                    f"sum by (brand) (rate({frs}_count{{{BC}}}[1h]))",
                    "{{brand}}",
                )
            ],
            w=8,
        ),
        Panel(
            "gauge",
            "Answered within 5 minutes (1h)",
            "Share of the first responses of the last hour given within 5 minutes of the "
            "opening post, by brand.",
            "percentunit",
            [
                Q(
                    f'sum by (brand) (rate({frs}_bucket{{{BC},le="300.0"}}[1h])) / '
                    f"sum by (brand) (rate({frs}_count{{{BC}}}[1h]))",
                    "{{brand}}",
                )
            ],
            w=8,
            decimals=1,
            min=0,
            max=1,
            thresholds=PCT_THRESHOLDS,
        ),
        Panel(
            "stat",
            "Conversations never answered (24h)",
            "Share of the conversations opened in the last 24 hours that have no human reply "
            "yet, by brand: 1 - answered / opened. Recent conversations are naturally still "
            "waiting.",
            "percentunit",
            [
                Q(
                    f"1 - sum by (brand) (increase({frs}_count{{{BC}}}[24h])) / "
                    "sum by (brand) "
                    f"(increase(socialcare_conversations_opened_total{{{BC}}}[24h]))",
                    "{{brand}}",
                )
            ],
            w=8,
            decimals=1,
            min=0,
            max=1,
        ),
        Panel(
            "timeseries",
            "Next response time p90",
            "90th percentile of the wait after a customer's follow-up until the next human "
            "reply, over the last hour, by brand (socialcare_next_response_seconds).",
            "s",
            [
                Q(
                    "histogram_quantile(0.9, sum by (le, brand) "
                    f"(rate(socialcare_next_response_seconds_bucket{{{BC}}}[1h])))",
                    "{{brand}}",
                )
            ],
            w=24,
        ),
    ]
    return dashboard(
        "socialcare-operations",
        "Social care — operations",
        "Live social customer-care operations: inbound volume, first-response SLA compliance, "
        "backlog and breaches, response times, by brand and channel.",
        items,
        [BRAND_VARIABLE, CHANNEL_VARIABLE],
        "now-6h",
        "30s",
    )


# -- quality ---------------------------------------------------------------------------------


def inc(metric: str, by: str, window: str = "24h", match: str = "") -> str:
    labels = BC + ("," + match if match else "")
    return f"sum by ({by}) (increase({metric}{{{labels}}}[{window}]))"


def quality() -> Json:
    nps = "socialcare_nps_responses_total"
    pts = "socialcare_posts_to_resolution"
    resolved_first = inc("socialcare_resolution_seconds_count", "brand")

    def nps_category(category: str) -> str:
        # Completed with 0 from the other categories: a brand with no promoter still has an NPS.
        return (
            f'sum by (brand) (increase({nps}{{{BC},category="{category}"}}[7d]) '
            f"or increase({nps}{{{BC}}}[7d]) * 0)"
        )

    items: list[Panel | Row] = [
        Row("Satisfaction"),
        Panel(
            "stat",
            "CSAT average (24h)",
            "Average CSAT score (1 to 5) of the survey answers of the last 24 hours, by brand of "
            "the conversation: score sum / answers.",
            "none",
            [
                Q(
                    f"{inc('socialcare_csat_score_total', 'brand')} / "
                    f"{inc('socialcare_csat_responses_total', 'brand')}",
                    "{{brand}}",
                )
            ],
            w=6,
            decimals=2,
            min=1,
            max=5,
            thresholds=[
                {"color": "red", "value": None},
                {"color": "orange", "value": 3.5},
                {"color": "green", "value": 4.2},
            ],
        ),
        Panel(
            "gauge",
            "CSAT satisfied (24h)",
            "Share of CSAT answers of the last 24 hours that scored 4 or 5, by brand.",
            "percentunit",
            [
                Q(
                    f"{inc('socialcare_csat_satisfied_total', 'brand')} / "
                    f"{inc('socialcare_csat_responses_total', 'brand')}",
                    "{{brand}}",
                )
            ],
            w=6,
            decimals=1,
            min=0,
            max=1,
            thresholds=PCT_THRESHOLDS,
        ),
        Panel(
            "stat",
            "NPS (7d)",
            "Net Promoter Score of the last 7 days, by brand: 100 x (promoters - detractors) / "
            "answers, from -100 to 100 (promoters score 9-10, detractors 0-6).",
            "none",
            [
                Q(
                    f"100 * ({nps_category('promoter')} - {nps_category('detractor')}) / "
                    f"sum by (brand) (increase({nps}{{{BC}}}[7d]))",
                    "{{brand}}",
                )
            ],
            w=6,
            decimals=0,
            min=-100,
            max=100,
            thresholds=[
                {"color": "red", "value": None},
                {"color": "orange", "value": 0},
                {"color": "green", "value": 30},
            ],
        ),
        Panel(
            "stat",
            "CSAT answers needing a follow-up (24h)",
            "CSAT answers of 3 or less in the last 24 hours, by brand: customers someone should "
            "get back to.",
            "short",
            [
                Q(
                    zero_fill(
                        inc("socialcare_csat_followup_needed_total", "brand"),
                        inc("socialcare_conversations_opened_total", "brand"),
                    ),
                    "{{brand}}",
                )
            ],
            w=6,
            thresholds=BAD_WHEN_ABOVE_ZERO,
        ),
        Panel(
            "bargauge",
            "CSAT average, redirected vs public (24h)",
            "Average CSAT of the last 24 hours for conversations moved to a private channel "
            "(redirected=true) and conversations kept public (false).",
            "none",
            [
                Q(
                    f"{inc('socialcare_csat_score_total', 'redirected')} / "
                    f"{inc('socialcare_csat_responses_total', 'redirected')}",
                    "redirected={{redirected}}",
                )
            ],
            w=8,
            decimals=2,
            min=1,
            max=5,
        ),
        Panel(
            "bargauge",
            "NPS answers by category (7d)",
            "NPS answers of the last 7 days by category: promoters (9-10), passives (7-8) and "
            "detractors (0-6); 0 for a category without answers.",
            "short",
            [
                Q(
                    " or ".join(
                        [
                            inc(nps, "category", "7d"),
                            *(
                                f'label_replace(vector(0), "category", "{category}", "", "")'
                                for category in ("promoter", "passive", "detractor")
                            ),
                        ]
                    ),
                    "{{category}}",
                )
            ],
            w=8,
        ),
        Panel(
            "timeseries",
            "Survey answers per hour",
            "CSAT and NPS survey answers received in the preceding hour, for the selected "
            "brands and channels (0 while none arrived).",
            "short",
            [
                Q(
                    f'sum (increase(socialcare_surveys_total{{{BC},kind="csat"}}[1h]))'
                    " or vector(0)",
                    "csat",
                ),
                Q(
                    f'sum (increase(socialcare_surveys_total{{{BC},kind="nps"}}[1h])) or vector(0)',
                    "nps",
                ),
            ],
            w=8,
        ),
        Panel(
            "stat",
            "Survey answers per resolution (24h)",
            "Survey answers per resolution over the last 24 hours, by brand: how often resolved "
            "customers answer a survey (an answer rate, not capped at 100 %).",
            "percentunit",
            [
                Q(
                    zero_fill(
                        inc("socialcare_surveys_total", "brand"),
                        inc("socialcare_resolutions_total", "brand"),
                    )
                    + f" / {inc('socialcare_resolutions_total', 'brand')}",
                    "{{brand}}",
                )
            ],
            w=8,
            decimals=1,
        ),
        Panel(
            "stat",
            "Recovery rate",
            "Of the conversations that opened with a negative post, the share that ended "
            "recovered (a later non-negative post, a CSAT of 4-5 or an NPS of 7-10), by brand, "
            "since the counters started.",
            "percentunit",
            [
                Q(
                    zero_fill(
                        f"sum by (brand) (socialcare_recovered_conversations_total{{{BC}}})",
                        f"sum by (brand) (socialcare_negative_conversations_total{{{BC}}})",
                    )
                    + " / sum by (brand) "
                    f"(socialcare_negative_conversations_total{{{BC}}})",
                    "{{brand}}",
                )
            ],
            w=8,
            decimals=1,
            min=0,
            max=1,
        ),
        Panel(
            "stat",
            "Complaints in the last hour (event time)",
            "Inbound posts with inquiry_type complaint in the last hour of event time, by brand "
            "(socialcare_window_complaints). A jump is often a crisis or an outage.",
            "short",
            [
                Q(
                    f'sum by (brand) (socialcare_window_complaints{{{BC},window="1h"}})',
                    "{{brand}}",
                )
            ],
            w=8,
        ),
        Row("Sentiment and inquiries"),
        Panel(
            "timeseries",
            "Sentiment mix of inbound posts (1h)",
            "Share of inbound posts by sentiment class (negative, neutral, positive, unknown) "
            "over the last hour. The shares add up to 100 %.",
            "percentunit",
            [
                Q(
                    "sum by (sentiment) "
                    f"(rate(socialcare_mentions_by_sentiment_total{{{BC}}}[1h])) / ignoring "
                    "(sentiment) group_left sum "
                    f"(rate(socialcare_mentions_by_sentiment_total{{{BC}}}[1h]))",
                    "{{sentiment}}",
                )
            ],
            w=12,
            stacked=True,
            min=0,
            max=1,
            overrides=[
                color_override("negative", "red"),
                color_override("neutral", "yellow"),
                color_override("positive", "green"),
                color_override("unknown", "gray"),
            ],
        ),
        Panel(
            "timeseries",
            "Inquiry type mix of inbound posts (1h)",
            "Share of inbound posts by inquiry type (complaint, question, feedback, "
            "recommendation, praise, other, unknown) over the last hour.",
            "percentunit",
            [
                Q(
                    "sum by (inquiry_type) "
                    f"(rate(socialcare_mentions_by_inquiry_type_total{{{BC}}}[1h])) / ignoring "
                    "(inquiry_type) group_left sum "
                    f"(rate(socialcare_mentions_by_inquiry_type_total{{{BC}}}[1h]))",
                    "{{inquiry_type}}",
                )
            ],
            w=12,
            stacked=True,
            min=0,
            max=1,
        ),
        Row("Resolution"),
        Panel(
            "stat",
            "First Social Contact Resolution rate (24h)",
            "Share of the conversations first resolved in the last 24 hours that were resolved "
            "with exactly one human reply, without redirection and never reopened, by brand.",
            "percentunit",
            [
                Q(
                    zero_fill(
                        inc("socialcare_first_contact_resolutions_total", "brand"),
                        resolved_first,
                    )
                    + f" / {resolved_first}",
                    "{{brand}}",
                )
            ],
            w=6,
            decimals=1,
            min=0,
            max=1,
        ),
        Panel(
            "stat",
            "Resolutions per opened conversation (24h)",
            "Resolutions of the last 24 hours divided by the conversations opened in the same "
            "period, by brand: close to 100 % when the team keeps up with the inflow.",
            "percentunit",
            [
                Q(
                    f"{inc('socialcare_resolutions_total', 'brand')} / "
                    f"{inc('socialcare_conversations_opened_total', 'brand')}",
                    "{{brand}}",
                )
            ],
            w=6,
            decimals=1,
        ),
        Panel(
            "stat",
            "Reopen rate (24h)",
            "Customer posts after a resolution (reopening the conversation) per resolution over "
            "the last 24 hours, by brand. High values mean conversations are closed too early.",
            "percentunit",
            [
                Q(
                    zero_fill(
                        inc("socialcare_reopens_total", "brand"),
                        inc("socialcare_resolutions_total", "brand"),
                    )
                    + f" / {inc('socialcare_resolutions_total', 'brand')}",
                    "{{brand}}",
                )
            ],
            w=6,
            decimals=1,
        ),
        Panel(
            "bargauge",
            "Resolutions by kind (24h)",
            "Share of the resolutions of the last 24 hours that were explicit (a reply marked "
            "resolves) or inferred from the customer's inactivity after a human reply.",
            "percentunit",
            [
                Q(
                    f"{inc('socialcare_resolutions_total', 'how')} / ignoring (how) group_left "
                    f"sum (increase(socialcare_resolutions_total{{{BC}}}[24h]))",
                    "{{how}}",
                )
            ],
            w=6,
            decimals=1,
            min=0,
            max=1,
        ),
        Panel(
            "timeseries",
            "Time to resolution p50, redirected vs public",
            "Median time from the opening post to the first resolution over the last 24 hours, "
            "for conversations redirected to a private channel before it (true) and the others "
            "(false).",
            "s",
            [
                Q(
                    "histogram_quantile(0.5, sum by (le, redirected) "
                    f"(rate(socialcare_resolution_seconds_bucket{{{BC}}}[24h])))",
                    "redirected={{redirected}}",
                )
            ],
            w=12,
        ),
        Panel(
            "timeseries",
            "Tweets to resolution, mean",
            "Average number of posts from the opening one to the first resolution over the last "
            "24 hours, by brand: customer posts plus brand replies (bot replies included).",
            "short",
            [
                Q(
                    f"sum by (brand) (rate({pts}_sum{{{BC}}}[24h])) / "
                    f'sum by (brand) (rate({pts}_count{{{BC},side="customer"}}[24h]))',
                    "{{brand}}",
                )
            ],
            w=12,
            decimals=1,
        ),
        Panel(
            "bargauge",
            "Posts to resolution by side, mean / p90 (24h)",
            "Posts from the opening one to the first resolution over the last 24 hours, for the "
            "customer (effort in posts) and for the brand: mean, and 90th percentile estimated "
            "from the histogram buckets.",
            "short",
            [
                Q(
                    f"sum by (side) (rate({pts}_sum{{{BC}}}[24h])) / "
                    f"sum by (side) (rate({pts}_count{{{BC}}}[24h]))",
                    "mean {{side}}",
                ),
                Q(
                    f"histogram_quantile(0.9, sum by (le, side) (rate({pts}_bucket{{{BC}}}[24h])))",
                    "p90 {{side}}",
                ),
            ],
            w=12,
            decimals=1,
        ),
        Panel(
            "stat",
            "Customer effort: channels used, mean / p90 (24h)",
            "Channels the customer used until the first resolution (the public one plus each "
            "distinct private channel they were redirected to): mean and 90th percentile over "
            "the last 24 hours.",
            "short",
            [
                Q(
                    "sum (rate(socialcare_customer_effort_channels_sum"
                    f"{{{BC}}}[24h])) / sum (rate(socialcare_customer_effort_channels_count"
                    f"{{{BC}}}[24h]))",
                    "mean",
                ),
                Q(
                    "histogram_quantile(0.9, sum by (le) "
                    f"(rate(socialcare_customer_effort_channels_bucket{{{BC}}}[24h])))",
                    "p90",
                ),
            ],
            w=12,
            decimals=2,
        ),
        Row("Redirections"),
        Panel(
            "timeseries",
            "Redirections per hour by target channel",
            "Conversations moved from the public channel to a private one (dm, chat, voice, "
            "email, other) in the preceding hour, by target channel.",
            "short",
            [
                Q(
                    inc("socialcare_redirections_total", "to_channel", "1h"),
                    "{{to_channel}}",
                )
            ],
            w=12,
            stacked=True,
        ),
        Panel(
            "bargauge",
            "Redirection share by brand and target (1h)",
            "Redirections of the last hour per conversation opened in the same hour, by brand "
            "and target channel: how much of the care moves out of public view.",
            "percentunit",
            [
                Q(
                    f"{inc('socialcare_redirections_total', 'brand, to_channel', '1h')} / "
                    "ignoring (to_channel) group_left "
                    f"{inc('socialcare_conversations_opened_total', 'brand', '1h')}",
                    "{{brand}} → {{to_channel}}",
                )
            ],
            w=12,
            decimals=1,
        ),
    ]
    return dashboard(
        "socialcare-quality",
        "Social care — quality",
        "Quality of social customer care: CSAT, NPS, recovery of negative conversations, "
        "sentiment, First Social Contact Resolution, tweets to resolution and redirections.",
        items,
        [BRAND_VARIABLE, CHANNEL_VARIABLE],
        "now-24h",
        "1m",
    )


# -- team ------------------------------------------------------------------------------------


def team() -> Json:
    bct = f'{BC},team=~"$team"'
    tfr = "socialcare_team_first_response_seconds"
    tres = "socialcare_team_resolution_seconds"
    replies_1h = 'sum by (team) (rate(socialcare_team_replies_total{team=~"$team"}[1h]))'
    items: list[Panel | Row] = [
        Row("Team activity"),
        Panel(
            "timeseries",
            "Human replies per hour by team",
            "Human brand replies sent in the preceding hour, by the team named on the reply "
            "(unassigned without one). Bot replies are not team work and are left out.",
            "short",
            [
                Q(
                    f"sum by (team) (increase(socialcare_team_replies_total{{{bct}}}[1h]))",
                    "{{team}}",
                )
            ],
            w=12,
            stacked=True,
        ),
        Panel(
            "bargauge",
            "Share of human replies by team (24h)",
            "Each team's share of the human brand replies of the last 24 hours.",
            "percentunit",
            [
                Q(
                    f"sum by (team) (increase(socialcare_team_replies_total{{{bct}}}[24h])) / "
                    "ignoring (team) group_left "
                    f"sum (increase(socialcare_team_replies_total{{{bct}}}[24h]))",
                    "{{team}}",
                )
            ],
            w=6,
            decimals=1,
            min=0,
            max=1,
        ),
        Panel(
            "stat",
            "Bot share of brand replies (1h)",
            "Share of brand replies of the last hour that were automated, by brand. Bot replies "
            "never stop an SLA clock.",
            "percentunit",
            [
                Q(
                    zero_fill(
                        f'sum by (brand) (rate(socialcare_replies_total{{{BC},kind="automated"}}'
                        "[1h]))",
                        f"sum by (brand) (rate(socialcare_replies_total{{{BC}}}[1h]))",
                    )
                    + f" / sum by (brand) (rate(socialcare_replies_total{{{BC}}}[1h]))",
                    "{{brand}}",
                )
            ],
            w=6,
            decimals=1,
            min=0,
            max=1,
        ),
        Row("Team performance"),
        Panel(
            "timeseries",
            "Team first response time p50 / p90",
            "Time to the first human reply, credited to the team of that reply, median and 90th "
            "percentile over the last hour.",
            "s",
            [
                Q(
                    f"histogram_quantile(0.5, sum by (le, team) (rate({tfr}_bucket{{{bct}}}[1h])))",
                    "p50 {{team}}",
                ),
                Q(
                    f"histogram_quantile(0.9, sum by (le, team) (rate({tfr}_bucket{{{bct}}}[1h])))",
                    "p90 {{team}}",
                ),
            ],
            w=12,
        ),
        Panel(
            "bargauge",
            "Team first responses within 5 minutes (24h)",
            "Share of each team's first responses of the last 24 hours given within 5 minutes "
            "of the opening post.",
            "percentunit",
            [
                Q(
                    f'sum by (team) (increase({tfr}_bucket{{{bct},le="300.0"}}[24h])) / '
                    f"sum by (team) (increase({tfr}_count{{{bct}}}[24h]))",
                    "{{team}}",
                )
            ],
            w=6,
            decimals=1,
            min=0,
            max=1,
            thresholds=PCT_THRESHOLDS,
        ),
        Panel(
            "bargauge",
            "Team mean first response time (24h)",
            "Average time to the first human reply of the conversations each team answered "
            "first in the last 24 hours.",
            "s",
            [
                Q(
                    f"sum by (team) (rate({tfr}_sum{{{bct}}}[24h])) / "
                    f"sum by (team) (rate({tfr}_count{{{bct}}}[24h]))",
                    "{{team}}",
                )
            ],
            w=6,
        ),
        Panel(
            "timeseries",
            "Resolutions per hour by team",
            "First resolutions of the preceding hour, credited to the team of the resolving "
            "reply (for an inactivity resolution, the last human reply; unassigned for a bot).",
            "short",
            [Q(f"sum by (team) (increase({tres}_count{{{bct}}}[1h]))", "{{team}}")],
            w=12,
            stacked=True,
        ),
        Panel(
            "bargauge",
            "Team time to resolution p50 (24h)",
            "Median time from the opening post to the first resolution over the last 24 hours, "
            "by the team that resolved it.",
            "s",
            [
                Q(
                    "histogram_quantile(0.5, sum by (le, team) "
                    f"(rate({tres}_bucket{{{bct}}}[24h])))",
                    "{{team}}",
                )
            ],
            w=12,
        ),
        Row("Cost and value"),
        Panel(
            "bargauge",
            "Cost per human response (1h)",
            "Configured staffing cost per hour of each team divided by the human replies it "
            "sent per hour over the last hour (all brands and channels: staffing is not split "
            "by brand). Currency of SOCIALCARE_TEAM_STAFFING.",
            "currencyUSD",
            [
                Q(
                    'sum by (team) (socialcare_team_staffing_cost_per_hour{team=~"$team"}) / '
                    f"({replies_1h} * 3600)",
                    "{{team}}",
                )
            ],
            w=8,
            decimals=2,
        ),
        Panel(
            "bargauge",
            "Staffing cost per hour",
            "Configured hourly cost of each team (cost per agent hour x staffed agents, "
            "SOCIALCARE_TEAM_STAFFING): a constant from the configuration, not a roster.",
            "currencyUSD",
            [
                Q(
                    'sum by (team) (socialcare_team_staffing_cost_per_hour{team=~"$team"})',
                    "{{team}}",
                )
            ],
            w=8,
        ),
        Panel(
            "stat",
            "Breached customer value (24h)",
            "Sum of customer_value of the conversations whose first-response SLA was breached "
            "in the last 24 hours, by brand: the value of the customers kept waiting.",
            "currencyUSD",
            [
                Q(
                    zero_fill(
                        inc("socialcare_breached_customer_value_total", "brand"),
                        inc("socialcare_first_response_sla_total", "brand"),
                    ),
                    "{{brand}}",
                )
            ],
            w=8,
            thresholds=BAD_WHEN_ABOVE_ZERO,
        ),
        Panel(
            "timeseries",
            "Open customer value by state",
            "Sum of customer_value of the open conversations, by backlog state: what is at "
            "stake in the queue, at_risk and breached being the value at risk.",
            "currencyUSD",
            [Q(f"sum by (state) (socialcare_open_customer_value{{{BC}}})", "{{state}}")],
            w=12,
            stacked=True,
            overrides=BACKLOG_COLORS,
        ),
        Panel(
            "table",
            "Replies per labelled agent (24h)",
            "Human replies of the last 24 hours of the agents listed in SOCIALCARE_AGENT_LABELS "
            "(no agent has a series unless listed there), by brand and agent.",
            "short",
            [
                Q(
                    inc("socialcare_agent_replies_total", "brand, agent"),
                    "{{agent}}",
                    instant=True,
                )
            ],
            w=12,
            overrides=[
                {
                    "matcher": {"id": "byName", "options": "Value"},
                    "properties": [{"id": "displayName", "value": "replies 24h"}],
                }
            ],
        ),
    ]
    return dashboard(
        "socialcare-team",
        "Social care — teams and cost",
        "Team and agent performance: replies, first response and resolution times by team, "
        "bot share, cost per human response and customer value at stake.",
        items,
        [BRAND_VARIABLE, CHANNEL_VARIABLE, TEAM_VARIABLE],
        "now-24h",
        "1m",
    )


# -- pipeline --------------------------------------------------------------------------------


def pipeline() -> Json:
    processed = "socialcare_events_processed_total"
    hook = "socialcare_webhook_request_duration_seconds_bucket"
    items: list[Panel | Row] = [
        Row("Workers"),
        Panel(
            "stat",
            "Targets up",
            "Scrape targets up, per job: the processor workers (socialcare) and the ingest "
            "webhook (socialcare-webhook). Red when a target is down or missing.",
            "none",
            [Q(f"sum by (job) (up{{{JOBS}}})", "{{job}}")],
            w=6,
            h=6,
            thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}],
        ),
        Panel(
            "stat",
            "Owned input partitions",
            "Input partitions assigned to the workers, in total: it should equal the partition "
            "count of the input topics (SOCIALCARE_PARTITIONS); less means some are unowned.",
            "none",
            [Q("sum (socialcare_owned_partitions)", "partitions")],
            w=6,
            h=6,
        ),
        Panel(
            "stat",
            "SLA policy version",
            "Version of the SLA policy set in force on each worker. All workers should show the "
            "same version; a difference lasts at most a refresh interval after a change.",
            "none",
            [Q("max by (instance) (socialcare_sla_policy_version)", "{{instance}}")],
            w=6,
            h=6,
        ),
        Panel(
            "stat",
            "Processing errors and policy reloads (1h)",
            "Valid events whose processing raised in the last hour (each one is dead-lettered "
            "with reason processing_error; should be 0), and SLA policy reloads.",
            "short",
            [
                Q("sum (increase(socialcare_processing_errors_total[1h]))", "errors"),
                Q("sum (increase(socialcare_sla_policy_reloads_total[1h]))", "policy reloads"),
            ],
            w=6,
            h=6,
        ),
        Panel(
            "timeseries",
            "Owned partitions per worker",
            "Input partitions each worker owns over time: a rebalance moves them between "
            "workers; the total should stay constant.",
            "none",
            [Q("sum by (instance) (socialcare_owned_partitions)", "{{instance}}")],
            w=12,
            stacked=True,
        ),
        Panel(
            "timeseries",
            "Consumer lag (records)",
            "Records not yet read in the input partitions the workers own, per input topic, "
            "summed over workers. Growing lag means the workers do not keep up with the input.",
            "short",
            [Q("sum by (topic) (socialcare_consumer_lag_records)", "{{topic}}")],
            w=12,
            stacked=True,
        ),
        Row("Throughput and rejects"),
        Panel(
            "timeseries",
            "Throughput by event type (events/s)",
            "Input events counted (applied to the metrics) per second, by type, averaged over "
            "1 minute, summed over workers.",
            "ops",
            [
                Q(
                    f'sum by (type) (rate({processed}{{outcome="counted"}}[1m]))',
                    "{{type}}",
                )
            ],
            w=12,
            stacked=True,
        ),
        Panel(
            "timeseries",
            "Input by outcome (events/s)",
            "Every input message per second by outcome: counted, duplicate (event id already "
            "seen, counted once) or deadlettered (sent to social.deadletters).",
            "ops",
            [Q(f"sum by (outcome) (rate({processed}[5m]))", "{{outcome}}")],
            w=12,
            stacked=True,
            overrides=[
                color_override("counted", "green"),
                color_override("duplicate", "blue"),
                color_override("deadlettered", "red"),
            ],
        ),
        Panel(
            "timeseries",
            "Dead letters by reason (msg/s)",
            "Messages written to social.deadletters per second by reason (invalid_json, "
            "schema_violation, too_late, ...), from the workers and the webhook. Should stay "
            "at 0; the dead-letter topic holds each message and its detail.",
            "ops",
            [Q("sum by (reason) (rate(socialcare_deadletters_total[5m]))", "{{reason}}")],
            w=8,
        ),
        Panel(
            "stat",
            "Dead-letter share of input (5m)",
            "Share of the input messages of the last 5 minutes that were dead-lettered by the "
            "workers. A sudden rise usually means a producer sends a broken format.",
            "percentunit",
            [
                Q(
                    f'sum (rate({processed}{{outcome="deadlettered"}}[5m])) / '
                    f"sum (rate({processed}[5m]))",
                    "dead-letter share",
                )
            ],
            w=8,
            decimals=2,
            thresholds=[
                {"color": "green", "value": None},
                {"color": "orange", "value": 0.001},
                {"color": "red", "value": 0.01},
            ],
        ),
        Panel(
            "timeseries",
            "Duplicates by event type (events/s)",
            "Redelivered or re-sent events (event id already in the dedup window) per second, "
            "by type. Expected after a restart or a platform retry; they are counted once.",
            "ops",
            [
                Q(
                    f'sum by (type) (rate({processed}{{outcome="duplicate"}}[5m]))',
                    "{{type}}",
                )
            ],
            w=8,
        ),
        Row("Latency and lag"),
        Panel(
            "timeseries",
            "Pipeline latency p50 / p99",
            "Time from the Kafka record timestamp (produce time) to the end of processing, "
            "median and 99th percentile over 5 minutes, all workers.",
            "s",
            [
                Q(
                    "histogram_quantile(0.5, sum by (le) "
                    "(rate(socialcare_pipeline_latency_seconds_bucket[5m])))",
                    "p50",
                ),
                Q(
                    "histogram_quantile(0.99, sum by (le) "
                    "(rate(socialcare_pipeline_latency_seconds_bucket[5m])))",
                    "p99",
                ),
            ],
            w=8,
        ),
        Panel(
            "timeseries",
            "Event-time lag p50 / p99",
            "Wall clock at processing minus the event's occurred_at, median and 99th percentile "
            "over 5 minutes: seconds live, up to years while a history is replayed.",
            "s",
            [
                Q(
                    "histogram_quantile(0.5, sum by (le) "
                    "(rate(socialcare_event_time_lag_seconds_bucket[5m])))",
                    "p50",
                ),
                Q(
                    "histogram_quantile(0.99, sum by (le) "
                    "(rate(socialcare_event_time_lag_seconds_bucket[5m])))",
                    "p99",
                ),
            ],
            w=8,
        ),
        Panel(
            "stat",
            "Stream event-time lag",
            "Now minus the latest event time counted by any worker: how far behind live the "
            "stream is (a quiet stream also grows it).",
            "s",
            [
                Q(
                    "time() - max (socialcare_last_event_timestamp_seconds > 0)",
                    "lag",
                )
            ],
            w=8,
            thresholds=[
                {"color": "green", "value": None},
                {"color": "orange", "value": 300},
                {"color": "red", "value": 3600},
            ],
        ),
        Row("Webhook"),
        Panel(
            "timeseries",
            "Webhook requests by status code (req/s)",
            "Requests answered by the ingest webhook per second, by HTTP status: 200 all "
            "accepted, 207 some, 4xx refused (401 bad credentials), 503 Kafka unavailable.",
            "reqps",
            [
                Q(
                    "sum by (code) (rate(socialcare_webhook_requests_total[5m]))",
                    "{{code}}",
                )
            ],
            w=8,
            stacked=True,
        ),
        Panel(
            "timeseries",
            "Webhook events by outcome (events/s)",
            "Events received in authenticated webhook requests per second: accepted (published "
            "to their topic) or rejected (dead-lettered by the webhook).",
            "ops",
            [
                Q(
                    "sum by (outcome) (rate(socialcare_webhook_events_total[5m]))",
                    "{{outcome}}",
                )
            ],
            w=8,
            stacked=True,
            overrides=[color_override("accepted", "green"), color_override("rejected", "red")],
        ),
        Panel(
            "timeseries",
            "Webhook request duration p50 / p99",
            "Time to answer a webhook request, publishing to Kafka included, median and 99th "
            "percentile over 5 minutes (empty while no request arrives).",
            "s",
            [
                Q(f"histogram_quantile(0.5, sum by (le) (rate({hook}[5m])))", "p50"),
                Q(f"histogram_quantile(0.99, sum by (le) (rate({hook}[5m])))", "p99"),
            ],
            w=8,
        ),
        Row("Processes"),
        Panel(
            "timeseries",
            "CPU per process",
            "CPU time used per second by each worker and webhook process (100 % = one core), "
            "over 5 minutes (process_cpu_seconds_total).",
            "percentunit",
            [
                Q(
                    f"sum by (job, instance) (rate(process_cpu_seconds_total{{{JOBS}}}[5m]))",
                    "{{job}} {{instance}}",
                )
            ],
            w=12,
        ),
        Panel(
            "timeseries",
            "Resident memory per process",
            "Resident memory of each worker and webhook process (process_resident_memory_bytes)."
            " Steady growth under a constant load points at a leak.",
            "bytes",
            [
                Q(
                    f"sum by (job, instance) (process_resident_memory_bytes{{{JOBS}}})",
                    "{{job}} {{instance}}",
                )
            ],
            w=12,
        ),
    ]
    return dashboard(
        "socialcare-pipeline",
        "Social care — pipeline health",
        "Health of the processing pipeline: workers and partitions, throughput, dead letters "
        "and duplicates, latency and lag, the ingest webhook and process resources.",
        items,
        [],
        "now-1h",
        "10s",
    )


def build() -> dict[str, Json]:
    """File name -> dashboard model."""
    return {
        "operations.json": operations(),
        "quality.json": quality(),
        "team.json": team(),
        "pipeline.json": pipeline(),
    }


def render(model: Json) -> str:
    return json.dumps(model, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="fail if a file differs instead of writing it"
    )
    args = parser.parse_args(argv)
    stale = []
    for name, model in build().items():
        path = DASHBOARDS_DIR / name
        text = render(model)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        if args.check:
            stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)} (run python grafana/build_dashboards.py)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
