"""An event's identity: its id, and a digest of its content to tell a copy from an impostor.

The same `event_id` twice is a re-sent copy when the content is the same (counted once),
and another event reusing the id when it is not: that one is dead-lettered
`conflicting_event_id`, never silently dropped as a duplicate. The digest is of the decoded
event (the contract's fields, in a fixed order), so a copy re-serialised with other
whitespace or key order is still a copy.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import msgspec

from processor.domain.events import AnyEvent, Rejection

_ENCODER = msgspec.json.Encoder()


def content_digest(event: AnyEvent) -> str:
    """24 hex digits of BLAKE2b over the decoded event."""
    return hashlib.blake2b(_ENCODER.encode(event), digest_size=12).hexdigest()


FIRST = "first"
DUPLICATE = "duplicate"
CONFLICT = "conflict"


@dataclass(frozen=True, slots=True)
class Sighting:
    """What was known of an event id: nothing (`FIRST`), the same content (`DUPLICATE`),
    or other content (`CONFLICT`: another event reusing the id), and where it was first."""

    outcome: str
    first_position: str | None = None


def sighting(mark: str, earlier: str | None) -> Sighting:
    """Compare a record's mark ("topic/partition/offset content-digest") with the one an
    id already had. A mark without a digest (written before digests were) or of the same
    record is no evidence of other content."""
    if earlier is None:
        return Sighting(FIRST)
    position, _, digest = mark.partition(" ")
    first_position, _, first_digest = earlier.partition(" ")
    if first_position == position:
        return Sighting(FIRST)  # the same record, processed again
    return seen_before(first_digest, digest, first_position)


def seen_before(first_digest: str, digest: str, first_position: str | None = None) -> Sighting:
    """An id met again: a copy, or another event reusing it. A first digest of "" (kept
    before digests were) is no evidence of other content."""
    if first_digest and first_digest != digest:
        return Sighting(CONFLICT, first_position)
    return Sighting(DUPLICATE, first_position)


def conflict_rejection(event: AnyEvent, seen: Sighting) -> Rejection:
    """The dead letter of an event whose id was counted for other content."""
    where = f" (at {seen.first_position})" if seen.first_position else ""
    return Rejection(
        "conflicting_event_id",
        f"event_id {event.event_id!r} was already counted{where} for an event with other "
        "content: this one is not counted; send it again under an id of its own",
        event.event_id,
    )
