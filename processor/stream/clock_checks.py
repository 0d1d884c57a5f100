"""When the clock alone will next change each conversation of a partition: a heap of
(time, conversation id), with a few entries per conversation.

A conversation's next check moves with almost every event (a reply pushes it to the
inactivity deadline a day ahead, a customer post brings it back to the next response
deadline), and a heap cannot move an entry. Pushing an entry at every store kept one per
event within the checks' horizon: a day of events, 1,100 for a 2,000-post thread. Here a
store pushes only when its check comes before the conversation's earliest entry still in
the heap; a later check waits behind that entry, and when it comes due the caller finds
the stored check later and puts it back (one entry). Knowing the earliest entry of each
conversation costs a dict entry per conversation; comparing with the check stored before
instead (no dict) still pushed at every step back, one per customer post of a long thread.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator


class ClockChecks:
    """One partition's conversations by their next clock check. Entries may be early (the
    caller compares the conversation's stored check when its entry comes due), never late:
    a conversation stored with a check has an entry at or before it until that entry comes
    out."""

    __slots__ = ("_earliest", "_heap")

    def __init__(self, entries: Iterable[tuple[float, str]] = ()) -> None:
        self._heap = list(entries)
        heapq.heapify(self._heap)
        # conversation id -> its earliest entry in the heap (absent: it came out, or the
        # conversation has none)
        self._earliest: dict[str, float] = {}
        for at, conversation_id in self._heap:
            earliest = self._earliest.get(conversation_id)
            if earliest is None or at < earliest:
                self._earliest[conversation_id] = at

    def __len__(self) -> int:
        return len(self._heap)

    def entries(self) -> list[tuple[float, str]]:
        """Every entry, in time order (for tests and diagnostics: O(n log n))."""
        return sorted(self._heap)

    def schedule(self, conversation_id: str, at: float | None) -> None:
        """Check the conversation at `at` (None: the clock alone changes nothing), or
        earlier: a later check waits behind the entry it has."""
        if at is None:
            return
        earliest = self._earliest.get(conversation_id)
        if earliest is None or at < earliest:
            self._earliest[conversation_id] = at
            heapq.heappush(self._heap, (at, conversation_id))

    def due(self, now: float) -> Iterator[str]:
        """The conversations whose earliest entry is at or before `now`, each once. The
        caller schedules again a conversation whose stored check is later (its entry was
        early) and stores a swept one (which schedules its next check); an entry left
        behind an earlier one of the same conversation is dropped."""
        heap, earliest = self._heap, self._earliest
        while heap and heap[0][0] <= now:
            at, conversation_id = heapq.heappop(heap)
            if earliest.get(conversation_id) != at:
                continue  # left behind: the conversation's earliest entry checked it
            del earliest[conversation_id]
            yield conversation_id
