"""The open conversations of a partition, kept counted the way the scrape reads them.

A scrape exports the backlog by (brand, channel, priority, state) and by (brand, channel,
age bucket). Counting the open conversations at scrape time costs a pass over all of them
(350 ms a scrape with 100,000 open); here each change costs a dict update and, when the
opening time or the group changes, one insertion in a sorted list, so the scrape costs a
few bisections per (brand, channel) whatever the backlog's size. The first-response
deadlines of the conversations still awaiting one are kept sorted per (brand, channel) the
same way: the breach forecast reads each queue in deadline order.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, NamedTuple

from sortedcontainers import SortedList

from processor.metrics.families import AGE_BOUNDS, AGE_LABELS


class OpenConversation(NamedTuple):
    """What the scrape needs of an open conversation (backlog by age and by priority)."""

    brand: str
    channel: str
    opened_at: float
    priority: str
    backlog: str  # the state label of open_conversations
    # Its first-response deadline while it awaits its first response (past or not), else None.
    first_response_due: float | None = None


class OpenBacklog:
    """Open conversations by id, with their counts by priority and opening times by group."""

    def __init__(self) -> None:
        self.entries: dict[str, OpenConversation] = {}
        self._by_priority: Counter[tuple[str, str, str, str]] = Counter()
        self._opened: dict[tuple[str, str], SortedList] = {}
        self._due: dict[tuple[str, str, str], SortedList] = {}  # (deadline, opened_at)

    def __len__(self) -> int:
        return len(self.entries)

    def put(self, conversation_id: str, entry: OpenConversation | None) -> None:
        """The conversation's entry now (None: not open).

        A change of state (awaiting, at risk, breached) moves a count; the sorted lists
        move only when the opening time or the deadline does.
        """
        old = self.entries.get(conversation_id)
        if old == entry:
            return
        if entry is None:
            del self.entries[conversation_id]
        else:
            self.entries[conversation_id] = entry
        if old is not None:
            self._count(old, -1)
        if entry is not None:
            self._count(entry, 1)
        _move(self._opened, _opening(old), _opening(entry))
        _move(self._due, _awaiting(old), _awaiting(entry))

    def _count(self, entry: OpenConversation, step: int) -> None:
        priority = (entry.brand, entry.channel, entry.priority, entry.backlog)
        self._by_priority[priority] += step
        if not self._by_priority[priority]:
            del self._by_priority[priority]

    def awaiting_first_response(self) -> dict[tuple[str, str, str], SortedList]:
        """Per (brand, channel, priority), the (deadline, opened_at) of the conversations
        awaiting their first response, in deadline order (read only: the backlog's own
        lists)."""
        return self._due

    def by_priority(self) -> dict[tuple[str, str, str, str], int]:
        """Open conversations by (brand, channel, priority, backlog state)."""
        return dict(self._by_priority)

    def by_age(self, now: float) -> dict[tuple[str, str, str], int]:
        """Open conversations by (brand, channel, age bucket) at `now`."""
        counts: dict[tuple[str, str, str], int] = {}
        cuts = [now - bound for bound in reversed(AGE_BOUNDS)]  # oldest bound first
        for (brand, channel), opened in self._opened.items():
            previous = 0
            for label, cut in zip(reversed(AGE_LABELS), [*cuts, float("inf")], strict=True):
                # opened_at <= cut means age >= bound: older than this bucket's floor
                index = opened.bisect_right(cut)
                if index > previous:
                    counts[(brand, channel, label)] = index - previous
                previous = index
        return counts


Placed = tuple[tuple[str, ...], Any] | None  # (list key, item) of an entry, or nowhere


def _opening(entry: OpenConversation | None) -> Placed:
    return None if entry is None else ((entry.brand, entry.channel), entry.opened_at)


def _awaiting(entry: OpenConversation | None) -> Placed:
    if entry is None or entry.first_response_due is None:
        return None
    queue = (entry.brand, entry.channel, entry.priority)
    return queue, (entry.first_response_due, entry.opened_at)


def _move(lists: dict[Any, SortedList], old: Placed, new: Placed) -> None:
    """An item from its old sorted list to its new one (either may be nowhere)."""
    if old == new:
        return
    if old is not None:
        key, item = old
        items = lists[key]
        items.remove(item)
        if not items:
            del lists[key]
    if new is not None:
        key, item = new
        items = lists.get(key)
        if items is None:
            items = lists[key] = SortedList()
        items.add(item)
