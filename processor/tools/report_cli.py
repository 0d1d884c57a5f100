"""`socialcare report`: the KPI report of a period against a baseline, from Prometheus."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from processor.errors import SocialcareError

if TYPE_CHECKING:
    from processor.tools.report.build import Targets

console = Console(stderr=True)


class ReportFormat(StrEnum):
    html = "html"
    pdf = "pdf"


def instant(text: str, option: str) -> datetime:
    """An ISO 8601 date or time; UTC when it has no offset."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        console.print(f"[red]error:[/red] {option} {text!r}: give a date like 2026-11-01 "
                      "or a time like 2026-11-01T08:00:00Z")  # fmt: skip
        raise typer.Exit(2) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def report(
    from_: Annotated[str, typer.Option("--from", help="Start of the period (ISO 8601, UTC).")],
    to: Annotated[str, typer.Option("--to", help="End of the period, exclusive.")],
    prometheus: Annotated[str, typer.Option(help="Prometheus base URL.")] = (
        "http://localhost:9090"
    ),
    brand: Annotated[str | None, typer.Option(help="One brand (default: all).")] = None,
    baseline_from: Annotated[
        str | None, typer.Option(help="Start of the baseline (default: the period before).")
    ] = None,
    baseline_to: Annotated[str | None, typer.Option(help="End of the baseline, exclusive.")] = (
        None
    ),
    output: Annotated[Path, typer.Option(help="The report file.")] = Path("report.html"),
    report_format: Annotated[
        ReportFormat, typer.Option("--format", help="html (self-contained) or pdf.")
    ] = ReportFormat.html,
    slo: Annotated[Path, typer.Option(help="Objectives (prometheus/slo.yaml).")] = Path(
        "prometheus/slo.yaml"
    ),
    sla_config: Annotated[Path, typer.Option(help="SLA policy targets.")] = Path("config/sla.yaml"),
    job: Annotated[str, typer.Option(help="Prometheus job of the workers.")] = "socialcare",
) -> None:
    """Build the KPI report of a period (and its change against a baseline) from Prometheus."""
    from processor.tools.report.build import Period, ReportReader
    from processor.tools.report.document import write
    from processor.tools.report.prometheus import PrometheusApi

    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per query otherwise
    period = Period(instant(from_, "--from"), instant(to, "--to"))
    if period.seconds < 3600:
        console.print("[red]error:[/red] --to must be at least an hour after --from")
        raise typer.Exit(2)
    if (baseline_from is None) != (baseline_to is None):
        console.print("[red]error:[/red] give both --baseline-from and --baseline-to, or none")
        raise typer.Exit(2)
    if baseline_from is not None and baseline_to is not None:
        baseline = Period(instant(baseline_from, "--baseline-from"),
                          instant(baseline_to, "--baseline-to"))  # fmt: skip
    else:
        length = timedelta(seconds=period.seconds)
        baseline = Period(period.start - length, period.start)
    api = PrometheusApi(prometheus)
    try:
        with console.status(f"reading {period.label()} and {baseline.label()} from {prometheus}"):
            targets = _targets(brand, slo, sla_config)
            data = ReportReader(api, brand, job).read(period, baseline, targets)
        with console.status(f"drawing the charts and writing {output}"):
            write(data, output, pdf=report_format is ReportFormat.pdf)
    except SocialcareError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    finally:
        api.close()
    console.print(f"wrote {output}")


def _targets(brand: str | None, slo: Path, sla_config: Path) -> Targets:
    """The objective and the policy's targets (normal priority), from the files if present."""
    from processor.domain.sla import load_policy_file
    from processor.tools.alert_rules import load_config
    from processor.tools.report.build import Targets

    objective = first_response = resolution = None
    try:
        if slo.is_file():
            sla = load_config(slo).sla
            objective = sla.objectives.get(brand or "", sla.objective)
        if sla_config.is_file():
            policy, _ = load_policy_file(sla_config)
            first_response = policy.target_seconds("first_response", brand or "", "", "normal")
            resolution = policy.target_seconds("resolution", brand or "", "", "normal")
    except (ValidationError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    return Targets(objective, first_response, resolution)
