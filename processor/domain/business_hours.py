"""Business-hours calendars: SLA clocks that count only business time.

A calendar has a time zone, opening hours per weekday and holidays. `deadline(start,
seconds)` is the moment when `seconds` of business time have passed since `start`. Local
opening hours are turned into absolute times with the time zone's rules of that very day,
so a daylight-saving change is handled where it happens.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A target longer than this in business time is a configuration error, not a deadline.
_MAX_DAYS = 3 * 366


def _parse_span(span: str) -> tuple[time, time]:
    try:
        opens, closes = (time.fromisoformat(part.strip()) for part in span.split("-"))
    except ValueError:
        raise ValueError(f"opening hours {span!r} must look like 09:00-18:00") from None
    if closes <= opens and closes != time(0, 0):
        raise ValueError(f"opening hours {span!r} close before they open")
    return opens, closes


class BusinessCalendar(BaseModel):
    """Opening hours in a time zone; the SLA clock runs only while open."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str
    hours: dict[str, list[str]] = Field(
        description="weekday (mon..sun) -> spans like '09:00-18:00'; '00:00' as the end "
        "means midnight; a weekday left out is closed"
    )
    holidays: list[date] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name like Europe/Paris)"
            ) from None
        return value

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, spans in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"unknown weekday {day!r}: use {', '.join(WEEKDAYS)}")
            for span in spans:
                _parse_span(span)
        if not any(value.values()):
            raise ValueError("a calendar needs opening hours on at least one weekday")
        return value

    def _open_spans(self, day: date, zone: ZoneInfo) -> list[tuple[float, float]]:
        if day in self.holidays:
            return []
        spans = []
        for span in self.hours.get(WEEKDAYS[day.weekday()], []):
            opens, closes = _parse_span(span)
            start = datetime.combine(day, opens, zone).timestamp()
            end_day = day + timedelta(days=1) if closes == time(0, 0) else day
            end = datetime.combine(end_day, closes, zone).timestamp()
            spans.append((start, end))
        return sorted(spans)

    def deadline(self, start: float, seconds: float) -> float:
        """The time at which `seconds` of business time have passed since `start`."""
        zone = ZoneInfo(self.timezone)
        remaining = seconds
        day = datetime.fromtimestamp(start, zone).date()
        for _ in range(_MAX_DAYS):
            for opens, closes in self._open_spans(day, zone):
                begin = max(opens, start)
                if begin >= closes:
                    continue
                if remaining <= closes - begin:
                    return begin + remaining
                remaining -= closes - begin
            day += timedelta(days=1)
        raise ValueError(f"{seconds:g}s of business time do not fit in {_MAX_DAYS} days")

    def business_seconds(self, start: float, end: float) -> float:
        """Business time between two moments (for reporting elapsed SLA time)."""
        zone = ZoneInfo(self.timezone)
        total = 0.0
        day = datetime.fromtimestamp(start, zone).date()
        last = datetime.fromtimestamp(end, zone).date()
        while day <= last:
            for opens, closes in self._open_spans(day, zone):
                total += max(0.0, min(closes, end) - max(opens, start))
            day += timedelta(days=1)
        return total


@functools.lru_cache(maxsize=256)
def _cached(document: bytes) -> BusinessCalendar:
    return BusinessCalendar.model_validate_json(document)


def calendar_from_json(document: dict[str, Any]) -> BusinessCalendar:
    """A calendar stored in a conversation state; parsed once per distinct calendar."""
    return _cached(orjson.dumps(document, option=orjson.OPT_SORT_KEYS))
