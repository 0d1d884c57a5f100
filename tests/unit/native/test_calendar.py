"""Native business-hours deadlines against `processor.domain.business_hours`, the reference:
random calendars (zones with daylight-saving changes, spans ending at midnight, holidays)
and random starts around the year give the same deadlines to the bit."""

from __future__ import annotations

from datetime import date, timedelta
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processor.domain.business_hours import WEEKDAYS, BusinessCalendar

ZONES = ["Europe/Paris", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC",
         "America/Sao_Paulo", "Europe/London"]  # fmt: skip
SPANS = ["09:00-17:00", "08:30-12:00", "13:00-18:30", "00:00-00:00", "22:00-00:00",
         "01:30-03:30", "02:00-02:45"]  # fmt: skip
YEAR_START = 1_704_067_200.0  # 2024-01-01T00:00Z


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    hours = {
        day: draw(st.lists(st.sampled_from(SPANS), max_size=2, unique=True))
        for day in WEEKDAYS
        if draw(st.booleans())
    }
    if not any(hours.values()):
        hours["wed"] = ["09:00-17:00"]
    holidays = draw(st.lists(st.integers(min_value=0, max_value=400), max_size=6))
    return BusinessCalendar(
        timezone=draw(st.sampled_from(ZONES)), hours=hours,
        holidays=[date(2024, 1, 1) + timedelta(days=day) for day in holidays],
    )  # fmt: skip


@settings(max_examples=600, deadline=None)
@given(
    calendars(),
    st.floats(min_value=0, max_value=366 * 86400.0),
    st.sampled_from([0.0, 1.0, 59.5, 3600.0, 4 * 3600.0, 86400.0, 5 * 86400.0]),
)
def test_business_deadlines_are_the_reference_s(
    native: ModuleType, calendar: BusinessCalendar, offset: float, seconds: float
) -> None:
    start = YEAR_START + offset
    document = calendar.model_dump(mode="json")
    try:
        expected = calendar.deadline(start, seconds)
    except ValueError:  # more business time than three years of this calendar hold
        with pytest.raises(ValueError, match="do not fit"):
            native.business_deadline(document, start, seconds)
        return
    assert native.business_deadline(document, start, seconds) == expected


def test_the_daylight_saving_days_of_new_york_and_paris(native: ModuleType) -> None:
    # The spring gap (02:00-03:00 local does not exist) and the autumn fold (01:00-02:00
    # twice), with spans inside them: the offsets Python's zoneinfo gives (fold 0).
    for zone, days in (("America/New_York", ("2024-03-10", "2024-11-03")),
                       ("Europe/Paris", ("2024-03-31", "2024-10-27"))):  # fmt: skip
        for span in ("01:30-03:30", "02:15-04:00"):  # across the change; opening in it
            calendar = BusinessCalendar(timezone=zone, hours={"sun": [span]})
            document = calendar.model_dump(mode="json")
            for day in days:
                start = (date.fromisoformat(day) - date(2024, 1, 1)).days * 86400 + YEAR_START
                for seconds in (60.0, 1800.0, 3600.0, 5400.0, 7199.0):
                    expected = calendar.deadline(start - 86400.0, seconds)
                    found = native.business_deadline(document, start - 86400.0, seconds)
                    assert found == expected, (zone, span, day, seconds)
