"""The collector's pauses: bucketed by duration, per generation, from one callback."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from processor.metrics.gc_pauses import (
    GC_PAUSE_BUCKETS,
    PROCESS_PAUSES,
    GcPauseCollector,
    GcPauses,
)
from processor.metrics.health import new_registry

NAME = "socialcare_gc_pause_seconds"


class SteppedClock:
    """Returns the given instants in turn: each start and stop of a collection."""

    def __init__(self, *instants: float) -> None:
        self._instants = iter(instants)

    def __call__(self) -> float:
        return next(self._instants)


def samples(registry: CollectorRegistry) -> dict[tuple[str, str, str], float]:
    """(sample name, generation, le) -> value of the pause family."""
    out = {}
    for metric in registry.collect():
        if metric.name == NAME:
            for sample in metric.samples:
                key = (sample.name, sample.labels["generation"], sample.labels.get("le", ""))
                out[key] = sample.value
    return out


@pytest.fixture
def no_automatic_collections() -> Iterator[None]:
    """Only the test's own collections, so counts can be asserted exactly."""
    was_enabled = gc.isenabled()
    gc.disable()
    yield
    if was_enabled:
        gc.enable()


def test_each_pause_lands_in_the_first_bucket_whose_bound_holds_it() -> None:
    # Pauses of 3 ms (gen 0), 500 ms exactly (gen 0: `le` holds its bound), 120 ms (gen 1)
    # and 4 s (gen 2).
    pauses = GcPauses(SteppedClock(10.0, 10.003, 11.0, 11.5, 12.0, 12.12, 13.0, 17.0))
    for generation in (0, 0, 1, 2):
        pauses("start", {"generation": generation})
        pauses("stop", {"generation": generation, "collected": 0, "uncollectable": 0})
    registry = CollectorRegistry()
    GcPauseCollector(registry, pauses)
    assert pauses not in gc.callbacks  # figures given are exported, not timed
    got = samples(registry)
    bucket = f"{NAME}_bucket"
    assert got[(bucket, "0", "0.001")] == 0
    assert got[(bucket, "0", "0.01")] == 1  # 3 ms
    assert got[(bucket, "0", "0.1")] == 1
    assert got[(bucket, "0", "0.5")] == 2  # and 500 ms
    assert got[(bucket, "0", "+Inf")] == 2
    assert got[(f"{NAME}_sum", "0", "")] == pytest.approx(0.503)
    assert got[(bucket, "1", "0.1")] == 0
    assert got[(bucket, "1", "0.5")] == 1
    assert got[(f"{NAME}_count", "1", "")] == 1
    assert got[(bucket, "2", "2.5")] == 0  # 4 s is past the last bound
    assert got[(bucket, "2", "+Inf")] == 1
    assert got[(f"{NAME}_sum", "2", "")] == pytest.approx(4.0)
    assert len([key for key in got if key[0] == bucket]) == 3 * (len(GC_PAUSE_BUCKETS) + 1)


def test_a_real_collection_is_timed_once_under_its_generation(
    no_automatic_collections: None,
) -> None:
    registry = new_registry()
    before = samples(registry)
    started = time.perf_counter()
    gc.collect(1)
    elapsed = time.perf_counter() - started
    after = samples(registry)
    count, total = f"{NAME}_count", f"{NAME}_sum"
    assert after[(count, "1", "")] - before[(count, "1", "")] == 1
    assert after[(count, "0", "")] == before[(count, "0", "")]
    assert after[(count, "2", "")] == before[(count, "2", "")]
    paused = after[(total, "1", "")] - before[(total, "1", "")]
    assert 0 < paused <= elapsed


def test_many_registries_share_one_callback(no_automatic_collections: None) -> None:
    first, second = new_registry(), new_registry()
    assert gc.callbacks.count(PROCESS_PAUSES) == 1
    gc.collect(2)
    key = (f"{NAME}_count", "2", "")
    assert samples(first)[key] == samples(second)[key] > 0
