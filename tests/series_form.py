"""The domain's contributions in their stored form, for tests that spell series as tuples.

`(stored name, label values with the bucket index of a histogram bucket, event time)`: the
names a reader finds in the tables (`mentions_total`, `first_response_seconds_bucket`),
derived with `processor.metrics.series.field_of`, the one owner of that form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from processor.domain import conversation
from processor.metrics import customer_families as cf
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


# The stored fields of the families counted on the customers' side (retention).
CUSTOMER_FIELDS = frozenset(
    family.name.removeprefix("socialcare_") + "_total"
    for family in (cf.CUSTOMER_CONVERSATIONS, cf.RETURNING_CUSTOMER_CONVERSATIONS,
                   cf.CUSTOMER_RESOLUTIONS, cf.REPEAT_CONTACT_RESOLUTIONS, cf.REPEAT_CONTACTS)
)  # fmt: skip


def conversation_side(table: Mapping[str, Any], customers: bool = False) -> dict[str, Any]:
    """The records of a totals or windows table without (or with only) the retention fields."""
    out = {}
    for key, record in table.items():
        kept = {field: value for field, value in record.items()
                if (field.split("|", 1)[0] in CUSTOMER_FIELDS) == customers}  # fmt: skip
        if kept:
            out[key] = kept
    return out
