"""The Grafana dashboards' model: panels and PromQL of grafana/dashboards/*.json.

Shared by `tests/unit/dashboards/test_dashboards.py` (the model rules) and the tests that
run the expressions against a real Prometheus: `dashboard_expressions()` gives every PromQL
expression with the dashboard variables set to "All" (`.*`) and Grafana's interval macros
replaced by concrete ranges, ready for `/api/v1/query`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DASHBOARDS_DIR = REPO / "grafana" / "dashboards"
PROVISIONING_DIR = REPO / "grafana" / "provisioning"

Json = dict[str, Any]

# Grafana's built-in interval variables, as a dashboard at its default zoom would set them.
BUILTIN_VARIABLES = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__interval_ms": "15000",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
}

_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)")


def load_dashboards() -> dict[str, Json]:
    """Dashboard models by file name without `.json` (e.g. "operations"), sorted."""
    models: dict[str, Json] = {}
    for path in sorted(DASHBOARDS_DIR.glob("*.json")):
        model = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(model, dict):
            raise ValueError(f"{path.name}: a dashboard is a JSON object")
        models[path.stem] = model
    return models


def is_row(panel: Json) -> bool:
    return panel.get("type") == "row"


def all_panels(dashboard: Json) -> Iterator[Json]:
    """Every panel, rows included, and the panels nested in (collapsed) rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def data_panels(dashboard: Json) -> Iterator[Json]:
    """The panels that show data (everything but row headers)."""
    return (panel for panel in all_panels(dashboard) if not is_row(panel))


def variable_values(dashboard: Json) -> dict[str, str]:
    """Template variable -> the value of "All" (its `allValue`, `.*` by default)."""
    values = dict(BUILTIN_VARIABLES)
    for variable in dashboard.get("templating", {}).get("list", []):
        values[variable["name"]] = variable.get("allValue") or ".*"
    return values


def substitute(expr: str, values: dict[str, str]) -> str:
    """Replace `$var`, `${var}`, `${var:format}` and `[[var]]`; unknown names are kept."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        return values.get(name, match.group(0))

    return _VARIABLE.sub(replace, expr)


def dashboard_expressions() -> list[tuple[str, str, str]]:
    """(dashboard file stem, panel title, PromQL) of every target, variables set to All."""
    found: list[tuple[str, str, str]] = []
    for name, dashboard in load_dashboards().items():
        values = variable_values(dashboard)
        for panel in data_panels(dashboard):
            for target in panel.get("targets", []):
                expr = target.get("expr", "")
                if expr:
                    found.append((name, panel.get("title", ""), substitute(expr, values)))
    return found
