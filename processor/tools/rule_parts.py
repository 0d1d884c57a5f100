"""The parts every generated rule is made of: durations, the configuration's base model,
selectors, recording and alerting rules (used by `alert_rules` and `volume_rules`)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict

DURATION = re.compile(r"^([0-9]+)(ms|s|m|h|d|w|y)$")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def seconds(duration: str) -> float:
    """A Prometheus duration in seconds (single unit, as the configuration uses)."""
    match = DURATION.match(duration)
    if match is None:
        raise ValueError(f"{duration!r} is not a Prometheus duration like 30s, 5m, 1h, 3d")
    return int(match.group(1)) * _SECONDS[match.group(2)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _duration(value: str) -> str:
    seconds(value)
    return value


Duration = Annotated[str, AfterValidator(_duration)]


def select(metric: str, selector: str = "", job: str = "") -> str:
    """`metric{job="...",...}`: the business rules read the workers' job only, so a replay
    scraped under another job never mixes its history into the live numbers."""
    matchers = [f'job="{job}"'] if job else []
    if selector.strip("{}"):
        matchers.append(selector.strip("{}"))
    return f"{metric}{{{','.join(matchers)}}}" if matchers else metric


def record(name: str, expr: str, **labels: str) -> dict[str, Any]:
    rule: dict[str, Any] = {"record": name, "expr": expr}
    if labels:
        rule["labels"] = labels
    return rule


def alert(
    name: str, expr: str, for_: str, severity: str, summary: str, description: str,
    runbook: str, anchor: str, **labels: str,
) -> dict[str, Any]:  # fmt: skip
    return {
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity, **labels},
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": f"{runbook}#{anchor}",
        },
    }
