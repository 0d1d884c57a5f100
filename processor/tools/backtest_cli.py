"""`socialcare backtest`: histories replayed in this process, forecasts set against outcomes."""

from __future__ import annotations

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

    with Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), console=console,
    ) as progress:  # fmt: skip
        task = progress.add_task("replaying events", total=None)
        result = run_csat_backtest(
            days, rate, seed, holdout,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )  # fmt: skip
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
