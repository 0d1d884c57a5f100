"""Redis reachability: one warning when it goes, one when it is back, the gauge in step."""

from __future__ import annotations

import logging

import pytest

from processor.stream.reachability import Reachability


def test_one_line_per_outage_and_the_gauge_follows(caplog: pytest.LogCaptureFixture) -> None:
    reported: list[bool] = []
    now = [100.0]
    state = Reachability("Redis", "counting goes on", reported.append, lambda: now[0])
    assert reported == [True] and state.reachable
    with caplog.at_level(logging.WARNING, logger="processor.stream.reachability"):
        for _ in range(50):  # a refresh every second for 50 s, all failing
            state.failed(ConnectionError("Connection refused"))
            now[0] += 1
        assert not state.reachable
        state.ok()
        state.ok()
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [
        "Redis unreachable (ConnectionError: Connection refused); counting goes on",
        "Redis reachable again after 50s",
    ]
    assert reported == [True, False, True]
