"""Panel model, presets and the grid: each repeated panel setting is written once here.

The board modules describe panels (title, description, format, queries); this module turns
them into the JSON Grafana provisions. The JSON's key order and defaults are part of the
output contract: `tests/unit/dashboards` compares the generated files byte for byte.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from grafana.boards.promql import BC, m

Json = dict[str, Any]

# The uid of the provisioned datasource (grafana/provisioning/datasources/prometheus.yaml).
DATASOURCE: Json = {"type": "prometheus", "uid": "prometheus"}

GRID_COLUMNS = 24


# -- thresholds ------------------------------------------------------------------------------


def steps(base: str, *rising: tuple[float, str]) -> list[Json]:
    """Threshold steps: `base` below the first value, then each color from its value up."""
    return [{"color": base, "value": None}] + [
        {"color": color, "value": value} for value, color in rising
    ]


# A share that should be close to 100 %: red below 80 %, green from 95 %.
PCT_THRESHOLDS = steps("red", (0.8, "orange"), (0.95, "green"))
# A count whose goal is 0 (breaches, follow-ups).
BAD_WHEN_ABOVE_ZERO = steps("green", (1, "red"))
# No judgement: one color for every value.
NEUTRAL = steps("blue")


# -- units and value ranges ------------------------------------------------------------------


@dataclass(frozen=True)
class Format:
    """Unit, decimals and range of a panel's values; the presets name the usual ones."""

    unit: str
    decimals: int | None = None
    min: float | None = None
    max: float | None = None


COUNT = Format("short")
NUMBER = Format("none")
SECONDS = Format("s")
USD = Format("currencyUSD")
OPS = Format("ops")
# A part of a whole, 0 to 100 %.
SHARE = Format("percentunit", decimals=1, min=0, max=1)
# Shares of a stacked mix that add up to 100 %.
MIX = Format("percentunit", min=0, max=1)
# A quotient shown as a percentage that may exceed 100 % (reopens per resolution...).
RATIO = Format("percentunit", decimals=1)


# -- field overrides -------------------------------------------------------------------------


def override(field_name: str, *properties: tuple[str, Any]) -> Json:
    """Properties set on one field (a series name, or a table's `Value #<refId>` column)."""
    return {
        "matcher": {"id": "byName", "options": field_name},
        "properties": [{"id": key, "value": value} for key, value in properties],
    }


def fixed_colors(**colors: str) -> list[Json]:
    """One fixed color per series name, so that e.g. breached is red on every board."""
    return [
        override(name, ("color", {"mode": "fixed", "fixedColor": c})) for name, c in colors.items()
    ]


MET_BREACHED_COLORS = fixed_colors(met="green", breached="red")
BACKLOG_COLORS = fixed_colors(breached="red", at_risk="orange")


# -- panels ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Q:
    """One PromQL target."""

    expr: str
    legend: str = ""
    instant: bool = False


@dataclass
class Panel(ABC):
    """A panel before layout; subclasses fix the type and its display options."""

    kind: ClassVar[str]
    color_mode: ClassVar[str] = "thresholds"

    title: str
    description: str
    fmt: Format
    targets: list[Q]
    w: int = 12
    h: int = 8
    thresholds: list[Json] = field(default_factory=lambda: list(NEUTRAL))
    overrides: list[Json] = field(default_factory=list)

    @abstractmethod
    def options(self) -> Json:
        """The type's `options` block."""

    def custom(self) -> Json | None:
        """`fieldConfig.defaults.custom`, for the types that have one."""
        return None

    def target(self, query: Q, ref_id: str) -> Json:
        return {
            "datasource": dict(DATASOURCE),
            "refId": ref_id,
            "expr": query.expr,
            "legendFormat": query.legend or "__auto",
            "range": not query.instant,
            "instant": query.instant,
        }

    def field_defaults(self) -> Json:
        defaults: Json = {
            "unit": self.fmt.unit,
            "color": {"mode": self.color_mode},
            "thresholds": {"mode": "absolute", "steps": self.thresholds},
        }
        custom = self.custom()
        if custom is not None:
            defaults["custom"] = custom
        for key in ("decimals", "min", "max"):
            value = getattr(self.fmt, key)
            if value is not None:
                defaults[key] = value
        return defaults

    def render(self, panel_id: int, x: int, y: int) -> Json:
        return {
            "id": panel_id,
            "type": self.kind,
            "title": self.title,
            "description": self.description,
            "datasource": dict(DATASOURCE),
            "gridPos": {"h": self.h, "w": self.w, "x": x, "y": y},
            "fieldConfig": {"defaults": self.field_defaults(), "overrides": self.overrides},
            "options": self.options(),
            "targets": [self.target(q, chr(ord("A") + i)) for i, q in enumerate(self.targets)],
        }


# The last non-null value of each series: what stat, gauge and bar gauge panels show.
_LAST_VALUE: Json = {"calcs": ["lastNotNull"], "fields": "", "values": False}


@dataclass
class Timeseries(Panel):
    kind: ClassVar[str] = "timeseries"
    color_mode: ClassVar[str] = "palette-classic"

    stacked: bool = False
    bars: bool = False

    def options(self) -> Json:
        return {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }

    def custom(self) -> Json:
        return {
            "drawStyle": "bars" if self.bars else "line",
            "lineWidth": 1,
            "fillOpacity": 80 if self.bars else 10,
            "showPoints": "never",
            "spanNulls": False,
            "stacking": {"mode": "normal" if self.stacked else "none", "group": "A"},
        }


class Stat(Panel):
    kind: ClassVar[str] = "stat"

    def options(self) -> Json:
        return {
            "reduceOptions": dict(_LAST_VALUE),
            "orientation": "auto",
            # Several queries: the series name tells them apart.
            "textMode": "value_and_name" if len(self.targets) > 1 else "auto",
            "colorMode": "value",
            "graphMode": "area",
            "justifyMode": "auto",
            "wideLayout": True,
            "showPercentChange": False,
        }


class Gauge(Panel):
    kind: ClassVar[str] = "gauge"

    def options(self) -> Json:
        return {
            "reduceOptions": dict(_LAST_VALUE),
            "orientation": "auto",
            "showThresholdLabels": False,
            "showThresholdMarkers": True,
            "minVizWidth": 75,
            "minVizHeight": 75,
        }


class BarGauge(Panel):
    kind: ClassVar[str] = "bargauge"

    def options(self) -> Json:
        return {
            "reduceOptions": dict(_LAST_VALUE),
            "orientation": "horizontal",
            "displayMode": "gradient",
            "valueMode": "color",
            "namePlacement": "auto",
            "showUnfilled": True,
            "sizing": "auto",
            "minVizWidth": 8,
            "minVizHeight": 16,
        }


class Table(Panel):
    """Instant queries merged into one line per label set, the Time column hidden."""

    kind: ClassVar[str] = "table"

    def options(self) -> Json:
        return {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}

    def custom(self) -> Json:
        return {"align": "auto", "cellOptions": {"type": "auto"}}

    def target(self, query: Q, ref_id: str) -> Json:
        return {**super().target(query, ref_id), "format": "table"}

    def render(self, panel_id: int, x: int, y: int) -> Json:
        out = super().render(panel_id, x, y)
        out["transformations"] = [
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {"excludeByName": {"Time": True}}},
        ]
        return out


@dataclass(frozen=True)
class Row:
    """A (non-collapsed) row header: the panels after it, up to the next row, belong to it."""

    title: str


# -- grid and dashboard ----------------------------------------------------------------------


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
                    "gridPos": {"h": 1, "w": GRID_COLUMNS, "x": 0, "y": y},
                    "panels": [],
                }
            )
            y += 1
            continue
        if x + item.w > GRID_COLUMNS:
            y += line_height
            x = line_height = 0
        panels.append(item.render(panel_id, x, y))
        x += item.w
        line_height = max(line_height, item.h)
    return panels


def template_variable(name: str, label: str, query: str) -> Json:
    """A multi-value query variable whose "All" matches everything (`.*`)."""
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


BRAND_VARIABLE = template_variable("brand", "Brand", f"label_values({m('mentions')}, brand)")
CHANNEL_VARIABLE = template_variable(
    "channel", "Channel", f'label_values({m("mentions")}{{brand=~"$brand"}}, channel)'
)
TEAM_VARIABLE = template_variable(
    "team", "Team", f"label_values({m('team_replies')}{{{BC}}}, team)"
)
# The business boards filter every brand-labelled query by these.
BUSINESS_VARIABLES = [BRAND_VARIABLE, CHANNEL_VARIABLE]


def dashboard(
    uid: str,
    title: str,
    description: str,
    items: list[Panel | Row],
    variables: list[Json],
    time_from: str,
    refresh: str,
) -> Json:
    """The board around its panels: provisioned read-only, linked to the other boards."""
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
