"""The report's charts: Vega-Lite specifications (Altair) rendered to SVG by vl-convert,
with no browser and no server, so the HTML carries them inline and opens offline."""

from __future__ import annotations

import math
from typing import Any

import altair as alt
import vl_convert

from processor.tools.report.build import ReportData

WIDTH = 520
HEIGHT = 200


def _svg(chart: alt.TopLevelMixin) -> str:
    return str(vl_convert.vegalite_to_svg(chart.to_dict()))


def _values(rows: list[dict[str, Any]]) -> alt.Data:
    return alt.Data(  # type: ignore[no-untyped-call]
        values=[{k: (None if isinstance(v, float) and math.isnan(v) else v)
                             for k, v in row.items()} for row in rows])  # fmt: skip


def daily_volume(data: ReportData) -> str:
    rows = [{"day": f"{day:%Y-%m-%d}", "channel": channel, "posts": value}
            for channel, points in data.daily_volume.items() for day, value in points]  # fmt: skip
    chart = (
        alt.Chart(_values(rows), width=WIDTH, height=HEIGHT)
        .mark_bar()
        .encode(
            x=alt.X("day:O", title=None),
            y=alt.Y("posts:Q", title="inbound posts", stack="zero"),
            color=alt.Color("channel:N", title="channel"),
        )
    )
    return _svg(chart)


def compliance_trend(data: ReportData, objective: float | None) -> str:
    rows = [{"day": day, "period": "this period", "compliance": value}
            for day, value in data.daily_compliance]  # fmt: skip
    rows += [{"day": day, "period": "baseline", "compliance": value}
             for day, value in data.baseline_daily_compliance]  # fmt: skip
    lines = alt.Chart(_values(rows), width=WIDTH, height=HEIGHT).mark_line(point=True).encode(
        x=alt.X("day:O", title="day of the period"),
        y=alt.Y("compliance:Q", title="first-response SLA met", axis=alt.Axis(format="%"),
                scale=alt.Scale(zero=False)),
        color=alt.Color("period:N", title=None),
    )  # fmt: skip
    if objective is None:
        return _svg(lines)
    rule = (
        alt.Chart(_values([{"objective": objective}]))
        .mark_rule(strokeDash=[4, 4])
        .encode(y="objective:Q")
    )
    return _svg(alt.layer(lines, rule))


def distribution(buckets: list[tuple[str, float]], what: str) -> str:
    rows = [{"bucket": label, "order": index, "count": value}
            for index, (label, value) in enumerate(buckets)]  # fmt: skip
    chart = (
        alt.Chart(_values(rows), width=WIDTH, height=HEIGHT)
        .mark_bar()
        .encode(
            x=alt.X("bucket:N", sort=alt.EncodingSortField("order"), title=what),
            y=alt.Y("count:Q", title="conversations"),
        )
    )
    return _svg(chart)


def breaches_by_hour(data: ReportData) -> str:
    rows = [{"hour": hour, "breaches": value} for hour, value in data.breaches_by_hour]
    chart = (
        alt.Chart(_values(rows), width=WIDTH, height=HEIGHT)
        .mark_bar(color="#c0392b")
        .encode(
            x=alt.X("hour:O", title="hour of the day (UTC)"),
            y=alt.Y("breaches:Q", title="first-response SLA breaches"),
        )
    )
    return _svg(chart)
