"""Offset gaps noted for Faust's commit without re-merging the tree per gap
(`processor.stream.fetch.add_gap`), against Faust's own `_add_gap` as the reference."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from intervaltree import IntervalTree

from processor.stream.fetch import add_gap


def faust_add_gap(gaps: IntervalTree, committed: int | None, first: int, last: int) -> None:
    """faust/transport/consumer.py `Consumer._add_gap`, without its yield to the loop."""
    if committed is not None:
        first = max(first, committed + 1)
    if first <= last:
        gaps.addi(first, last + 1)
        gaps.merge_overlaps()


def covered(gaps: IntervalTree) -> list[int]:
    """The offsets as Faust's commit reads them (`_new_offset`): each interval's range, in
    order of their start; an offset twice would be acknowledged twice."""
    return [offset for gap in sorted(gaps, key=lambda gap: gap.begin)
            for offset in range(gap.begin, gap.end)]  # fmt: skip


def test_gaps_in_offset_order_are_kept_as_they_come() -> None:
    gaps = IntervalTree()
    for marker in (11, 22, 33):  # a transaction marker after every ten records
        add_gap(gaps, committed=None, first=marker, last=marker)
    assert covered(gaps) == [11, 22, 33]
    assert len(gaps) == 3


def test_a_gap_at_or_below_the_committed_offset_is_not_noted() -> None:
    gaps = IntervalTree()
    add_gap(gaps, committed=40, first=35, last=40)
    assert len(gaps) == 0
    add_gap(gaps, committed=40, first=38, last=45)
    assert covered(gaps) == [41, 42, 43, 44, 45]


def test_a_gap_read_again_after_a_seek_back_is_merged_not_doubled() -> None:
    gaps = IntervalTree()
    add_gap(gaps, committed=None, first=10, last=12)
    add_gap(gaps, committed=None, first=11, last=14)  # the same stretch, read again wider
    assert covered(gaps) == [10, 11, 12, 13, 14]
    assert len(gaps) == 1


@given(
    st.lists(
        st.tuples(st.integers(0, 60), st.integers(0, 8), st.one_of(st.none(), st.integers(0, 40))),
        max_size=25,
    )
)
def test_the_same_offsets_as_faust_and_never_one_twice(
    calls: list[tuple[int, int, int | None]],
) -> None:
    ours, faust = IntervalTree(), IntervalTree()
    for first, length, committed in calls:
        add_gap(ours, committed, first, first + length)
        faust_add_gap(faust, committed, first, first + length)
        assert covered(ours) == covered(faust)
