"""Event-time windows ("last 5m / 1h / 24h") summed from tumbling buckets: pure arithmetic.

Windowed counters are kept per tumbling bucket of event time (1 and 15 minutes); a window
is the sum of the buckets it covers, ending at the partition's "now". Faust's own windowed
tables expire by wall clock, which would delete replayed history, hence this.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# Tumbling bucket sizes, and which one each sliding window is summed from.
FINE_BUCKET_SECONDS = 60.0
COARSE_BUCKET_SECONDS = 900.0
WINDOWS: Mapping[str, tuple[float, float]] = {
    "5m": (300.0, FINE_BUCKET_SECONDS),
    "1h": (3600.0, FINE_BUCKET_SECONDS),
    "24h": (86400.0, COARSE_BUCKET_SECONDS),
}
BUCKET_SIZES = (FINE_BUCKET_SECONDS, COARSE_BUCKET_SECONDS)


def retention_seconds(bucket_size: float, allowed_lateness: float) -> float:
    """How long a bucket must be kept: its longest window, late events and one bucket."""
    longest = max(window for window, size in WINDOWS.values() if size == bucket_size)
    return longest + allowed_lateness + bucket_size


def bucket_start(at: float, size: float) -> float:
    """Start of the tumbling bucket of `size` seconds that holds event time `at`."""
    return at - (at % size)


def window_covers(bucket: float, size: float, window: float, now: float) -> bool:
    """True if the tumbling bucket starting at `bucket` belongs to the window ending at now.

    A window of W seconds is the current bucket and the W/size - 1 before it, so it
    covers between W - size and W seconds of event time; nothing after `now` counts.
    """
    current = bucket_start(now, size)
    return current - window + size <= bucket <= current


# Bucket size -> the windows (name, length) made of buckets of that size.
_WINDOWS_BY_SIZE: dict[float, tuple[tuple[str, float], ...]] = {
    size: tuple((window, length) for window, (length, of) in WINDOWS.items() if of == size)
    for size in {size for _, size in WINDOWS.values()}
}


def covering_windows(start: float, size: float, now: float) -> list[str]:
    """The windows that hold the bucket of `size` starting at `start`, at `now`."""
    current = bucket_start(now, size)
    return [
        window
        for window, length in _WINDOWS_BY_SIZE.get(size, ())
        if current - length + size <= start <= current
    ]


def sum_windows(
    buckets: Iterable[tuple[float, float, Mapping[str, float]]], now: float
) -> dict[str, dict[str, float]]:
    """Sum (bucket start, bucket size, series values) into {window: {series field: total}}."""
    totals: dict[str, dict[str, float]] = {window: {} for window in WINDOWS}
    for start, size, values in buckets:
        for window in covering_windows(start, size, now):
            into = totals[window]
            for key, amount in values.items():
                into[key] = into.get(key, 0.0) + amount
    return totals
