"""What a valid event must also satisfy to be counted: time bounds, and order in its thread.

Pure checks that return a `Rejection` (dead-letter reason and detail) or None. The
webhook runs the stateless ones before publishing; the worker runs all of them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from processor.domain.conversation import ConversationState
from processor.domain.events import AnyEvent, Rejection, Reply
from processor.settings import ClockMode, Settings


def rfc3339(at: float) -> str:
    """POSIX seconds as the contract's timestamp form (UTC, `Z`)."""
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


def retention_horizon(settings: Settings, wall_now: float) -> float:
    """Events before it are dead-lettered: no state of theirs would be kept.

    Live, a conversation idle for the TTL is forgotten, so an event older than the wall
    clock less the TTL would open a conversation already past its forgetting time. In
    replay the partition watermark moves with the history (`too_late` covers it); the
    configured earliest time catches epoch-zero and similar timestamp bugs in both modes.
    """
    earliest = settings.earliest_event_time.timestamp()
    if settings.clock is ClockMode.WALL:
        return max(earliest, wall_now - settings.conversation_ttl_seconds)
    return earliest


def time_bounds_rejection(event: AnyEvent, settings: Settings, wall_now: float) -> Rejection | None:
    """The checks that need no state: before the retention horizon, too far in the future."""
    at = event.occurred_ts
    horizon = retention_horizon(settings, wall_now)
    if at < horizon:
        return Rejection(
            "before_retention_horizon",
            f"occurred_at {event.occurred_at} is before the retention horizon "
            f"{rfc3339(horizon)} (SOCIALCARE_EARLIEST_EVENT_TIME, and live the "
            "wall clock less SOCIALCARE_CONVERSATION_TTL_SECONDS)",
            event.event_id,
        )
    if at > wall_now + settings.max_future_seconds:
        return Rejection(
            "future_timestamp",
            f"occurred_at {event.occurred_at} is more than "
            f"{settings.max_future_seconds:g}s ahead of the wall clock",
            event.event_id,
        )
    return None


def order_rejection(state: ConversationState, event: AnyEvent) -> Rejection | None:
    """A reply to the opening post stamped before that post: a clock or feed bug.

    Only decidable once the opening mention is known; a reply that arrives first is counted
    (as a reply, never as a response: it precedes the opening). See docs/metrics.md.
    """
    if (
        isinstance(event, Reply)
        and event.in_reply_to == state.conversation_id
        and state.opened_at is not None
        and event.occurred_ts < state.opened_at
    ):
        return reply_before_mention(event, state.conversation_id, state.opened_at)
    return None


def reply_before_mention(event: AnyEvent, conversation_id: str, opened_at: float) -> Rejection:
    """`order_rejection`'s rejection, its conversation's opening time given."""
    return Rejection(
        "reply_before_mention",
        f"reply occurred_at {event.occurred_at} is before the post it answers "
        f"({conversation_id}, {rfc3339(opened_at)})",
        event.event_id,
    )


def settled_rejection(state: ConversationState, event: AnyEvent) -> Rejection:
    """An event older than what its conversation has settled (the allowed lateness was
    lengthened since): counting it would rewrite history already counted for good."""
    return too_late(event, state.conversation_id, state.settled_until)


def too_late(event: AnyEvent, conversation_id: str, settled_until: float | None) -> Rejection:
    """`settled_rejection`'s rejection, the conversation's settled time given."""
    settled = settled_until if settled_until is not None else event.occurred_ts
    return Rejection(
        "too_late",
        f"occurred_at {event.occurred_at} is before {rfc3339(settled)}, up to which the "
        f"conversation {conversation_id} is settled (the partition's latest event time "
        "less the allowed lateness when it was last changed)",
        event.event_id,
    )
