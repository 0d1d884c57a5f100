"""`benchmarks.settings_ab`'s arithmetic and arguments (its runs are measured on purpose)."""

from __future__ import annotations

import argparse

import pytest

from benchmarks.settings_ab import BacklogRun, environment, main, median_run


def test_each_figure_is_its_own_median() -> None:
    runs = [
        BacklogRun(4_000, 250, 210, 30, 1_200, 1.3),
        BacklogRun(3_500, 270, 230, 20, 1_300, 1.2),
        BacklogRun(4_200, 240, 220, 40, 1_100, 1.4),
    ]
    # Figure by figure: no single run holds these five medians.
    assert median_run(runs) == BacklogRun(4_000, 250, 220, 30, 1_200, 1.3)


def test_assignments_become_the_environment_and_a_value_may_hold_equals_signs() -> None:
    assert environment(["SOCIALCARE_X=1", "SOCIALCARE_Y=a=b", "SOCIALCARE_Z="]) == {
        "SOCIALCARE_X": "1", "SOCIALCARE_Y": "a=b", "SOCIALCARE_Z": "",
    }  # fmt: skip
    with pytest.raises(argparse.ArgumentTypeError, match="NAME=VALUE"):
        environment(["SOCIALCARE_X"])


def test_a_malformed_assignment_is_a_usage_error_before_anything_starts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--a", "lz4", "--b", "SOCIALCARE_CHANGELOG_COMPRESSION=none"])
    assert exited.value.code == 2
    assert "expected NAME=VALUE, got 'lz4'" in capsys.readouterr().err
