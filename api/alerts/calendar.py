"""Working calendars: weekly hours, public holidays and make-up workdays (调休), as data.

A rule limited to working time (or to outside it) asks :meth:`Calendar.working` for each
reading, so the answer is kept until the next change of hours: asking costs a comparison.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, field_validator

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_SPAN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


def _span(text: str) -> str:
    match = _SPAN.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not HH:MM-HH:MM (e.g. 08:30-12:00)")
    start = int(match[1]) * 60 + int(match[2])
    end = int(match[3]) * 60 + int(match[4])
    if end > 24 * 60 or end <= start:
        raise ValueError(f"{text!r} ends before it starts, or after 24:00")
    return text


Span = Annotated[str, AfterValidator(_span)]
"""Working hours within a day: ``08:30-12:00``."""

OFFICE_HOURS = ["08:30-12:00", "13:30-17:30"]


class Calendar(BaseModel):
    """When people work: hours per weekday, days off and make-up workdays, in a timezone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "Asia/Shanghai"
    week: dict[Weekday, list[Span]] = Field(
        default_factory=lambda: {day: list(OFFICE_HOURS) for day in WEEKDAYS[:5]}
    )
    """Working hours per weekday; a day not listed is not worked."""
    holidays: list[date] = Field(default_factory=list)
    """Days off although their weekday is worked (public holidays)."""
    workdays: list[date] = Field(default_factory=list)
    """Make-up workdays (调休): worked with the hours of ``makeup_hours`` although a weekend."""
    makeup_hours: Weekday = "mon"
    """Whose hours a make-up workday keeps."""

    _zone: ZoneInfo = PrivateAttr()
    _holidays: frozenset[date] = PrivateAttr()
    _workdays: frozenset[date] = PrivateAttr()
    _known: tuple[int, int, bool] = PrivateAttr(default=(0, -1, False))
    """The last stretch looked up: [from, until) in epoch ms, and whether it is worked."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r} (e.g. Asia/Shanghai)") from None
        return value

    def model_post_init(self, _context: object) -> None:
        """Prepare the lookups."""
        both = set(self.holidays) & set(self.workdays)
        if both:
            raise ValueError(f"{min(both)} is both a holiday and a make-up workday")
        self._zone = ZoneInfo(self.timezone)
        self._holidays = frozenset(self.holidays)
        self._workdays = frozenset(self.workdays)

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's timezone."""
        return self._zone

    def hours(self, day: date) -> list[tuple[int, int]]:
        """The working spans of ``day`` in minutes since midnight."""
        if day in self._holidays:
            return []
        weekday = WEEKDAYS[day.weekday()]
        if day in self._workdays:
            weekday = self.makeup_hours
        spans = []
        for text in self.week.get(weekday, []):
            start, _, end = text.partition("-")
            spans.append((_minutes(start), _minutes(end)))
        return sorted(spans)

    def working(self, ts_ms: int) -> bool:
        """Whether ``ts_ms`` (epoch milliseconds) falls in working time."""
        since, until, working = self._known
        if since <= ts_ms < until:
            return working
        self._known = self._interval(ts_ms)
        return self._known[2]

    def _interval(self, ts_ms: int) -> tuple[int, int, bool]:
        """The stretch of time around ``ts_ms`` that is all working or all not."""
        zone = self._zone
        local = datetime.fromtimestamp(ts_ms / 1000, zone)
        minute = local.hour * 60 + local.minute + local.second / 60
        day = local.date()
        edges = [0]
        for start, end in self.hours(day):
            edges += [start, end]
        edges.append(24 * 60)
        for index in range(len(edges) - 1):
            if edges[index] <= minute < edges[index + 1]:
                working = index % 2 == 1
                since = _at(day, edges[index], zone)
                until = _at(day, edges[index + 1], zone)
                return since, max(until, ts_ms + 1), working
        return ts_ms, ts_ms + 1, False  # pragma: no cover - the edges cover the day

    def working_seconds(self, start_ms: int, end_ms: int) -> float:
        """Working time between two instants, in seconds."""
        since, until, working = self._known
        if since <= start_ms and end_ms <= until:  # the usual case: within one stretch
            return (end_ms - start_ms) / 1000 if working else 0.0
        total, at = 0.0, start_ms
        while at < end_ms:
            self._known = stretch = self._interval(at)
            _, until, working = stretch
            step_end = min(until, end_ms)
            if working:
                total += (step_end - at) / 1000
            at = step_end
        return total


def _minutes(text: str) -> int:
    hours, _, minutes = text.partition(":")
    return int(hours) * 60 + int(minutes)


def _at(day: date, minute: int, zone: ZoneInfo) -> int:
    moment = datetime.combine(day, time(), zone) + timedelta(minutes=minute)
    # Wall-clock arithmetic across a DST change is off by the change; China keeps none.
    return int(moment.timestamp() * 1000)
