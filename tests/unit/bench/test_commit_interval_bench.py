"""`benchmarks.commit_interval`'s order of runs and its medians."""

from __future__ import annotations

import math

from benchmarks.commit_interval import DEFAULT_INTERVAL, IntervalRun, alternated, medians


def test_the_settings_take_turns_first() -> None:
    assert alternated((0.0, 0.1), 3) == [0.0, 0.1, 0.1, 0.0, 0.0, 0.1]
    assert alternated((0.0, 0.1), 0) == []
    assert DEFAULT_INTERVAL == 0.1


def test_each_setting_gets_the_median_of_each_figure() -> None:
    runs = [
        IntervalRun(0.0, 4_120.0, 236.0, 1_107.0, 1.10),
        IntervalRun(0.1, 4_732.0, 211.0, 1_240.0, 1.28),
        IntervalRun(0.1, 4_708.0, 212.0, 1_134.0, 1.14),
        IntervalRun(0.0, 4_509.0, 219.0, 1_173.0, 1.01),
        IntervalRun(0.0, 4_127.0, 237.0, 1_209.0, 1.16),
        IntervalRun(0.1, 5_323.0, 186.0, 1_171.0, 1.02),
    ]
    found = medians(runs)
    assert list(found) == [0.0, 0.1]
    assert (found[0.0].events_per_second, found[0.0].cpu_per_event) == (4_127.0, 236.0)
    assert (found[0.0].changelog_bytes, found[0.0].changelog_records) == (1_173.0, 1.10)
    assert (found[0.1].events_per_second, found[0.1].cpu_per_event) == (4_732.0, 211.0)
    assert (found[0.1].changelog_bytes, found[0.1].changelog_records) == (1_171.0, 1.14)
    assert math.isnan(found[0.1].p99)  # no latency in backlog runs
    live = medians([IntervalRun(0.1, 500.0, 1_450.0, 3_989.0, 4.08, 0.017, 0.049),
                    IntervalRun(0.1, 500.0, 1_447.0, 3_921.0, 3.98, 0.021, 0.086)])  # fmt: skip
    assert math.isclose(live[0.1].p50, 0.019) and math.isclose(live[0.1].p99, 0.0675)
