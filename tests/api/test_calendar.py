"""Working calendars: weekly hours, holidays and make-up workdays (调休)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from api.alerts.calendar import Calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).timestamp() * 1000)


CALENDAR = Calendar(
    holidays=[date(2026, 10, 1), date(2026, 10, 2)],
    workdays=[date(2026, 9, 27)],  # a Sunday worked for the National Day week
)


@pytest.mark.parametrize(
    ("moment", "working"),
    [
        ("2026-09-29 08:29:59", False),  # a Tuesday, before hours
        ("2026-09-29 08:30:00", True),
        ("2026-09-29 12:00:00", False),  # lunch
        ("2026-09-29 13:30:00", True),
        ("2026-09-29 17:29:59", True),
        ("2026-09-29 17:30:00", False),
        ("2026-09-26 10:00:00", False),  # Saturday
        ("2026-09-27 10:00:00", True),  # the make-up Sunday
        ("2026-10-01 10:00:00", False),  # a Thursday, but a holiday
        ("2026-10-05 10:00:00", True),  # Monday after
    ],
)
def test_working_time(moment: str, working: bool) -> None:
    assert CALENDAR.working(at(moment)) is working
    fresh = Calendar.model_validate(CALENDAR.model_dump())  # no answer kept from before
    assert fresh.working(at(moment)) is working


def test_the_kept_answer_is_right_across_edges() -> None:
    calendar = Calendar()
    start = at("2026-09-28 00:00:00")
    for minute in range(0, 7 * 24 * 60, 7):
        ts = start + minute * 60_000
        local = datetime.fromtimestamp(ts / 1000, SHANGHAI)
        expected = local.weekday() < 5 and (
            (8 * 60 + 30 <= local.hour * 60 + local.minute < 12 * 60)
            or (13 * 60 + 30 <= local.hour * 60 + local.minute < 17 * 60 + 30)
        )
        assert calendar.working(ts) is expected, local


def test_working_seconds() -> None:
    day = Calendar()
    assert day.working_seconds(at("2026-09-29 00:00:00"), at("2026-09-30 00:00:00")) == 7.5 * 3600
    assert day.working_seconds(at("2026-09-29 11:00:00"), at("2026-09-29 14:00:00")) == 5400
    assert day.working_seconds(at("2026-09-26 00:00:00"), at("2026-09-28 00:00:00")) == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown timezone"),
        ({"week": {"mon": ["8:30-12:00"]}}, "is not HH:MM-HH:MM"),
        ({"week": {"mon": ["12:00-08:30"]}}, "ends before it starts"),
        ({"week": {"monday": ["08:00-12:00"]}}, "week.monday"),
        ({"holidays": ["2026-10-01"], "workdays": ["2026-10-01"]}, "both a holiday"),
        ({"holidays": ["tomorrow"]}, "holidays.0"),
        ({"hours": []}, "hours"),
    ],
)
def test_bad_calendars_are_refused_with_the_reason(data: dict[str, object], message: str) -> None:
    with pytest.raises((ValidationError, ValueError)) as caught:
        Calendar.model_validate(data)
    assert message in str(caught.value)
