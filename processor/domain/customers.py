"""Retention: what a brand's customers do across their conversations, as additive counts.

Conversations are keyed (and partitioned) by conversation; a customer's conversations are
spread over every partition. So each conversation tells its customer's side what it is
(`ContactFacts`: when it opened, when it was first resolved) through a topic keyed by
brand and author (`processor.stream.customers`), and the partition of the customer keeps a
`CustomerState`: the customer's most recent conversations (at most `MAX_REMEMBERED`) and
the earliest opening known. From it come, per brand and channel:

- conversations of new customers and of returning ones (an earlier conversation with the
  brand while the customer was remembered, `SOCIALCARE_CUSTOMER_TTL_SECONDS`);
- resolutions, and those followed by a new conversation of the customer within 7 / 30 days
  (the repeat contact share's numerator), and the repeat contacts themselves.

Facts of different conversations come in any order (partitions are read at their own
pace); one conversation's come in the order it told them (one partition writes them, to
one partition), which `first_told` relies on. Every count is a
predicate over the set of facts that, once true, stays true, and a flag on the entry
makes it counted once. A conversation's opening and first resolution only move earlier
(a late post within the allowed lateness), so its entry keeps the earliest told. So the
totals do not depend on the order, and a fact met again (a redelivery, an at-least-once
write) changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from processor.metrics import customer_families as cf
from processor.metrics.family import Family
from processor.metrics.series import Contributions, count

if TYPE_CHECKING:
    from processor.domain.conversation import ConversationState

DAY_SECONDS = 86400.0
# Each repeat-contact window: its label, length and the entry flags it sets.
REPEAT_WINDOWS: tuple[tuple[str, float], ...] = (("7d", 7 * DAY_SECONDS), ("30d", 30 * DAY_SECONDS))
LONGEST_REPEAT_WINDOW = max(length for _, length in REPEAT_WINDOWS)
# A customer with many conversations keeps the latest ones: enough to pair a resolution
# with the next contact, bounded whatever the customer does.
MAX_REMEMBERED = 8

# Entry flags: what was counted of a conversation.
COUNTED = 1
RETURNING = 2
RESOLVED = 4
_RESOLUTION_REPEATED = {"7d": 8, "30d": 16}  # its resolution was followed by a contact
_REPEAT_CONTACT = {"7d": 32, "30d": 64}  # it came within the window after a resolution


class ContactFacts(NamedTuple):
    """What a conversation tells its customer's partition (the earliest times told win)."""

    conversation_id: str
    brand: str
    channel: str
    customer_id: str
    opened_at: float
    resolved_at: float | None
    # The conversation's first facts, its first with a resolution: what a customer whose
    # entry for it is gone (older than the remembered ones) still has to count.
    first_told: bool = True
    resolution_first_told: bool = True


def customer_key(brand: str, customer_id: str) -> str:
    """Who a customer is: an author is a customer of each brand they write to."""
    return f"{brand}|{customer_id}"


@dataclass
class Remembered:
    """One conversation of a customer, and what was counted of it (flags)."""

    conversation_id: str
    channel: str
    opened_at: float
    resolved_at: float | None
    flags: int = 0

    def to_json(self) -> list[Any]:
        return [self.conversation_id, self.channel, self.opened_at, self.resolved_at, self.flags]


@dataclass
class CustomerState:
    """A customer of a brand: the earliest opening known, the latest activity (for the
    TTL) and the latest conversations, sorted by opening."""

    brand: str
    first_opened_at: float
    last_seen_at: float
    conversations: list[Remembered] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "brand": self.brand,
            "first": self.first_opened_at,
            "last": self.last_seen_at,
            "conversations": [entry.to_json() for entry in self.conversations],
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> CustomerState:
        return cls(
            document["brand"],
            document["first"],
            document["last"],
            [Remembered(*entry) for entry in document["conversations"]],
        )


def new_customer(facts: ContactFacts) -> CustomerState:
    return CustomerState(facts.brand, facts.opened_at, facts.opened_at)


def _add(
    out: Contributions, family: Family, labels: tuple[str, ...], at: float | None = None
) -> None:
    """One more; `at` (event time) for the families with windows."""
    key = count(family, labels, at)
    out[key] = out.get(key, 0.0) + 1.0


def _follows(resolved: Remembered, later: Remembered, window: float) -> bool:
    """`later` opened within `window` after `resolved` was resolved (not while it was open)."""
    at = resolved.resolved_at
    return (
        at is not None
        and later is not resolved
        and at < later.opened_at <= at + window
    )  # fmt: skip


def _pair(resolved: Remembered, later: Remembered, brand: str, out: Contributions) -> None:
    """Count what a (resolution, later contact) pair completes, each side once per window."""
    for within, window in REPEAT_WINDOWS:
        if not _follows(resolved, later, window):
            continue
        flag = _RESOLUTION_REPEATED[within]
        if not resolved.flags & flag:
            resolved.flags |= flag
            _add(out, cf.REPEAT_CONTACT_RESOLUTIONS, (brand, resolved.channel, within))
        flag = _REPEAT_CONTACT[within]
        if not later.flags & flag:
            later.flags |= flag
            _add(out, cf.REPEAT_CONTACTS, (brand, later.channel, within))


def _remember(state: CustomerState, facts: ContactFacts) -> Remembered | None:
    """The conversation's entry with the facts in it; None if it is older than every
    entry of a full list (counted on its own, never paired)."""
    entries = state.conversations
    for entry in entries:
        if entry.conversation_id == facts.conversation_id:
            # An opening or a first resolution only ever moves earlier: the earliest told
            # is the newest, whatever order (or how often) the facts come in.
            resolved = facts.resolved_at
            if resolved is not None and (entry.resolved_at is None or resolved < entry.resolved_at):
                entry.resolved_at = resolved
            if facts.opened_at < entry.opened_at:
                entry.opened_at, entry.channel = facts.opened_at, facts.channel
                entries.sort(key=lambda remembered: remembered.opened_at)
            return entry
    # Not remembered: new, or gone from the list since (what its earlier facts counted
    # stays counted).
    flags = 0 if facts.first_told else COUNTED | RETURNING
    if facts.resolved_at is not None and not facts.resolution_first_told:
        flags |= RESOLVED
    entry = Remembered(
        facts.conversation_id, facts.channel, facts.opened_at, facts.resolved_at, flags
    )
    if len(entries) >= MAX_REMEMBERED and facts.opened_at < entries[0].opened_at:
        return None
    position = len(entries)
    while position > 0 and entries[position - 1].opened_at > facts.opened_at:
        position -= 1
    entries.insert(position, entry)
    # The oldest go: what they counted stays counted.
    del entries[: max(0, len(entries) - MAX_REMEMBERED)]
    return entry


def apply_contact(state: CustomerState, facts: ContactFacts) -> Contributions:
    """Fold a conversation's facts into its customer; what became countable (increments
    only, at event time). O(remembered conversations), bounded by `MAX_REMEMBERED`."""
    out: Contributions = {}
    brand = state.brand
    earlier_first = state.first_opened_at
    state.first_opened_at = min(state.first_opened_at, facts.opened_at)
    seen = max(facts.opened_at, facts.resolved_at or facts.opened_at)
    state.last_seen_at = max(state.last_seen_at, seen)
    entry = _remember(state, facts)
    if entry is None:  # older than the remembered ones: counted on its own, never paired
        labels = (brand, facts.channel)
        if facts.first_told:
            _add(out, cf.CUSTOMER_CONVERSATIONS, labels, facts.opened_at)
            if facts.opened_at > state.first_opened_at:
                _add(out, cf.RETURNING_CUSTOMER_CONVERSATIONS, labels, facts.opened_at)
        if facts.resolved_at is not None and facts.resolution_first_told:
            _add(out, cf.CUSTOMER_RESOLUTIONS, labels)
        return out
    labels = (brand, entry.channel)
    if not entry.flags & COUNTED:
        entry.flags |= COUNTED
        _add(out, cf.CUSTOMER_CONVERSATIONS, labels, entry.opened_at)
    if entry.resolved_at is not None and not entry.flags & RESOLVED:
        entry.flags |= RESOLVED
        _add(out, cf.CUSTOMER_RESOLUTIONS, labels)
    # Returning: this one if anything opened before it; others if this one opened first.
    first = state.first_opened_at
    candidates = state.conversations if first < earlier_first else (entry,)
    for other in candidates:
        if other.opened_at > first and not other.flags & RETURNING:
            other.flags |= RETURNING
            _add(out, cf.RETURNING_CUSTOMER_CONVERSATIONS, (brand, other.channel),
                 other.opened_at)  # fmt: skip
    # Repeat contacts: this entry as the resolution or as the later contact of a pair.
    for other in state.conversations:
        if other is not entry:
            _pair(entry, other, brand, out)
            _pair(other, entry, brand, out)
    return out


def expired(state: CustomerState, now: float, ttl: float) -> bool:
    """Not seen for the TTL: forgotten (a later conversation counts as a new customer)."""
    return state.last_seen_at < now - ttl


# -- the conversation's side ------------------------------------------------------------------


def facts_to_tell(state: ConversationState) -> ContactFacts | None:
    """The conversation's facts if its customer has not been told them yet (then they are
    recorded as told): at its opening, at its first resolution, when either moves."""
    customer, opened_at, brand, channel = (
        state.customer_id,
        state.opened_at,
        state.brand,
        state.channel,
    )
    if customer is None or opened_at is None or brand is None or channel is None:
        return None
    resolved = state.walk.first_resolution_by(state.swept)
    told = state.customer_told
    if told is not None and told[0] == opened_at and told[1] == resolved:
        return None
    state.customer_told = [opened_at, resolved]
    return ContactFacts(
        state.conversation_id, brand, channel, customer, opened_at, resolved,
        first_told=told is None,
        resolution_first_told=resolved is not None and (told is None or told[1] is None),
    )  # fmt: skip
