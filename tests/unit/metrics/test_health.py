"""The worker's own health numbers, told a batch at a time, against prometheus-client's own."""

from __future__ import annotations

import random

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from processor.metrics import families as f
from processor.metrics.health import BatchHistogram, HealthMetrics, new_registry


def test_batch_histogram_exposes_what_prometheus_client_histogram_does() -> None:
    """Same values, one `observe` each into prometheus-client's Histogram, in two batches
    (and an empty one) into ours: the same exposition, bound for bound (a value on a bound
    counts in it, `le`)."""
    bounds = f.PIPELINE_LATENCY_BUCKETS
    rng = random.Random(7)
    values = [rng.choice(bounds) for _ in range(50)] + [rng.uniform(0, 2 * bounds[-1])
                                                        for _ in range(450)]  # fmt: skip
    ours_registry = new_registry()
    ours = BatchHistogram(f.PIPELINE_LATENCY_SECONDS, bounds, ours_registry)
    ours.observe_many(values[:123])
    ours.observe_many([])
    ours.observe_many(values[123:])
    reference_registry = CollectorRegistry()
    reference = Histogram(
        f.PIPELINE_LATENCY_SECONDS.name, f.PIPELINE_LATENCY_SECONDS.documentation,
        buckets=bounds, registry=reference_registry,
    )  # fmt: skip
    for value in values:
        reference.observe(value)

    def samples(registry: CollectorRegistry) -> list[str]:
        page = generate_latest(registry).decode()
        return [line for line in page.splitlines()
                if line.startswith(f.PIPELINE_LATENCY_SECONDS.name)
                and not line.startswith(f"{f.PIPELINE_LATENCY_SECONDS.name}_created")]  # fmt: skip

    ours_lines, reference_lines = samples(ours_registry), samples(reference_registry)
    name = f.PIPELINE_LATENCY_SECONDS.name
    # the sum adds batch sums: equal up to float rounding, not bit for bit
    sums = [float(line.split()[1]) for line in (*ours_lines, *reference_lines)
            if line.startswith(f"{name}_sum")]  # fmt: skip
    assert len(sums) == 2 and sums[0] == pytest.approx(sums[1], rel=1e-12)
    assert sums[0] == pytest.approx(sum(values), rel=1e-12)
    assert [line for line in ours_lines if not line.startswith(f"{name}_sum")] == [
        line for line in reference_lines if not line.startswith(f"{name}_sum")
    ]
    assert f"{name}_count 500.0" in ours_lines


def test_health_counts_a_batch_of_outcomes_and_latencies() -> None:
    registry = new_registry()
    health = HealthMetrics(registry)
    health.processed_counts({("mention", "counted"): 3, ("reply", "duplicate"): 2})
    health.processed("mention", "counted")
    health.observe_events([100.0, 250.0, 175.0], [None, 1e12, None])
    assert registry.get_sample_value(
        "socialcare_events_processed_total", {"type": "mention", "outcome": "counted"}
    ) == 4.0  # fmt: skip
    assert registry.get_sample_value(
        "socialcare_events_processed_total", {"type": "reply", "outcome": "duplicate"}
    ) == 2.0  # fmt: skip
    assert registry.get_sample_value("socialcare_event_time_lag_seconds_count") == 3.0
    # produced in the future: latency clamped at 0, one observation (the others had no time)
    assert registry.get_sample_value("socialcare_pipeline_latency_seconds_count") == 1.0
    assert registry.get_sample_value("socialcare_pipeline_latency_seconds_sum") == 0.0
    assert registry.get_sample_value("socialcare_last_event_timestamp_seconds") == 250.0
