"""The native thread walk against `processor.domain.thread`, the reference: the same marks
stepped into both give the same items, the same stored form after every step, and the same
ending at any horizon."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from processor.domain.thread import ThreadWalk, mark_key

CODES = st.sampled_from(["c", "c", "c", "b", "hsupport", "hbilling", "h", "r"])
# Few distinct times: ties between marks of one instant are where the order rules bite.
TIMES = st.integers(min_value=0, max_value=40).map(lambda minute: minute * 60.0)


def normalised(stored: list[Any]) -> list[Any]:
    """The stored form with the last mark's key as a list (Python keeps a tuple)."""
    return [list(value) if isinstance(value, tuple) else value for value in stored]


@st.composite
def walks(draw: st.DrawFn) -> tuple[float | None, float, list[tuple[float, str]], float]:
    opened_at = draw(st.none() | TIMES)
    inactivity = draw(st.sampled_from([0.0, 300.0, 1800.0]))
    marks = draw(st.lists(st.tuples(TIMES, CODES), max_size=30))
    horizon = draw(TIMES) + draw(st.sampled_from([0.0, 0.5, 3600.0]))
    return opened_at, inactivity, sorted(marks, key=mark_key), horizon


@settings(max_examples=400, deadline=None)
@given(walks())
def test_the_native_walk_steps_and_ends_as_the_reference(
    native: ModuleType, case: tuple[float | None, float, list[tuple[float, str]], float]
) -> None:
    opened_at, inactivity, marks, horizon = case
    reference = ThreadWalk(opened_at, inactivity)
    twin = native.ThreadWalk(opened_at, inactivity)
    for number, (at, code) in enumerate(marks):
        expected: list[Any] = []
        reference.step((at, code), expected)
        assert twin.step(at, code) == expected, (number, at, code)
        if number % 7 == 3:  # the conversation keeps stopped waits past their deadline
            reference.pending.append([at, at + 60.0, at + 120.0])
            twin.add_pending(at, at + 60.0, at + 120.0)
        assert normalised(twin.to_json()) == normalised(reference.to_json())
    ended: list[Any] = []
    end = reference.ending(horizon, ended)
    twin_end, twin_ended = twin.ending(horizon)
    assert twin_ended == ended
    assert normalised(twin_end.to_json()) == normalised(end.to_json())
    assert twin_end.awaiting_customer_since == end.awaiting_customer_since
    assert twin.first_resolution_by(horizon) == reference.first_resolution_by(horizon)
    assert twin.resolutions_by(horizon) == reference.resolutions_by(horizon)
    assert twin.walked_nothing() == reference.walked_nothing()
    # The stored form reads back the same (the reference's, read by the native walk).
    assert native.ThreadWalk.from_json(reference.to_json()) == twin


def test_a_stored_walk_from_before_the_longest_wait_reads_as_zero(native: ModuleType) -> None:
    reference = ThreadWalk(0.0, 0.0)
    for at, code in [(0.0, "c"), (60.0, "hsupport"), (120.0, "c"), (300.0, "hsupport")]:
        reference.step((at, code), [])
    stored = reference.to_json()
    assert stored[19] == 180.0
    old = stored[:19]
    assert native.ThreadWalk.from_json(old).to_json()[19] == 0.0
    assert ThreadWalk.from_json(old).longest_wait == 0.0
