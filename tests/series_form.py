"""The domain's contributions in their stored form, for tests that spell series as tuples.

`(stored name, label values with the bucket index of a histogram bucket, event time)`: the
names a reader finds in the tables (`mentions_total`, `first_response_seconds_bucket`),
derived with `processor.metrics.series.field_of`, the one owner of that form.
"""

from __future__ import annotations

from typing import Any

from processor.domain import conversation
from processor.metrics.series import Contributions, field_of

StoredKey = tuple[str, tuple[str, ...], float | None]
Stored = dict[StoredKey, float]


def stored(out: Contributions) -> Stored:
    result: Stored = {}
    for key, amount in out.items():
        name, *extra = field_of(key).split("|")
        result[(name, (*key.labels[:2], *extra), key.at)] = amount
    return result


def contributions(*args: Any, **kwargs: Any) -> Stored:
    return stored(conversation.contributions(*args, **kwargs))


def event_increments(*args: Any, **kwargs: Any) -> Stored:
    return stored(conversation.event_increments(*args, **kwargs))


def retirement(*args: Any, **kwargs: Any) -> Stored:
    return stored(conversation.retirement(*args, **kwargs))


# The domain's own difference is key-agnostic: it serves the stored form as it is.
difference = conversation.difference
