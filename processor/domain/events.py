"""Typed models of the v1 event contract and the decoding of raw Kafka messages.

`schemas/*.schema.json` is the contract; these models mirror it and
`tests/unit/domain/test_events.py` holds both to the same verdict on a corpus of valid and
invalid events. Decoding never raises: a bad message comes back as a `Rejection`
with a machine-readable reason, so the caller can dead-letter it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal, Self

import orjson
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

Priority = Literal["low", "normal", "high", "urgent"]
InquiryType = Literal["complaint", "feedback", "recommendation", "question", "praise", "other"]
ToChannel = Literal["dm", "chat", "voice", "email", "other"]
SurveyKind = Literal["csat", "nps"]


_RFC3339 = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)

Id = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Brand = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")]
Channel = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
Team = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_. -]{0,63}$")]
Text = Annotated[str, StringConstraints(max_length=20000)]
Timestamp = Annotated[str, StringConstraints(pattern=_RFC3339)]


class _Timed(BaseModel):
    """Fields of every event: identity, event time, brand and channel."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True, allow_inf_nan=False)

    event_id: Id
    occurred_at: Timestamp
    brand: Brand
    channel: Channel
    schema_version: Annotated[int, Field(ge=1, le=1)] = 1

    if TYPE_CHECKING:
        # Event time as POSIX seconds, set by the validator below. A plain instance
        # attribute, not a pydantic private one: the hot path reads it several times.
        occurred_ts: float

    @model_validator(mode="after")
    def _parse_event_time(self) -> Self:
        # The pattern checks the shape; this rejects impossible dates (month 13, Feb 30).
        try:
            parsed = _DATETIME.validate_python(self.occurred_at, strict=False)
        except ValidationError:
            raise ValueError(
                f"occurred_at {self.occurred_at!r} is not a valid RFC 3339 time"
            ) from None
        self.__dict__["occurred_ts"] = parsed.timestamp()
        return self


_DATETIME: TypeAdapter[datetime] = TypeAdapter(AwareDatetime)


class _Event(_Timed):
    """Fields common to the four conversation event types (docs/design.md, Event contract v1)."""

    conversation_id: Id


class Mention(_Event):
    """An inbound customer post; the first one of a conversation opens it."""

    type: Literal["mention"]
    author_id: Id
    text: Text | None = None
    in_reply_to: Id | None = None
    priority: Priority | None = None
    sentiment: Annotated[float, Field(ge=-1, le=1)] | None = None
    inquiry_type: InquiryType | None = None
    customer_value: Annotated[float, Field(ge=0)] | None = None
    language: Annotated[str, StringConstraints(max_length=35)] | None = None

    @property
    def effective_priority(self) -> Priority:
        return self.priority or "normal"


class Reply(_Event):
    """A post by the brand; bot replies do not stop the first-response clock."""

    type: Literal["reply"]
    agent_id: Id | None = None
    team: Team | None = None
    in_reply_to: Id | None = None
    text: Text | None = None
    public: bool | None = None
    automated: bool | None = None
    resolves: bool | None = None


class Redirection(_Event):
    """The conversation moves to a private channel."""

    type: Literal["redirection"]
    to_channel: ToChannel
    agent_id: Id | None = None
    reason: Annotated[str, StringConstraints(max_length=1000)] | None = None


class Survey(_Event):
    """A CSAT (1-5) or NPS (0-10) answer tied to the conversation."""

    type: Literal["survey"]
    kind: SurveyKind
    score: int
    survey_id: Id | None = None

    @field_validator("score", mode="before")
    @classmethod
    def _integral_number(cls, value: object) -> object:
        # JSON Schema counts 5.0 as an integer; so does the contract.
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    @model_validator(mode="after")
    def _score_in_scale(self) -> Survey:
        low, high = (1, 5) if self.kind == "csat" else (0, 10)
        if not low <= self.score <= high:
            raise ValueError(f"{self.kind} score must be {low}-{high}, got {self.score}")
        return self


class ContactCount(_Timed):
    """Contacts a brand received on another channel (phone, email...) in an interval.

    Not part of a conversation: the optional fifth input, for deflection (social-resolved
    contacts against contacts on other channels). `channel` is that other channel.
    """

    type: Literal["contact_count"]
    count: Annotated[int, Field(ge=0, le=10_000_000)]
    interval_seconds: Annotated[float, Field(gt=0)] | None = None


Event = Annotated[
    Mention | Reply | Redirection | Survey | ContactCount, Field(discriminator="type")
]
AnyEvent = Mention | Reply | Redirection | Survey | ContactCount
_EVENT: TypeAdapter[AnyEvent] = TypeAdapter(Event)
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
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Rejection("invalid_json", f"not valid UTF-8 JSON: {exc}")
    if not isinstance(document, dict):
        return Rejection(
            "schema_violation", f"event must be a JSON object, got {type(document).__name__}"
        )
    event_id = document.get("event_id") if isinstance(document.get("event_id"), str) else None
    try:
        event = _EVENT.validate_python(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(event)"
        return Rejection("schema_violation", f"{where}: {first['msg']}", event_id)
    if expected_type is not None and event.type != expected_type:
        return Rejection(
            "wrong_topic", f"a {event.type} event on the topic for {expected_type} events", event_id
        )
    return event
