"""`benchmarks.fetch_wait`'s arithmetic and its settings (its live runs are measured on
purpose, not in the tests; `tests/unit/bench/test_commit_interval_bench.py` has the order
of alternated runs)."""

from __future__ import annotations

import math

from benchmarks.fetch_wait import FETCHES, medians
from benchmarks.live_run import LiveRun, variable_of
from processor.settings import Settings


def run(rate: float, label: str, cpu: float, p50: float = math.nan) -> LiveRun:
    return LiveRun(label, rate, cpu, cpu * rate / 1e6, 0.3, 3_000.0, 3.0, 10.0, p50, 0.2, 0.01)


def test_medians_per_rate_and_setting_in_the_order_run() -> None:
    runs = [
        run(500, "faust", 1_200, 0.02), run(500, "worker", 600, 0.06),
        run(500, "worker", 700, 0.07), run(500, "faust", 1_100, 0.03),
        run(500, "faust", 1_400, 0.01), run(500, "worker", 500, 0.05),
        run(2_000, "worker", 340), run(2_000, "faust", 360),
    ]  # fmt: skip
    found = medians(runs)
    assert [(m.rate, m.label) for m in found] == [
        (500, "faust"), (500, "worker"), (2_000, "worker"), (2_000, "faust"),
    ]  # fmt: skip
    assert (found[0].cpu_per_event, found[0].p50) == (1_200, 0.02)
    assert (found[1].cpu_per_event, found[1].p50) == (600, 0.06)
    assert found[1].worker_cores == 0.3  # 600 µs an event at 500/s
    assert found[2].cpu_per_event == 340 and math.isnan(found[2].p50)


def test_faust_is_compared_at_its_driver_s_fetch_and_the_worker_at_its_defaults() -> None:
    # faust/transport/drivers/aiokafka.py: fetch_max_wait_ms=1500; aiokafka: fetch_min_bytes=1
    # (tests/unit/stream/test_fetch_wait.py reads them off a consumer Faust builds).
    assert FETCHES["faust"] == {"fetch_max_wait_seconds": 1.5, "fetch_min_bytes": 1}
    assert FETCHES["worker"] == {"fetch_max_wait_seconds": 0.05, "fetch_min_bytes": 1_048_576}
    defaults = Settings()
    assert (defaults.fetch_max_wait_seconds, defaults.fetch_min_bytes) == (0.05, 1_048_576)


def test_a_field_is_passed_as_its_environment_variable() -> None:
    assert variable_of("fetch_max_wait_seconds") == "SOCIALCARE_FETCH_MAX_WAIT_SECONDS"
    assert variable_of("commit_interval_seconds") == "SOCIALCARE_COMMIT_INTERVAL_SECONDS"
