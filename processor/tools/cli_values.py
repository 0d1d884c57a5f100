"""Values the command line takes: durations as the SLA file takes them, and choices.

A value outside is refused by the command line itself (click's usage error, exit status 2),
one line that lists the valid values or forms, before any command runs.
"""

from __future__ import annotations

import enum
from datetime import timedelta

import typer
from pydantic import TypeAdapter, ValidationError

from processor.domain.deadletters import DEADLETTER_REASONS

_DURATION = TypeAdapter(timedelta)
DURATION_FORMS = "seconds (600), ISO 8601 (PT10M) or [D day[s], ]HH:MM:SS (00:10:00)"


def parse_duration(text: str) -> timedelta:
    """A target as the SLA file takes it: seconds, ISO 8601 or HH:MM:SS (pydantic's rules)."""
    try:
        duration = timedelta(seconds=float(text))
    except ValueError:
        try:
            duration = _DURATION.validate_python(text.strip())
        except ValidationError:
            raise typer.BadParameter(f"{text!r} is not a duration: give {DURATION_FORMS}") from None
    if duration <= timedelta(0):
        raise typer.BadParameter(f"{text!r}: a target must be positive")
    return duration


# Choices: a value outside is refused by the command line itself, listing the valid ones.
PriorityChoice = enum.StrEnum("PriorityChoice", ["low", "normal", "high", "urgent"])
# The dead-letter reasons, as the dead-letter module declares them.
ReasonChoice = enum.StrEnum("ReasonChoice", DEADLETTER_REASONS)  # type: ignore[misc]
SourceChoice = enum.StrEnum("SourceChoice", ["topic", "webhook"])
