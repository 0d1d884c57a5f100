"""`socialcare backtest csat` on a short history: the figures agree with the events."""

from __future__ import annotations

import math

from processor.tools.backtest.csat import run_csat_backtest


def test_a_short_backtest_learns_and_beats_the_mean() -> None:
    result = run_csat_backtest(days=8, rate=1.0, seed=3, holdout=0.25)
    assert [week.answers for week in result.weeks] and len(result.weeks) == 2
    # The weeks add up to the whole.
    assert sum(week.answers for week in result.weeks) == result.held_out.answers
    # Warm-up aside, every held-out answer was checked (its conversation was predicted).
    assert 0.9 * result.held_out_answers <= result.held_out.answers <= result.held_out_answers
    assert result.held_out.answers > 200 and result.learned.answers > 3 * result.held_out.answers
    # Better than giving every answer the surveyed mean, and not biased.
    assert result.held_out.mean_absolute_error < 0.6 < result.baseline_error
    assert abs(result.held_out.bias) < 0.15
    assert 0.8 < result.held_out.within_one_point <= 1.0
    assert 1.0 <= result.mean_predicted <= 5.0 and not math.isnan(result.mean_predicted)
