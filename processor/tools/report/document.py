"""The report as one self-contained HTML file (styles and SVG charts inline), or a PDF of it.

Jinja2 renders the page (autoescaped: brand and team names come from the data); WeasyPrint
turns the same page into a PDF, charts included, without a browser.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import jinja2

from processor.tools.report import charts
from processor.tools.report.build import ReportData
from processor.tools.report.kpis import formatted, formatted_change

_TEMPLATE = (resources.files("processor.tools.report") / "report.html.j2").read_text("utf-8")

_ENVIRONMENT = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)


def _class(good: bool | None) -> str:
    return "flat" if good is None else "good" if good else "bad"


def html(data: ReportData) -> str:
    """The report page."""
    objective = next((row.target for row in data.kpis if row.kpi.target == "objective"), None)
    rows = []
    for row in data.kpis:
        unit = row.kpi.unit
        rows.append({
            "key": row.kpi.key, "title": row.kpi.title, "raw": row.value,
            "value": formatted(row.value, unit),
            "target": "" if row.target is None else formatted(row.target, unit),
            "target_class": _class(row.meets_target),
            "baseline": formatted(row.baseline, unit),
            "arrow": "" if row.change is None else row.change.arrow,
            "change": "" if row.change is None else formatted_change(row.change, unit),
            "change_class": "flat" if row.change is None else _class(row.change.good),
        })  # fmt: skip
    rendered = {
        "volume": charts.daily_volume(data),
        "compliance": charts.compliance_trend(data, objective),
        "first_response": charts.distribution(data.first_response_buckets, "first response"),
        "resolution": charts.distribution(data.resolution_buckets, "resolution time"),
        "hours": charts.breaches_by_hour(data),
    }
    return _ENVIRONMENT.from_string(_TEMPLATE).render(
        data=data,
        scope=f"— {data.brand}" if data.brand else "— all brands",
        rows=rows,
        volume=sorted(data.volume_by_channel.items(), key=lambda item: -item[1]),
        charts=rendered,
        teams=[(team, formatted(p90, "seconds")) for team, p90 in data.slowest_teams],
    )


def write(data: ReportData, output: Path, pdf: bool = False) -> None:
    """The HTML page, or with `pdf` the page printed by WeasyPrint."""
    page = html(data)
    if not pdf:
        output.write_text(page, encoding="utf-8")
        return
    import weasyprint

    weasyprint.HTML(string=page).write_pdf(output)
