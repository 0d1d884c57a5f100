"""Business-hours calendars: deadlines across a weekend, a holiday and a DST change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from processor.domain.business_hours import BusinessCalendar
from processor.domain.conversation import ConversationState, apply_event
from processor.domain.sla import SlaPolicyCache, SlaPolicySet, SlaRule, SlaTargets
from tests.series_form import contributions
from tests.unit.domain.test_conversation import L, mention, reply

WEEKDAYS_9_TO_18 = {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
PARIS = BusinessCalendar(timezone="Europe/Paris", hours=WEEKDAYS_9_TO_18,
                         holidays=["2026-12-25"])  # fmt: skip


def utc(*parts: int) -> float:
    return datetime(*parts, tzinfo=UTC).timestamp()


def test_friday_evening_to_monday_morning() -> None:
    # Fri 2026-11-20 17:30 Paris (UTC+1) = 16:30Z; 1 h of business time: 30 min on Friday,
    # 30 min from Monday 09:00 Paris -> Mon 09:30 Paris = 08:30Z.
    assert PARIS.deadline(utc(2026, 11, 20, 16, 30), 3600) == utc(2026, 11, 23, 8, 30)


def test_across_the_daylight_saving_change() -> None:
    # Paris leaves summer time on Sun 2026-10-25 (UTC+2 -> UTC+1). Fri 23 Oct 17:00 Paris
    # = 15:00Z; 2 h of business time: 17:00-18:00 Friday, then Monday 09:00-10:00 Paris
    # (now UTC+1) -> 09:00Z: 66 h of calendar time, not 67 or 65.
    deadline = PARIS.deadline(utc(2026, 10, 23, 15, 0), 7200)
    assert deadline == utc(2026, 10, 26, 9, 0)
    assert deadline - utc(2026, 10, 23, 15, 0) == 66 * 3600
    assert PARIS.business_seconds(utc(2026, 10, 23, 15, 0), deadline) == 7200


def test_holiday_is_closed() -> None:
    # Thu 24 Dec 17:30 Paris (16:30Z) + 1 h: 30 min on Thursday, Friday 25 is a holiday,
    # the weekend is closed, Monday 28 09:00-09:30 Paris -> 08:30Z.
    assert PARIS.deadline(utc(2026, 12, 24, 16, 30), 3600) == utc(2026, 12, 28, 8, 30)


def test_start_in_closed_hours_waits_for_the_opening() -> None:
    # Saturday noon: the clock starts Monday 09:00 Paris (08:00Z); 15 min later.
    assert PARIS.deadline(utc(2026, 11, 21, 11, 0), 900) == utc(2026, 11, 23, 8, 15)
    # Within hours: plain addition.
    assert PARIS.deadline(utc(2026, 11, 23, 9, 0), 900) == utc(2026, 11, 23, 9, 15)


def test_other_time_zone_and_midnight_spans() -> None:
    # New York, open around the clock on weekdays ("00:00-00:00" = the whole day).
    ny = BusinessCalendar(timezone="America/New_York",
                          hours={day: ["00:00-00:00"] for day in WEEKDAYS_9_TO_18})  # fmt: skip
    # Fri 2026-11-20 23:00 New York (EST, UTC-5) = Sat 04:00Z; 2 h: 1 h Friday, then Monday
    # 00:00-01:00 New York = Mon 06:00Z.
    assert ny.deadline(utc(2026, 11, 21, 4, 0), 7200) == utc(2026, 11, 23, 6, 0)


@pytest.mark.parametrize(
    "bad",
    [
        {"timezone": "Mars/Olympus", "hours": WEEKDAYS_9_TO_18},
        {"timezone": "UTC", "hours": {"funday": ["09:00-18:00"]}},
        {"timezone": "UTC", "hours": {"mon": ["18:00-09:00"]}},
        {"timezone": "UTC", "hours": {"mon": ["nine to five"]}},
        {"timezone": "UTC", "hours": {}},
    ],
)
def test_bad_calendars_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        BusinessCalendar.model_validate(bad)


def test_policy_must_define_the_calendars_it_names() -> None:
    with pytest.raises(ValidationError, match="calendar 'office' is not defined"):
        SlaPolicySet(rules=[SlaRule(brand="A", calendar="office")])


def test_conversation_clock_follows_the_calendar_of_its_policy() -> None:
    policy = SlaPolicySet(
        default=SlaTargets(first_response=timedelta(hours=1), resolution=timedelta(days=1)),
        rules=[SlaRule(brand=L[0], calendar="paris")],
        calendars={"paris": PARIS},
    )
    cache = SlaPolicyCache(policy)
    # The helpers stamp events at T0 + offset; T0 = 2017-10-31 22:10:47Z (a Tuesday, 23:10
    # Paris, after hours): the clock starts Wed 09:00 Paris (08:00Z), deadline 09:00Z.
    state = ConversationState(conversation_id="tw-1", partition=0)
    apply_event(state, mention(0), cache)
    wednesday_0900z = utc(2017, 11, 1, 9, 0)
    assert state.first_response_deadline == wednesday_0900z
    # A reply at Wed 08:30Z (9 h 20 min of calendar time later) meets the SLA.
    at = wednesday_0900z - 1800 - 1509487847.0
    apply_event(state, reply(at), cache)
    out = contributions(state)
    assert out[("first_response_sla_total", (*L, "normal", "met"), wednesday_0900z - 1800)] == 1
