"""The predicted-CSAT backtest: a month of synthetic history, answers held back, the error.

The generator's answers follow a known relation to the service (`ingest.synthetic_csat`); a
share of the conversations (SOCIALCARE_CSAT_HOLDOUT_SHARE's rule, a hash of the id) is kept
out of learning. The figures are read from the counters the worker exports (checks, error
points, within one point), so the backtest measures the metrics users see; the baseline, the
mean of the learned answers given to every held-out one, is computed from the events alone.
"""

from __future__ import annotations

import asyncio
import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass

from processor.ingest.producer import event_time
from processor.ingest.synthetic import SyntheticTraffic, TrafficProfile
from processor.metrics.prediction_families import (
    PREDICTED_CSAT,
    PREDICTED_CSAT_CHECKS,
    PREDICTED_CSAT_ERROR_POINTS,
    PREDICTED_CSAT_WITHIN_ONE_POINT,
)
from processor.metrics.series import SeriesKey
from processor.predict.csat_scoring import held_out
from processor.settings import Settings
from processor.tools.backtest.offline import messages_of, offline_pipeline, run_batches, totals

DAY = 86400.0
WEEK = 7 * DAY


@dataclass(frozen=True)
class Calibration:
    """Predictions checked against answers: how many, mean absolute error, share within one
    point, mean signed error (bias: above 0 the model predicts too high)."""

    answers: int
    mean_absolute_error: float
    within_one_point: float
    bias: float


@dataclass(frozen=True)
class CsatBacktest:
    events: int
    resolutions_scored: int
    mean_predicted: float
    held_out: Calibration
    learned: Calibration
    weeks: list[Calibration]  # the held-out answers of each week: the model as it learns
    held_out_answers: int  # all of them, with or without a prediction (warm-up)
    baseline_mean: float  # the learned answers' mean
    baseline_error: float  # its mean absolute error on every held-out answer


def calibration(checks: float, over: float, under: float, within: float) -> Calibration:
    if not checks:
        return Calibration(0, float("nan"), float("nan"), float("nan"))
    return Calibration(int(checks), (over + under) / checks, within / checks,
                       (over - under) / checks)  # fmt: skip


def history(days: float, rate: float, seed: int, start: float) -> list[dict[str, object]]:
    profile = TrafficProfile(conversations_per_minute=rate)
    return SyntheticTraffic(start, seed=seed, profile=profile).advance(start + days * DAY)


def run_csat_backtest(
    days: float = 30.0,
    rate: float = 2.0,
    seed: int = 7,
    holdout: float = 0.2,
    partitions: int = 4,
    start: float = 1_767_225_600.0,  # 2026-01-01T00:00:00Z
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> CsatBacktest:
    """Replay the history through the event clock; the calibration the counters show."""
    settings = Settings.model_validate(
        {"clock": "event", "partitions": partitions, "csat_holdout_share": holdout}
    )
    documents = history(days, rate, seed, start)
    messages = messages_of(documents, settings)
    times = [event_time(document) for document in documents]
    pipeline = offline_pipeline(settings)
    done = 0

    def advanced(count: int) -> None:
        nonlocal done
        done += count
        progress(done, len(messages))

    series: dict[SeriesKey, float] = {}

    def summed(family: str, part: str = "", **labels: str) -> float:
        names = {"sample": 2, "direction": 3}
        return sum(
            amount for key, amount in series.items()
            if key.family == family and key.part == part
            and all(key.labels[names[name]] == value for name, value in labels.items())
        )  # fmt: skip

    def checked(sample: str) -> tuple[float, float, float, float]:
        """Cumulative (checks, over, under, within one) of a sample, from the counters."""
        return (
            summed(PREDICTED_CSAT_CHECKS.name, sample=sample),
            summed(PREDICTED_CSAT_ERROR_POINTS.name, sample=sample, direction="over"),
            summed(PREDICTED_CSAT_ERROR_POINTS.name, sample=sample, direction="under"),
            summed(PREDICTED_CSAT_WITHIN_ONE_POINT.name, sample=sample),
        )

    # Week by week, so that the held-out error shows the model as it learns.
    weeks = []
    before = (0.0, 0.0, 0.0, 0.0)
    for week in range(math.ceil(days / 7)):
        first = bisect.bisect_left(times, start + week * WEEK)
        last = bisect.bisect_left(times, start + (week + 1) * WEEK)
        asyncio.run(run_batches(pipeline, messages[first:last], progress=advanced))
        series = totals(pipeline)
        now = checked("held_out")
        weeks.append(calibration(*(a - b for a, b in zip(now, before, strict=True))))
        before = now

    answers = [
        (held_out(str(document["conversation_id"]), holdout), int(document["score"]))  # type: ignore[call-overload]
        for document in documents
        if document["type"] == "survey" and document["kind"] == "csat"
    ]
    learned_answers = [score for kept_out, score in answers if not kept_out]
    held_answers = [score for kept_out, score in answers if kept_out]
    baseline = sum(learned_answers) / len(learned_answers) if learned_answers else float("nan")
    scored = summed(PREDICTED_CSAT.name, "count")
    return CsatBacktest(
        events=len(messages),
        resolutions_scored=int(scored),
        mean_predicted=summed(PREDICTED_CSAT.name, "sum") / scored if scored else float("nan"),
        held_out=calibration(*checked("held_out")),
        learned=calibration(*checked("learned")),
        weeks=weeks,
        held_out_answers=len(held_answers),
        baseline_mean=baseline,
        baseline_error=(
            sum(abs(score - baseline) for score in held_answers) / len(held_answers)
            if held_answers
            else float("nan")
        ),
    )
