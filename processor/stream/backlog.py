"""The open conversations of a partition, kept counted the way the scrape reads them.

A scrape exports the backlog by (brand, channel, priority, state) and by (brand, channel,
age bucket). Counting the open conversations at scrape time costs a pass over all of them
(350 ms a scrape with 100,000 open); here each change costs a dict update and, when the
opening time or the group changes, one insertion in a sorted list, so the scrape costs a
few bisections per (brand, channel) whatever the backlog's size.
"""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple

from sortedcontainers import SortedList

from processor.metrics.families import AGE_BOUNDS, AGE_LABELS


class OpenConversation(NamedTuple):
    """What the scrape needs of an open conversation (backlog by age and by priority)."""

    brand: str
    channel: str
    opened_at: float
    priority: str
    backlog: str  # the state label of open_conversations


class OpenBacklog:
    """Open conversations by id, with their counts by priority and opening times by group."""

    def __init__(self) -> None:
        self.entries: dict[str, OpenConversation] = {}
        self._by_priority: Counter[tuple[str, str, str, str]] = Counter()
        self._opened: dict[tuple[str, str], SortedList] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def put(self, conversation_id: str, entry: OpenConversation | None) -> None:
        """The conversation's entry now (None: not open)."""
        old = self.entries.get(conversation_id)
        if old == entry:
            return
        if old is not None:
            del self.entries[conversation_id]
            self._count(old, -1)
        if entry is not None:
            self.entries[conversation_id] = entry
            self._count(entry, 1)

    def _count(self, entry: OpenConversation, step: int) -> None:
        priority = (entry.brand, entry.channel, entry.priority, entry.backlog)
        self._by_priority[priority] += step
        if not self._by_priority[priority]:
            del self._by_priority[priority]
        group = (entry.brand, entry.channel)
        opened = self._opened.get(group)
        if opened is None:
            opened = self._opened[group] = SortedList()
        if step > 0:
            opened.add(entry.opened_at)
        else:
            opened.remove(entry.opened_at)
            if not opened:
                del self._opened[group]

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
