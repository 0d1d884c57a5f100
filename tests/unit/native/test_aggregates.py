"""The native records' arithmetic against `processor.metrics.series.add_to_field`, the
reference: Python's `round(x, 6)` to the bit (ties to even on the exact binary value), and
the same record after the same additions (counts, money in cents, seconds in
milliseconds, and their removals)."""

from __future__ import annotations

import math
from types import ModuleType

from hypothesis import given, settings
from hypothesis import strategies as st

from processor.metrics.series import add_to_field

FINITE = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)
# Exact ties at six decimals: odd multiples of 1/128 (and their scaled kin).
TIES = st.builds(lambda k, e: (2 * k + 1) / 2.0 ** e, st.integers(-10_000, 10_000),
                 st.integers(7, 12))  # fmt: skip


@settings(max_examples=2000, deadline=None)
@given(FINITE | TIES)
def test_round6_is_python_s_round(native: ModuleType, value: float) -> None:
    expected = round(value, 6)
    found = native.round6(value)
    assert found == expected and math.copysign(1, found) == math.copysign(1, expected), value


AMOUNTS = (
    st.sampled_from([1.0, -1.0, 2.0])
    | st.integers(-99_999, 99_999).map(lambda cents: cents / 100)
    | st.integers(-9_999_999, 9_999_999).map(lambda ms: ms / 1000)
)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), AMOUNTS), max_size=40))
def test_a_record_adds_up_as_the_reference(
    native: ModuleType, changes: list[tuple[str, float]]
) -> None:
    record: dict[str, float] = {}
    for field, amount in changes:
        add_to_field(record, field, amount)
    # Changes and their removals: the record empties where the reference's does.
    undone = [*changes, *((field, -amount) for field, amount in changes)]
    emptied: dict[str, float] = {}
    for field, amount in undone:
        add_to_field(emptied, field, amount)
    assert native.added_up(changes) == record
    assert native.added_up(undone) == emptied
