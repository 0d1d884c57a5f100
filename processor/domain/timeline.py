"""A conversation's walk spelled out item by item: what its unsettled posts say.

The processor never needs this form (it adds each item's change as the walk completes it);
tests and debugging do: the first response, each customer wait and the reply that ended
it, each resolution and how, as one value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from processor.domain import thread_tail
from processor.domain.conversation import ConversationState
from processor.domain.thread import Item


@dataclass
class Timeline:
    """What the unsettled posts of a conversation say, walked once in event time."""

    first_response_at: float | None = None
    # (start of the customer's wait after a response, the human reply that ended it or None)
    next_responses: list[tuple[float, float | None]] = field(default_factory=list)
    # (resolution time, "explicit" | "inactivity")
    resolutions: list[tuple[float, str]] = field(default_factory=list)
    reopens: int = 0
    open_now: bool = True
    waiting_since: float | None = None
    awaiting_customer_since: float | None = None


def walk(state: ConversationState) -> Timeline:
    """The settled walk stepped through the tail and ended at the clock, item by item."""
    run = state.settled.clone()
    items: list[Item] = []
    for mark in thread_tail.marks(state):
        run.step(mark, items)
    end = run.ending(state.swept, items)
    timeline = Timeline(
        first_response_at=end.first_response_at,
        reopens=end.reopens,
        open_now=end.open_now,
        waiting_since=end.waiting_since,
        awaiting_customer_since=end.awaiting_customer_since,
    )
    for kind, at, other in items:
        if kind == "resolution":
            timeline.resolutions.append((at, other))
        else:
            timeline.next_responses.append((at, other if kind == "wait" else None))
    return timeline
