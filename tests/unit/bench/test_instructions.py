"""The instruction counts of the processing code: start-up subtracted, per event."""

from __future__ import annotations

import pytest

from benchmarks.instructions import STARTUP, per_event


def test_start_up_is_subtracted_from_each_run_before_dividing() -> None:
    # The counts of 10,000 events measured on 2026-12-03 (callgrind, the state store).
    done = {
        STARTUP: 8_626_402_481,
        "with predictions": 14_832_601_994,
        "without predictions": 14_577_456_837,
    }
    counts = per_event(done, 10_000)
    assert counts == pytest.approx(
        {"with predictions": 620_619.9513, "without predictions": 595_105.4356}
    )
    assert counts["with predictions"] / counts["without predictions"] == pytest.approx(
        1.04287, 1e-5
    )
