"""The breach-forecast alert: page on breaches forecast before they happen.

Reads the workers' gauge `socialcare_forecast_first_response_breaches` (expected
first-response breaches with a deadline in the horizon, each worker its partitions' share),
summed per brand and channel over the workers and the paged priorities. It pages while the
breaches are still ahead: the backlog alerts page on the conversations already past their
deadline, the SLO burn alerts on the breaches counted.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from processor.tools.rule_parts import Duration, Model, alert, select


class BreachForecastConfig(Model):
    horizon: Literal["15m", "60m"]
    priorities: list[Literal["low", "normal", "high", "urgent"]] = Field(min_length=1)
    min_breaches: float = Field(gt=0)
    for_: Duration = Field(alias="for")


def breach_forecast_alerts(
    config: BreachForecastConfig, runbook: str, job: str
) -> list[dict[str, Any]]:
    priorities = "|".join(config.priorities)
    paged = "/".join(config.priorities)
    forecast = select(
        "socialcare_forecast_first_response_breaches",
        f'{{horizon="{config.horizon}",priority=~"{priorities}"}}',
        job,
    )
    return [alert(
        "SocialcareBreachForecast",
        f"sum by (brand, channel) ({forecast}) >= {config.min_breaches:g}",
        config.for_, "page",
        summary="{{ $labels.brand }} {{ $labels.channel }}: {{ $value | printf \"%.0f\" }} "
        f"first-response breaches expected in the next {config.horizon}",
        description="The breach forecast expects {{ $value | printf \"%.1f\" }} first-response "
        f"SLA breaches of {paged} conversations of {{{{ $labels.brand }}}} on "
        f"{{{{ $labels.channel }}}} within the next {config.horizon} (for {config.for_} "
        "at least): the conversations waiting now and the arrivals ahead will not all be "
        "answered in time at the pace the team shows. Act before their deadlines pass.",
        runbook=runbook, anchor="socialcarebreachforecast",
    )]  # fmt: skip
