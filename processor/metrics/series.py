"""The series key: which additive number a change goes to, and how it is stored.

One typed key from the domain to the exposition: the domain says what changed
(`SeriesKey`), the aggregates store it under a flat string field inside a per
(partition, brand, channel) record, the collectors read it back as a `SeriesKey`. This
module alone knows the stored forms (`field_of`, `parse_field`, the table keys), so a
family name that is not declared fails here, at the first event, not at scrape time.
"""

from __future__ import annotations

import bisect
import functools
from typing import Any, Literal, NamedTuple

import orjson

from processor.errors import SocialcareError
from processor.metrics.families import BUSINESS_FAMILIES, HISTOGRAM_BOUNDS, Family, HistogramPart

Part = HistogramPart | Literal[""]


class UnknownSeries(SocialcareError, ValueError):
    """A stored field names no declared family (state written by another version)."""


class SeriesKey(NamedTuple):
    """One additive number: a family's series, and for windowed series its event time.

    `labels` are the values of the family's labels in order, histograms without `le`;
    a histogram has three parts: `bucket` (with the bucket's index; len(bounds) is +Inf),
    `sum` and `count`.
    """

    family: str
    labels: tuple[str, ...]
    at: float | None = None
    part: Part = ""
    bucket: int = -1


Contributions = dict[SeriesKey, float]


def bucket_index(bounds: tuple[float, ...], value: float) -> int:
    """Index of the first bucket whose upper bound is >= value (len(bounds) means +Inf)."""
    return bisect.bisect_left(bounds, value)


def count(family: Family, labels: tuple[str, ...], at: float | None = None) -> SeriesKey:
    """The key of a counter or gauge series (at: event time, for windowed counters)."""
    if at is None:
        return _series_key(family.name, labels)
    return SeriesKey(family.name, labels, at)


@functools.lru_cache(maxsize=65536)
def _series_key(name: str, labels: tuple[str, ...]) -> SeriesKey:
    return SeriesKey(name, labels)


@functools.lru_cache(maxsize=65536)
def _histogram_keys(
    name: str, labels: tuple[str, ...]
) -> tuple[tuple[SeriesKey, ...], SeriesKey, SeriesKey]:
    """A histogram series' bucket, sum and count keys, made once (a conversation's
    contributions observe the same few series again and again)."""
    buckets = tuple(
        SeriesKey(name, labels, None, "bucket", index)
        for index in range(len(HISTOGRAM_BOUNDS[name]) + 1)
    )
    return buckets, SeriesKey(name, labels, None, "sum"), SeriesKey(name, labels, None, "count")


def observe(out: Contributions, family: Family, labels: tuple[str, ...], value: float) -> None:
    """Add one observation of a histogram family: its bucket, sum and count."""
    name = family.name
    buckets, total, observed = _histogram_keys(name, labels)
    bucket = buckets[bucket_index(HISTOGRAM_BOUNDS[name], value)]
    out[bucket] = out.get(bucket, 0.0) + 1.0
    out[total] = out.get(total, 0.0) + value
    out[observed] = out.get(observed, 0.0) + 1.0


# -- stored forms ------------------------------------------------------------------------------

# The stored name of each family part: counters as exposed (`mentions_total`), histogram
# parts with their suffix, gauges bare; without the prefix, to keep changelog records short.
_STORED: dict[tuple[str, Part], str] = {}
for _family in BUSINESS_FAMILIES:
    _short = _family.name.removeprefix("socialcare_")
    if _family.kind == "histogram":
        for _part in ("bucket", "sum", "count"):
            _STORED[(_family.name, _part)] = f"{_short}_{_part}"
    elif _family.kind == "counter":
        _STORED[(_family.name, "")] = _short + "_total"
    else:
        _STORED[(_family.name, "")] = _short
_PARSED: dict[str, tuple[str, Part]] = {stored: key for key, stored in _STORED.items()}


@functools.lru_cache(maxsize=65536)
def _stored_name(family: str, part: Part) -> str:
    try:
        return _STORED[(family, part)]
    except KeyError:
        raise UnknownSeries(f"{family} {part or ''} is not a declared business family") from None


def field_of(key: SeriesKey) -> str:
    """The series' field inside a (partition, brand, channel) record: without those two."""
    if key.at is not None:
        return _field(key.family, key.labels, key.part, key.bucket)
    return _field_of_key(key)


@functools.lru_cache(maxsize=65536)
def _field_of_key(key: SeriesKey) -> str:
    """Looked up by the key itself: the aggregates ask for every key of every event."""
    return _field(key.family, key.labels, key.part, key.bucket)


@functools.lru_cache(maxsize=65536)
def _field(family: str, labels: tuple[str, ...], part: Part, bucket: int) -> str:
    extra = labels[2:]
    if part == "bucket":
        extra = (*extra, str(bucket))
    return "|".join((_stored_name(family, part), *extra))


def parse_field(brand: str, channel: str, field: str) -> SeriesKey:
    """The key of a stored field (no event time: records are per time bucket already)."""
    family, extra, part, bucket = parse_stored(field)
    return SeriesKey(family, (brand, channel, *extra), None, part, bucket)


@functools.lru_cache(maxsize=65536)
def parse_stored(field: str) -> tuple[str, tuple[str, ...], Part, int]:
    """(family, label values after brand and channel, part, bucket index) of a stored field.

    Cached: every scrape reads every field of every record again, and the fields are few
    (the catalogue's series of a brand and channel).
    """
    stored, *extra = field.split("|")
    parsed = _PARSED.get(stored)
    if parsed is None:
        raise UnknownSeries(f"stored series {stored!r} is not a declared business family")
    family, part = parsed
    if part == "bucket":
        return family, tuple(extra[:-1]), part, int(extra[-1])
    return family, tuple(extra), part, -1


def add_into(record: dict[str, float], key: SeriesKey, amount: float) -> None:
    """Add an amount to a series of a record; a series back at zero leaves the record."""
    add_to_field(record, field_of(key), amount)


def add_to_field(record: dict[str, float], field: str, amount: float) -> None:
    """`add_into` with the series' field known (`field_of`)."""
    # Rounded to the microunit: amounts (counts, seconds with milliseconds, money with
    # cents) then add up to the same value in any order, and a sum back at zero is zero.
    # A whole number (most sums are counts) is its own rounding: round() costs ten times
    # the test.
    value = record.get(field, 0.0) + amount
    if value % 1.0:
        value = round(value, 6)
    if value == 0.0:
        record.pop(field, None)
    else:
        record[field] = value


@functools.lru_cache(maxsize=65536)
def totals_key(partition: int, brand: str, channel: str) -> str:
    """Key of the all-time record of a (partition, brand, channel) in the totals table."""
    return orjson.dumps([partition, brand, channel]).decode()


@functools.lru_cache(maxsize=65536)
def window_key(partition: int, brand: str, channel: str, size: float, start: float) -> str:
    """Key of one tumbling time bucket's record in the windows table."""
    return orjson.dumps([partition, brand, channel, size, start]).decode()


@functools.lru_cache(maxsize=1 << 17)
def parse_table_key(key: str) -> tuple[Any, ...]:
    """(partition, brand, channel) or (partition, brand, channel, size, start).

    Cached: every scrape reads every key of the aggregates again, and their set changes
    slowly (a few new window buckets a minute).
    """
    return tuple(orjson.loads(key))


def partition_of(key: str) -> int:
    """The input partition a totals or windows key belongs to (its changelog partition)."""
    return int(parse_table_key(key)[0])
