"""The native tail in chunks against `processor.domain.thread_tail`, the reference: the
same appends, late inserts and settlings give the same document (chunk references, next
chunk number, open chunk), the same chunk records and the same marks stepped out."""

from __future__ import annotations

from types import ModuleType, SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from processor.domain import thread_tail
from processor.domain.thread import mark_key
from processor.domain.thread_tail import CHUNK_MARKS, MemoryChunks

CODES = st.sampled_from(["c", "c", "b", "hsupport", "hbilling", "r"])


def reference_tail() -> Any:
    """What `thread_tail` reads and writes of a conversation state."""
    return SimpleNamespace(chunks=[], next_chunk=0, tail=[], chunk_store=MemoryChunks())


def document(state: Any) -> tuple[list[tuple[Any, ...]], int, list[tuple[float, str]]]:
    return (
        [tuple(ref) for ref in state.chunks],
        state.next_chunk,
        [tuple(mark) for mark in state.tail],
    )


def records(state: Any) -> dict[int, list[tuple[float, str]]]:
    return {n: [tuple(mark) for mark in marks] for n, marks in state.chunk_store.chunks.items()}


@st.composite
def operations(draw: st.DrawFn) -> list[tuple[str, float, str]]:
    """Appends after every mark so far, inserts anywhere after the settled time, settlings
    at a rising watermark: a conversation's life in the allowed lateness."""
    done: list[tuple[str, float, str]] = []
    latest = 0.0
    settled = 0.0
    for _ in range(draw(st.integers(min_value=0, max_value=120))):
        kind = draw(st.sampled_from(["append", "append", "insert", "insert", "settle"]))
        if kind == "append":
            latest += draw(st.sampled_from([0.0, 1.0, 7.0, 30.0]))
            done.append((kind, latest, draw(CODES)))
        elif kind == "insert":
            at = draw(st.floats(min_value=settled, max_value=latest + 60.0)) // 1.0
            at = max(at, settled)
            latest = max(latest, at)
            done.append((kind, at, draw(CODES)))
        else:
            settled = draw(st.floats(min_value=settled, max_value=latest + 1.0)) // 1.0
            done.append((kind, settled, ""))
    return done


@settings(max_examples=300, deadline=None)
@given(operations())
def test_the_native_tail_keeps_the_document_and_chunks_of_the_reference(
    native: ModuleType, steps: list[tuple[str, float, str]]
) -> None:
    reference = reference_tail()
    twin = native.Tail()
    appended_max: tuple[float, int, str] | None = None
    for number, (kind, at, code) in enumerate(steps):
        if kind == "append":
            key = mark_key((at, code))
            if appended_max is not None and key < appended_max:
                kind = "insert"  # an append must come after every mark: keep the rule
        if kind == "settle":
            stepped: list[Any] = []
            thread_tail.settle(reference, at, stepped.append)
            assert twin.settle(at) == [tuple(mark) for mark in stepped], number
        else:
            key = mark_key((at, code))
            appended_max = key if appended_max is None else max(appended_max, key)
            getattr(thread_tail, kind)(reference, (at, code))
            getattr(twin, kind)(at, code)
        assert twin.stored() == document(reference), (number, kind, at, code)
        assert twin.chunks() == records(reference), number
    assert twin.marks() == [tuple(mark) for mark in thread_tail.marks(reference)]
    thread_tail.drop(reference)
    twin.drop_chunks()
    assert twin.stored() == document(reference)
    assert twin.chunks() == records(reference)


def test_a_long_thread_in_order_closes_a_chunk_every_chunk_marks(native: ModuleType) -> None:
    twin = native.Tail()
    for at in range(5 * CHUNK_MARKS + 3):
        twin.append(float(at), "c")
    chunks, next_chunk, open_chunk = twin.stored()
    assert [ref[3] for ref in chunks] == [CHUNK_MARKS] * 5
    assert next_chunk == 5 and len(open_chunk) == 3


@given(st.randoms(use_true_random=False))
@settings(max_examples=50, deadline=None)
def test_a_closed_chunk_split_by_late_marks_splits_as_the_reference(
    native: ModuleType, rng: Any
) -> None:
    # Forty late marks into the first closed chunk's range: it splits past twice
    # CHUNK_MARKS, and its halves take more late marks (the path random lives reach
    # rarely).
    reference = reference_tail()
    twin = native.Tail()
    for at in range(2 * CHUNK_MARKS + 4):
        thread_tail.append(reference, (at * 10.0, "c"))
        twin.append(at * 10.0, "c")
    late = [(rng.randrange(0, CHUNK_MARKS * 10) + 0.5, rng.choice(["b", "hx", "r"]))
            for _ in range(40)]  # fmt: skip
    for at, code in late:
        thread_tail.insert(reference, (at, code))
        twin.insert(at, code)
        assert twin.stored() == document(reference)
        assert twin.chunks() == records(reference)
    assert len(reference.chunks) >= 3  # the first chunk split
    stepped: list[Any] = []
    thread_tail.settle(reference, CHUNK_MARKS * 10.0 + 5, stepped.append)
    assert twin.settle(CHUNK_MARKS * 10.0 + 5) == [tuple(mark) for mark in stepped]
    assert twin.stored() == document(reference)
