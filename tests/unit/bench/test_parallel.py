"""Target 3's measured ceiling: copies of the processing code alone, and together."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest
from rich.console import Console

from benchmarks.harness import BenchError
from benchmarks.parallel import (
    Parallel,
    ParallelRound,
    events_per_second,
    measure_parallel,
    run_copies,
)
from benchmarks.targets import verdicts
from tests.unit.bench.test_targets import figures


def test_a_round_is_what_the_copies_did_together_over_one_alone_before_and_after() -> None:
    assert ParallelRound((4_500.0, 4_250.0), (5_000.0, 5_000.0)).ratio == pytest.approx(1.75)
    # the machine slower after: the copies are set against the mean of the two
    assert ParallelRound((4_500.0, 4_250.0), (6_000.0, 4_000.0)).ratio == pytest.approx(1.75)
    assert ParallelRound((4_935.0, 4_371.0), (4_803.0, 4_803.0)).ratio > 1.9
    assert math.isnan(ParallelRound((4_500.0, 4_250.0), (0.0, 0.0)).ratio)


def test_the_ceiling_is_the_median_of_the_rounds() -> None:
    rounds = (
        ParallelRound((5_407.0, 5_097.0), (6_024.0, 6_024.0)),  # 1.744
        ParallelRound((5_102.0, 4_733.0), (5_629.0, 5_629.0)),  # 1.747
        ParallelRound((6_000.0, 6_000.0), (6_000.0, 6_000.0)),  # 2.0
    )
    assert Parallel(rounds).ceiling == pytest.approx((5_102.0 + 4_733.0) / 5_629.0)
    assert Parallel(rounds).shown() == "1.74, 1.75, 2.00"
    assert math.isnan(Parallel(()).ceiling)


def test_a_copy_that_timed_nothing_is_an_error() -> None:
    assert events_per_second({"events": 48_000, "seconds": 8.0}) == 6_000.0
    with pytest.raises(BenchError, match=r"0\.0 s"):
        events_per_second({"events": 48_000, "seconds": 0.0})


def test_the_copies_run_together_and_report_their_rates(tmp_path: Path) -> None:
    rates = asyncio.run(run_copies(2, tmp_path, minutes=1.0))
    assert len(rates) == 2 and all(rate > 0 for rate in rates)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["copy-2-0.json", "copy-2-1.json"]


def test_a_round_runs_one_copy_alone_the_copies_together_and_one_alone_again() -> None:
    console = Console(record=True, width=200)
    found = asyncio.run(measure_parallel(console, rounds=1, minutes=1.0))
    assert len(found.rounds) == 1
    (only,) = found.rounds
    assert len(only.together) == 2 and all(rate > 0 for rate in (*only.together, *only.alone))
    assert found.ceiling == only.ratio > 0
    assert "round 1/1: 2 copies at once" in console.export_text()


def test_a_copy_that_fails_says_so_and_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match=r"exited with code 1: no events to process.*--disk"):
        asyncio.run(run_copies(1, tmp_path, minutes=-1.0))


def test_target_3_shows_the_measured_ceiling_beside_its_verdict() -> None:
    results = figures(scale_two_eps=8_500.0)  # 1.7x one worker's 5,000
    results.parallel = Parallel((ParallelRound((5_250.0, 5_250.0), (6_000.0, 6_000.0)),))
    found = verdicts(results, "kafka")[2]
    assert found.met is False
    assert "2 copies at once 1.75x one alone (rounds 1.75)" in found.baseline
    assert "copies" not in verdicts(figures(), "kafka")[2].baseline
