"""How long Python's cyclic garbage collector stops the process, per generation.

A collection holds the GIL while it scans the objects of the generations it collects. In a
worker catching up, the young generation holds the conversation states loaded since the
last collection, and one collection of it took 40-170 ms on the benchmark machine, about
a tenth of the worker's CPU over a backlog (docs/benchmarks.md). A pause delays every
event in flight, so it shows in `socialcare_pipeline_latency_seconds`; this family says
when the collector is why. prometheus-client's own GC collector counts collections and
objects, not how long they take (Micrometer's `jvm.gc.pause` is the model).
"""

from __future__ import annotations

import bisect
import gc
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from processor.metrics import families as f
from processor.metrics.collectors import cumulative_buckets

# Few buckets: 27 series a process, within the health series' bound (docs/metrics.md).
GC_PAUSE_BUCKETS: tuple[float, ...] = (0.001, 0.01, 0.05, 0.1, 0.5, 2.5)
GENERATIONS = (0, 1, 2)


class GcPauses:
    """Collection durations by generation, as `gc.callbacks` reports them.

    One per process (`PROCESS_PAUSES`): the callbacks are the process's, whatever the
    number of registries exporting them.
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._started = 0.0
        self.counts = {generation: [0] * (len(GC_PAUSE_BUCKETS) + 1) for generation in GENERATIONS}
        self.sums = dict.fromkeys(GENERATIONS, 0.0)

    def __call__(self, phase: str, info: Mapping[str, Any]) -> None:
        if phase == "start":
            self._started = self._clock()
            return
        seconds = self._clock() - self._started
        generation = info["generation"]
        # The first bucket whose bound is >= the pause: its `le`.
        self.counts[generation][bisect.bisect_left(GC_PAUSE_BUCKETS, seconds)] += 1
        self.sums[generation] += seconds

    def family(self) -> HistogramMetricFamily:
        family = HistogramMetricFamily(
            f.GC_PAUSE_SECONDS.name, f.GC_PAUSE_SECONDS.documentation, labels=["generation"]
        )
        for generation in GENERATIONS:
            counts = dict(enumerate(self.counts[generation]))
            buckets = cumulative_buckets(counts, GC_PAUSE_BUCKETS)
            family.add_metric([str(generation)], buckets, self.sums[generation])
        return family


PROCESS_PAUSES = GcPauses()


class GcPauseCollector(Collector):
    """Exports the process's collection pauses, timed from the first collector made on.

    `pauses`: other figures to export instead (tests); they are not timed from here.
    """

    def __init__(self, registry: CollectorRegistry, pauses: GcPauses | None = None) -> None:
        if pauses is None:
            pauses = PROCESS_PAUSES
            if pauses not in gc.callbacks:
                gc.callbacks.append(pauses)
        self._pauses = pauses
        registry.register(self)

    def describe(self) -> list[Metric]:
        return [HistogramMetricFamily(f.GC_PAUSE_SECONDS.name, f.GC_PAUSE_SECONDS.documentation)]

    def collect(self) -> Iterator[Metric]:
        yield self._pauses.family()
