"""Typed models of the v1 event contract and the decoding of raw Kafka messages.

`schemas/*.schema.json` is the contract; these models mirror it and
`tests/unit/domain/test_events.py` holds both to the same verdict on a corpus of valid and
invalid events. Decoding never raises: a bad message comes back as a `Rejection`
with a machine-readable reason, so the caller can dead-letter it.

msgspec decodes the bytes straight into the typed structs, checking the contract as it
goes: on the worker's hot path that is about a fifth of parsing with orjson and validating
with pydantic. Fields outside the contract are allowed and ignored (they stay in the
record's bytes on Kafka).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, ClassVar, Literal

import msgspec
import orjson
from msgspec import Meta
from msgspec.structs import force_setattr

Priority = Literal["low", "normal", "high", "urgent"]
InquiryType = Literal[
    "complaint", "feedback", "recommendation", "question", "praise", "churn_risk", "other"
]
ToChannel = Literal["dm", "chat", "voice", "email", "other"]
ReviewSource = Literal[
    "google", "yelp", "trustpilot", "tripadvisor", "facebook", "app_store", "google_play",
    "brand_site", "other",
]  # fmt: skip
SurveyKind = Literal["csat", "nps"]

# The schema's patterns, anchored at the very end (`\Z`): a JSON Schema `$` does not match
# before a trailing newline, Python's does.
_RFC3339 = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})\Z"
)

Id = Annotated[str, Meta(min_length=1, max_length=256)]
Brand = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}\Z")]
Channel = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,31}\Z")]
Team = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_. -]{0,63}\Z")]
Text = Annotated[str, Meta(max_length=20000)]
Timestamp = Annotated[str, Meta(pattern=_RFC3339)]
_AwareDatetime = Annotated[datetime, Meta(tz=True)]


class _Timed(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Fields of every event: identity, event time, brand and channel."""

    type: ClassVar[str]
    event_id: Id
    occurred_at: Timestamp
    brand: Brand
    channel: Channel
    schema_version: Annotated[int, Meta(ge=1, le=1)] = 1
    # Event time as POSIX seconds, set from `occurred_at` after decoding (whatever the
    # input says under this name); the hot path reads it several times.
    occurred_ts: float = 0.0

    def __post_init__(self) -> None:
        # The pattern checks the shape; this rejects impossible dates (month 13, Feb 30).
        try:
            parsed = msgspec.convert(self.occurred_at, _AwareDatetime)
        except msgspec.ValidationError:
            raise ValueError(
                f"occurred_at {self.occurred_at!r} is not a valid RFC 3339 time"
            ) from None
        force_setattr(self, "occurred_ts", parsed.timestamp())


def _finite(name: str, value: float | None) -> None:
    if value is not None and not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number")


class _Event(_Timed, frozen=True, kw_only=True):
    """Fields common to the four conversation event types (docs/design.md, Event contract v1)."""

    conversation_id: Id


class Mention(_Event, frozen=True, kw_only=True, tag="mention"):
    """An inbound customer post; the first one of a conversation opens it."""

    type: ClassVar[Literal["mention"]] = "mention"
    author_id: Id
    text: Text | None = None
    in_reply_to: Id | None = None
    priority: Priority | None = None
    sentiment: Annotated[float, Meta(ge=-1, le=1)] | None = None
    inquiry_type: InquiryType | None = None
    customer_value: Annotated[float, Meta(ge=0)] | None = None
    language: Annotated[str, Meta(max_length=35)] | None = None
    # An online review: its stars (1-5; JSON Schema's integer takes 4.0 too), and the site.
    rating: int | float | None = None
    review_source: ReviewSource | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _finite("customer_value", self.customer_value)
        rating = self.rating
        if rating is not None:
            if isinstance(rating, float):
                if not rating.is_integer():
                    raise ValueError(f"rating must be an integer, got {rating}")
                force_setattr(self, "rating", int(rating))
            if not 1 <= self.rating <= 5:  # type: ignore[operator]
                raise ValueError(f"rating must be 1-5, got {self.rating}")

    @property
    def effective_priority(self) -> Priority:
        return self.priority or "normal"


class Reply(_Event, frozen=True, kw_only=True, tag="reply"):
    """A post by the brand; bot replies do not stop the first-response clock."""

    type: ClassVar[Literal["reply"]] = "reply"
    agent_id: Id | None = None
    team: Team | None = None
    in_reply_to: Id | None = None
    text: Text | None = None
    public: bool | None = None
    automated: bool | None = None
    resolves: bool | None = None


class Redirection(_Event, frozen=True, kw_only=True, tag="redirection"):
    """The conversation moves to a private channel."""

    type: ClassVar[Literal["redirection"]] = "redirection"
    to_channel: ToChannel
    agent_id: Id | None = None
    reason: Annotated[str, Meta(max_length=1000)] | None = None


class Survey(_Event, frozen=True, kw_only=True, tag="survey"):
    """A CSAT (1-5) or NPS (0-10) answer tied to the conversation."""

    type: ClassVar[Literal["survey"]] = "survey"
    kind: SurveyKind
    # JSON Schema counts 5.0 as an integer; so does the contract (made an int below).
    score: int | float

    def __post_init__(self) -> None:
        super().__post_init__()
        score = self.score
        if isinstance(score, float):
            if not score.is_integer():
                raise ValueError(f"score must be an integer, got {score}")
            force_setattr(self, "score", int(score))
        low, high = (1, 5) if self.kind == "csat" else (0, 10)
        if not low <= self.score <= high:
            raise ValueError(f"{self.kind} score must be {low}-{high}, got {self.score}")


class ContactCount(_Timed, frozen=True, kw_only=True, tag="contact_count"):
    """Contacts a brand received on another channel (phone, email...) in an interval.

    Not part of a conversation: the optional fifth input, for deflection (social-resolved
    contacts against contacts on other channels). `channel` is that other channel.
    """

    type: ClassVar[Literal["contact_count"]] = "contact_count"
    count: Annotated[int, Meta(ge=0, le=10_000_000)]
    interval_seconds: Annotated[float, Meta(gt=0)] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _finite("interval_seconds", self.interval_seconds)


AnyEvent = Mention | Reply | Redirection | Survey | ContactCount
_DECODER: msgspec.json.Decoder[AnyEvent] = msgspec.json.Decoder(AnyEvent)
EVENT_TYPES = ("mention", "reply", "redirection", "survey", "contact_count")


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message cannot be processed; `reason` is a bounded label value."""

    reason: str
    detail: str
    event_id: str | None = None


def decode_event(
    raw: bytes | None, expected_type: str | None, max_bytes: int
) -> AnyEvent | Rejection:
    """Parse and validate one message value; `expected_type` is the type its topic carries."""
    if raw is None:
        return Rejection("invalid_json", "message has no value (tombstone)")
    if len(raw) > max_bytes:
        return Rejection("oversized", f"message is {len(raw)} bytes, limit {max_bytes}")
    try:
        event = _DECODER.decode(raw)
    except msgspec.ValidationError as exc:
        return _schema_rejection(raw, str(exc))
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        return Rejection("invalid_json", f"not valid UTF-8 JSON: {exc}")
    except RecursionError:  # orjson refuses it too, past 1,024 levels
        return Rejection("invalid_json", "not valid JSON: nested too deeply")
    if expected_type is not None and event.type != expected_type:
        return Rejection(
            "wrong_topic", f"a {event.type} event on the topic for {expected_type} events",
            event.event_id,
        )  # fmt: skip
    return event


def _schema_rejection(raw: bytes, message: str) -> Rejection:
    """Why valid JSON breaks the contract: `field.path: what`, with the event_id if readable."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:  # what orjson refuses as JSON (1e400) is not JSON
        return Rejection("invalid_json", f"not valid UTF-8 JSON: {exc}")
    if not isinstance(document, dict):
        return Rejection(
            "schema_violation", f"event must be a JSON object, got {type(document).__name__}"
        )
    event_id = document.get("event_id") if isinstance(document.get("event_id"), str) else None
    what, _, where = message.rpartition(" - at `$")
    if not what:
        what, where = message, ""
    field = where.rstrip("`").lstrip(".")
    missing = _MISSING.fullmatch(what)
    if missing is not None:
        field, what = ".".join(filter(None, (field, missing.group(1)))), "Field required"
    return Rejection("schema_violation", f"{field or '(event)'}: {what}", event_id)


_MISSING = re.compile(r"Object missing required field `(.+)`")
