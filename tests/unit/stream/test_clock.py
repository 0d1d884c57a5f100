"""The clock's stream time: remembered as moved, written at the batch's end, read from the
table again once a partition's table may have been restored (a rebalance, a recovery)."""

from __future__ import annotations

from typing import Any

from processor.settings import Settings
from processor.stream.clock import Clock

SETTINGS = Settings.model_validate({"clock": "event", "allowed_lateness_seconds": 60})


def test_stream_time_moves_forward_only_and_is_written_at_the_flush() -> None:
    table: dict[str, Any] = {}
    clock = Clock(SETTINGS, table)
    assert clock.stream_time(1) is None and clock.window_now(1) == float("-inf")
    clock.advance(1, 1000.0)
    clock.advance(1, 900.0)  # earlier: no change
    clock.advance(2, 50.0)
    assert table == {}  # a batch's events move it; the batch's end writes it, once
    assert clock.stream_time(1) == 1000.0 and clock.watermark(1) == 940.0
    assert clock.deadline_now(1) == 940.0 and clock.window_now(2) == 50.0
    clock.flush()
    assert table == {"1": 1000.0, "2": 50.0}
    table.clear()
    clock.flush()  # nothing moved since
    assert table == {}
    clock.advance(1, 1200.0)
    clock.advance(2, 60.0)
    clock.forget({2})  # revoked before the batch's end: its move is not written
    clock.flush()
    assert table == {"1": 1200.0}


def test_a_restored_table_is_read_again_after_forget() -> None:
    table: dict[str, Any] = {"3": 500.0}
    clock = Clock(SETTINGS, table)
    assert clock.stream_time(3) == 500.0
    table["3"] = 800.0  # restored from the changelog behind the clock's back
    table["4"] = 10.0
    assert clock.stream_time(3) == 500.0  # remembered until told
    assert clock.stream_time(4) == 10.0  # never read before: read now
    clock.forget({3})
    assert clock.stream_time(3) == 800.0
    del table["3"], table["4"]  # a revoked partition's table dropped
    clock.forget()
    assert clock.stream_time(3) is None and clock.stream_time(4) is None
