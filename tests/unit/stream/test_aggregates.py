"""The aggregates against a plain reference: every key of every change on its own.

`Aggregates.add` finds the records of a change once per (brand, channel) and per event time,
not once per key; the reference below looks each key's records up afresh, in the most
direct way, and the tables must come out the same.
"""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from processor.metrics import families as f
from processor.metrics.series import Contributions, SeriesKey, count, field_of, observe
from processor.metrics.windows import BUCKET_SIZES, bucket_start, retention_seconds
from processor.stream.aggregates import Aggregates

LATENESS = 600.0
NOW = 1_700_006_000.0


def _reference(changes: list[tuple[int, Contributions, float]]) -> tuple[dict, dict]:
    """Sums per record field, rounded to the microunit, fields back at zero left out."""
    totals: dict[str, dict[str, float]] = {}
    windows: dict[str, dict[str, float]] = {}

    def add(table: dict[str, dict[str, float]], record: str, key: SeriesKey, amount: float) -> None:
        fields = table.setdefault(record, {})
        fields[field_of(key)] = round(fields.get(field_of(key), 0.0) + amount, 6)

    for partition, delta, window_now in changes:
        for key, amount in delta.items():
            brand, channel = key.labels[0], key.labels[1]
            add(totals, orjson.dumps([partition, brand, channel]).decode(), key, amount)
            if key.at is None or key.family not in f.WINDOW_FAMILIES:
                continue
            for size in BUCKET_SIZES:
                start = key.at - key.at % size
                assert start == bucket_start(key.at, size)
                if start >= window_now - retention_seconds(size, LATENESS):
                    record = orjson.dumps([partition, brand, channel, size, start]).decode()
                    add(windows, record, key, amount)
    for table in (totals, windows):
        for record in table.values():
            for name in [name for name, value in record.items() if value == 0.0]:
                del record[name]
    return totals, windows


PAIRS = [("acme", "twitter"), ("acme", "facebook"), ("globex", "twitter")]
amounts = st.sampled_from([1.0, -1.0, 2.0, 0.25, 12.345, -12.345])
times = st.sampled_from([NOW - 90_000, NOW - 7_200, NOW - 3_000, NOW - 60, NOW])


@st.composite
def a_change(draw: st.DrawFn) -> tuple[int, Contributions, float]:
    delta: Contributions = {}
    for _ in range(draw(st.integers(1, 8))):
        brand, channel = draw(st.sampled_from(PAIRS))
        kind = draw(st.integers(0, 2))
        if kind == 0:  # a windowed counter at an event time
            key = count(f.MENTIONS, (brand, channel), draw(times))
            delta[key] = delta.get(key, 0.0) + draw(amounts)
        elif kind == 1:
            key = count(f.REPLIES, (brand, channel, draw(st.sampled_from(["human", "bot"]))))
            delta[key] = delta.get(key, 0.0) + draw(amounts)
        else:
            observe(delta, f.FIRST_RESPONSE_SECONDS, (brand, channel, "normal"), draw(amounts))
    return draw(st.integers(0, 1)), delta, NOW + draw(st.sampled_from([0.0, 3_600.0, 90_000.0]))


@settings(max_examples=200, deadline=None)
@given(st.lists(a_change(), min_size=1, max_size=12), st.integers(1, 5))
def test_the_aggregates_are_the_sums_of_every_key(
    changes: list[tuple[int, Contributions, float]], flush_every: int
) -> None:
    aggregates = Aggregates({}, {}, LATENESS)
    for number, (partition, delta, window_now) in enumerate(changes):
        aggregates.add(partition, delta, window_now)
        if number % flush_every == 0:
            aggregates.flush()
    aggregates.flush()
    totals, windows = _reference(changes)
    # A record whose series all came back to zero stays, empty (the scrape skips it).
    assert aggregates.totals == totals
    assert aggregates.windows == windows
