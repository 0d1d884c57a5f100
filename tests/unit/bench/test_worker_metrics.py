"""What the benchmark reads from a worker's page: here, the collector's pauses and the
batches' sizes."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from benchmarks.worker_metrics import parse_metrics
from processor.metrics.gc_pauses import GcPauseCollector, GcPauses
from processor.metrics.health import HealthMetrics


def test_the_pauses_of_every_generation_add_up() -> None:
    # 20 ms of generation 0, 300 ms of generation 2.
    instants = iter((1.0, 1.02, 5.0, 5.3))
    pauses = GcPauses(lambda: next(instants))
    for generation in (0, 2):
        pauses("start", {"generation": generation})
        pauses("stop", {"generation": generation})
    registry = CollectorRegistry()
    GcPauseCollector(registry, pauses)
    snapshot = parse_metrics(generate_latest(registry).decode())
    assert snapshot.gc_pause_seconds == pytest.approx(0.32)


def test_the_batches_and_their_records_are_read() -> None:
    registry = CollectorRegistry()
    health = HealthMetrics(registry)
    for records in (3, 150, 147):
        health.batch_records.observe_many((records,))
    snapshot = parse_metrics(generate_latest(registry).decode())
    assert (snapshot.batches, snapshot.batch_records) == (3.0, 300.0)
