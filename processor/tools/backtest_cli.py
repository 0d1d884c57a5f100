"""`socialcare backtest`: histories replayed in this process, forecasts set against outcomes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

backtest_app = typer.Typer(
    help="Replay a history through the event clock in this process (no broker, no Redis) and "
    "print what the processor predicted against what happened.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
console = Console(stderr=True)


@contextmanager
def replaying() -> Iterator[Callable[[int, int], None]]:
    """A progress bar of the events replayed; yields the backtests' progress callback."""
    with Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), console=console,
    ) as bar:  # fmt: skip
        task = bar.add_task("replaying events", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


class History(StrEnum):
    SYNTHETIC = "synthetic"
    TWITTER = "twitter"


@backtest_app.command("csat")
def csat(
    days: Annotated[float, typer.Option(min=1, help="Days of synthetic history.")] = 30.0,
    rate: Annotated[float, typer.Option(min=0.1, help="Synthetic conversations per minute.")] = 2.0,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic history.")] = 7,
    holdout: Annotated[
        float,
        typer.Option(min=0.05, max=0.5, help="Share of conversations whose answers are held back."),
    ] = 0.2,
) -> None:
    """Predicted CSAT against the answers held back from learning (month generator).

    The generator's answers follow a known relation to the service (README, Predicted CSAT);
    the error is read from the calibration counters the worker exports.
    """
    from processor.tools.backtest.csat import run_csat_backtest

    with replaying() as progress:
        result = run_csat_backtest(days, rate, seed, holdout, progress=progress)
    print(
        f"predicted CSAT backtest: {days:g} days of synthetic history at {rate:g} conversations"
        f"/min (seed {seed}), {result.events:,} events, {holdout:.0%} of conversations held out"
    )
    print(
        f"resolutions scored: {result.resolutions_scored:,} "
        f"(mean predicted CSAT {result.mean_predicted:.2f})"
    )
    print(f"{'answers':>28} {'checked':>8} {'MAE':>6} {'within 1':>9} {'bias':>7}")
    for name, figures in (("held out (never learned)", result.held_out),
                          ("learned (checked before)", result.learned)):  # fmt: skip
        print(
            f"{name:>28} {figures.answers:>8,} {figures.mean_absolute_error:>6.3f} "
            f"{figures.within_one_point:>9.1%} {figures.bias:>+7.3f}"
        )
    weekly = ", ".join(
        f"week {number} {week.mean_absolute_error:.3f} ({week.answers:,})"
        for number, week in enumerate(result.weeks, 1)
    )
    print(f"held-out MAE by week (answers checked): {weekly}")
    print(
        f"baseline: the learned answers' mean ({result.baseline_mean:.2f}) for each of the "
        f"{result.held_out_answers:,} held-out answers: MAE {result.baseline_error:.3f}"
    )


@backtest_app.command("breaches")
def breaches(
    source: Annotated[
        History,
        typer.Option(help="synthetic: the month generator; twitter: a TWCS export (--path)."),
    ] = History.SYNTHETIC,
    days: Annotated[float, typer.Option(min=2, help="Days of synthetic history.")] = 30.0,
    rate: Annotated[float, typer.Option(min=0.1, help="Synthetic conversations per minute.")] = 2.0,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic history.")] = 7,
    path: Annotated[
        Path,
        typer.Option(dir_okay=False, help="The TWCS CSV export read with --source twitter."),
    ] = Path("../shared/data/twcs_sample.csv"),
    hourly: Annotated[bool, typer.Option(help="Print every hour's figures.")] = False,
) -> None:
    """The 60-minute breach forecast against the breaches that followed, hour by hour.

    Each hour's forecast (socialcare_forecast_first_response_breaches{horizon="60m"}) is set
    against the first-response breaches counted in the hour that follows, and beside the
    naive forecast "as many as in the last hour". SOCIALCARE_TEAM_STAFFING applies as in a
    worker (with handle_minutes, the arrivals' Erlang C queue).
    """
    from processor.settings import Settings
    from processor.tools.backtest.breaches import run_breach_backtest
    from processor.tools.backtest.csat import history

    if source is History.TWITTER:
        if not path.is_file():
            console.print(f"[red]no TWCS export at {path}: give one with --path[/red]")
            raise typer.Exit(2)
        from processor.ingest.twitter_support import read_twcs

        documents, _ = read_twcs(path)
        described = f"the Twitter support sample {path}"
    else:
        documents = history(days, rate, seed, start=1_767_225_600.0)
        described = (f"{days:g} days of synthetic history at {rate:g} conversations/min "
                     f"(seed {seed})")  # fmt: skip
    staffing = Settings().team_staffing
    with replaying() as progress:
        result = run_breach_backtest(list(documents), staffing, progress=progress)
    print(f"breach forecast backtest: {described}, {result.events:,} events")
    if hourly:
        print(f"{'hour (UTC)':>17} {'forecast':>9} {'naive':>6} {'actual':>7}")
        for hour in result.hours:
            stamp = datetime.fromtimestamp(hour.start, UTC).strftime("%Y-%m-%d %H:%M")
            print(f"{stamp:>17} {hour.forecast:>9.2f} {hour.naive:>6.0f} {hour.actual:>7.0f}")
    actual = sum(hour.actual for hour in result.hours)
    print(
        f"{len(result.hours):,} hours scored after a day of warm-up, {actual:,.0f} "
        f"first-response breaches in them, {result.series} (brand, channel, priority) series"
    )
    print(f"{'60-minute forecast':>28} {'MAE':>7} {'bias':>8} {'MAE/series':>11} {'bias':>8}")
    for name, total, series in (
        ("forecast", result.forecast_hourly, result.forecast),
        ("naive (same as last hour)", result.naive_hourly, result.naive),
    ):
        print(
            f"{name:>28} {total.mean_absolute_error:>7.3f} {total.bias:>+8.3f} "
            f"{series.mean_absolute_error:>11.3f} {series.bias:>+8.3f}"
        )
