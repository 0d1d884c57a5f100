"""The tail of a conversation's thread, in chunks, so that a write costs the same at any length.

The tail holds the marks (posts, resolutions) an event inside the allowed lateness could
still reorder. A viral thread may have thousands of them within one lateness; written
with the conversation's document at every change, they would make each event's changelog
record grow with the thread. So the document keeps only the open chunk (the latest marks,
at most `CHUNK_MARKS` of them) and a reference per closed chunk; a closed chunk is its own
record, written when it closes and rewritten only when an event out of order lands in it.

- An event after every mark (the common case): appended to the open chunk; every
  `CHUNK_MARKS` events one chunk record: constant bytes per event.
- An event out of order: read the chunks (replay needs the whole tail anyway), insert into
  the one whose range holds it, rewrite that one (split in two past twice the size).
- Settling: a closed chunk whose marks are all older than the watermark (the next chunk
  starts before it) is read once, stepped into the settled walk and deleted.

Chunk ranges: closed chunk i holds the marks from its first key up to the next chunk's
first key; the open chunk holds the marks from its first key on.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from processor.domain.thread import Mark, mark_key

if TYPE_CHECKING:
    from processor.domain.conversation import ConversationState

CHUNK_MARKS = 16

# A closed chunk's reference in the document: [first mark's time, its code, number, marks].
ChunkRef = list[Any]


class ChunkStore(Protocol):
    """Where a conversation's closed chunks live (the worker: a table in the changelog)."""

    def read(self, number: int) -> list[Mark]: ...

    def write(self, number: int, marks: list[Mark]) -> None: ...

    def delete(self, number: int) -> None: ...


class MemoryChunks:
    """Chunks in a dict: a state that no table backs (unit tests, the micro benchmark)."""

    def __init__(self) -> None:
        self.chunks: dict[int, list[Mark]] = {}

    def read(self, number: int) -> list[Mark]:
        return list(self.chunks[number])

    def write(self, number: int, marks: list[Mark]) -> None:
        self.chunks[number] = list(marks)

    def delete(self, number: int) -> None:
        self.chunks.pop(number, None)


def _ref_key(ref: ChunkRef) -> tuple[float, int, str]:
    return mark_key((ref[0], ref[1]))


def marks(state: ConversationState) -> Iterator[Mark]:
    """Every mark of the tail in walk order (reads the closed chunks)."""
    for ref in state.chunks:
        yield from state.chunk_store.read(ref[2])
    yield from state.tail


def append(state: ConversationState, mark: Mark) -> None:
    """A mark after every mark of the tail; the open chunk closes when it is full."""
    state.tail.append(mark)
    if len(state.tail) >= CHUNK_MARKS:
        _close(state)


def _close(state: ConversationState) -> None:
    tail = state.tail
    number = state.next_chunk
    state.next_chunk += 1
    state.chunk_store.write(number, tail)
    state.chunks.append([tail[0][0], tail[0][1], number, len(tail)])
    state.tail = []


def insert(state: ConversationState, mark: Mark) -> None:
    """A mark anywhere in the tail."""
    key = mark_key(mark)
    chunks = state.chunks
    if not chunks or (state.tail and key >= mark_key(state.tail[0])):
        bisect.insort(state.tail, mark, key=mark_key)
        if len(state.tail) >= 2 * CHUNK_MARKS:
            _close(state)
        return
    index = max(0, bisect.bisect_right([_ref_key(ref) for ref in chunks], key) - 1)
    ref = chunks[index]
    store = state.chunk_store
    held = store.read(ref[2])
    bisect.insort(held, mark, key=mark_key)
    if len(held) <= 2 * CHUNK_MARKS:
        store.write(ref[2], held)
        chunks[index] = [held[0][0], held[0][1], ref[2], len(held)]
        return
    half = len(held) // 2
    number = state.next_chunk
    state.next_chunk += 1
    store.write(ref[2], held[:half])
    store.write(number, held[half:])
    chunks[index : index + 1] = [
        [held[0][0], held[0][1], ref[2], half],
        [held[half][0], held[half][1], number, len(held) - half],
    ]


def settle(state: ConversationState, watermark: float, step: Callable[[Mark], None]) -> None:
    """Step the marks older than `watermark` that may leave the tail, in order, and drop them.

    A closed chunk leaves once the next chunk starts before the watermark (so all of it is
    older); the open chunk's old marks leave once no closed chunk is left before them.
    """
    chunks = state.chunks
    store = state.chunk_store
    while chunks:
        if len(chunks) > 1:
            boundary: float | None = chunks[1][0]
        else:
            boundary = state.tail[0][0] if state.tail else None
        if boundary is None or boundary >= watermark:
            return
        ref = chunks.pop(0)
        for mark in store.read(ref[2]):
            step(mark)
        store.delete(ref[2])
    tail = state.tail
    settled_count = bisect.bisect_left(tail, watermark, key=lambda mark: mark[0])
    for mark in tail[:settled_count]:
        step(mark)
    del tail[:settled_count]


def drop(state: ConversationState) -> None:
    """Delete the closed chunks (the conversation is forgotten)."""
    for ref in state.chunks:
        state.chunk_store.delete(ref[2])
    state.chunks = []
