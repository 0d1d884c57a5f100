"""What the benchmark reads from the worker's /metrics: the processed counters, the latency
histogram, and PromQL's histogram_quantile to turn the histogram into percentiles.

The worker's own exposition is the measure: it counts what was processed, not what was
read, and its latency histogram is what a dashboard would show.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiohttp
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

PROCESSED = "socialcare_events_processed"
LATENCY = "socialcare_pipeline_latency_seconds"
CHANGELOG_BYTES = "socialcare_state_changelog_bytes"
CHANGELOG_RECORDS = "socialcare_state_changelog_records"
WRITE_WAIT = "socialcare_state_write_wait_seconds"
OWNED = "socialcare_owned_partitions"
GC_PAUSE = "socialcare_gc_pause_seconds"
BATCH_RECORDS = "socialcare_pipeline_batch_records"


# What a progress probe asks for: sample names, as `name[]` filters them.
_SAMPLES = (
    f"{PROCESSED}_total",
    f"{CHANGELOG_BYTES}_total",
    f"{CHANGELOG_RECORDS}_total",
    f"{WRITE_WAIT}_total",
    OWNED,
    f"{GC_PAUSE}_sum",
    f"{BATCH_RECORDS}_sum",
    f"{BATCH_RECORDS}_count",
    *(f"{LATENCY}{suffix}" for suffix in ("_bucket", "_sum", "_count")),
)


@dataclass
class Snapshot:
    """What the benchmark reads from one scrape of the worker's /metrics."""

    processed: dict[tuple[str, str], float] = field(default_factory=dict)
    latency_buckets: dict[float, float] = field(default_factory=dict)  # le -> cumulative count
    latency_sum: float = 0.0
    latency_count: float = 0.0
    changelog_bytes: float = 0.0
    changelog_records: float = 0.0
    write_wait_seconds: float = 0.0
    owned_partitions: float = 0.0
    gc_pause_seconds: float = 0.0  # every generation's, since the worker's exporter started
    batches: float = 0.0  # the pipeline's batches, and the records they held
    batch_records: float = 0.0

    @property
    def processed_total(self) -> float:
        return sum(self.processed.values())

    def outcomes(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for (_, outcome), value in self.processed.items():
            totals[outcome] = totals.get(outcome, 0.0) + value
        return totals


def parse_metrics(text: str) -> Snapshot:
    """The processed counters, the pipeline latency histogram, the changelog counters (and
    the time spent waiting for its writes), the partitions owned, the garbage collector's
    pauses and the batches' sizes, from an exposition text."""
    wanted = (PROCESSED, LATENCY, CHANGELOG_BYTES, CHANGELOG_RECORDS, WRITE_WAIT, OWNED, GC_PAUSE,
              BATCH_RECORDS)  # fmt: skip
    lines = [
        line
        for line in text.splitlines()
        if line.startswith(wanted) or (line.startswith("#") and any(w in line for w in wanted))
    ]
    snapshot = Snapshot()
    for family in text_string_to_metric_families("\n".join(lines) + "\n"):
        if family.name == PROCESSED:
            for sample in family.samples:
                if sample.name == f"{PROCESSED}_total":
                    key = (sample.labels.get("type", ""), sample.labels.get("outcome", ""))
                    snapshot.processed[key] = snapshot.processed.get(key, 0.0) + sample.value
        elif family.name == LATENCY:
            for sample in family.samples:
                if sample.name == f"{LATENCY}_bucket":
                    snapshot.latency_buckets[float(sample.labels["le"])] = sample.value
                elif sample.name == f"{LATENCY}_sum":
                    snapshot.latency_sum = sample.value
                elif sample.name == f"{LATENCY}_count":
                    snapshot.latency_count = sample.value
        elif family.name == CHANGELOG_BYTES:
            snapshot.changelog_bytes = _total(family)
        elif family.name == CHANGELOG_RECORDS:
            snapshot.changelog_records = _total(family)
        elif family.name == WRITE_WAIT:
            snapshot.write_wait_seconds = _total(family)
        elif family.name == OWNED:
            snapshot.owned_partitions = sum(s.value for s in family.samples)
        elif family.name == BATCH_RECORDS:
            for sample in family.samples:
                if sample.name == f"{BATCH_RECORDS}_count":
                    snapshot.batches = sample.value
                elif sample.name == f"{BATCH_RECORDS}_sum":
                    snapshot.batch_records = sample.value
        elif family.name == GC_PAUSE:
            snapshot.gc_pause_seconds = sum(
                sample.value for sample in family.samples if sample.name == f"{GC_PAUSE}_sum"
            )
    return snapshot


def _total(family: Metric) -> float:
    """A counter family's `_total` samples summed (not `_created`, should it be there)."""
    return sum(sample.value for sample in family.samples if sample.name.endswith("_total"))


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float:
    """PromQL histogram_quantile over cumulative (le, count) buckets, +Inf last.

    Linear interpolation inside the bucket holding the rank; the first bucket starts at 0;
    a rank in the +Inf bucket returns the highest finite bound. NaN without observations.
    """
    ordered = sorted(buckets)
    if len(ordered) < 2 or not math.isinf(ordered[-1][0]) or math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    total = ordered[-1][1]
    if total <= 0:
        return math.nan
    rank = q * total
    index = next(i for i, (_, count) in enumerate(ordered) if count >= rank)
    if index == len(ordered) - 1:
        return ordered[-2][0]
    if index == 0 and ordered[0][0] <= 0:
        return ordered[0][0]
    lower, below = (0.0, 0.0) if index == 0 else ordered[index - 1]
    upper, count = ordered[index]
    in_bucket = count - below
    if in_bucket <= 0:
        return upper
    return lower + (upper - lower) * ((rank - below) / in_bucket)


def bucket_difference(before: Snapshot, after: Snapshot) -> list[tuple[float, float]]:
    """The histogram of what was observed between two scrapes (cumulative counts)."""
    return sorted(
        (le, count - before.latency_buckets.get(le, 0.0))
        for le, count in after.latency_buckets.items()
    )


def max_bucket(buckets: Sequence[tuple[float, float]]) -> float:
    """Smallest `le` holding every observation: the maximum latency is at most this."""
    ordered = sorted(buckets)
    total = ordered[-1][1] if ordered else 0.0
    return next((le for le, count in ordered if count >= total), math.inf)


class MetricsClient:
    """Scrapes the worker's /metrics and keeps the cost of the scrapes."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/metrics"
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self.scrape_seconds: list[float] = []

    async def close(self) -> None:
        await self._session.close()

    async def scrape(self, whole: bool = False) -> Snapshot | None:
        """A snapshot, or None while the worker does not answer yet.

        Only the two families read here (`?name[]=`), unless `whole`: a whole scrape costs
        the worker what Prometheus's does (every business series), so the benchmark makes
        one only as often as Prometheus would and keeps its duration.
        """
        started = time.perf_counter()
        params = None if whole else [("name[]", name) for name in _SAMPLES]
        try:
            async with self._session.get(self.url, params=params) as response:
                if response.status != 200:
                    return None
                text = await response.text()
        except (TimeoutError, aiohttp.ClientError, OSError):
            return None
        if whole:
            self.scrape_seconds.append(time.perf_counter() - started)
        return parse_metrics(text)
