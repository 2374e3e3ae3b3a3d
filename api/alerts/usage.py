"""Utilization: time in use per local day of each device, counted from its readings (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from api.alerts.calendar import Calendar
from api.alerts.checks import Values, holds


@dataclass
class Usage:
    """Time in use per local day of one device (for utilization)."""

    in_use: Any
    calendar: Calendar
    gap_ms: int
    """A silence longer than this is not counted (neither in use nor not)."""
    last: int | None = None
    using: bool = False
    previous: float | None = None
    """Counters: the value before, to tell whether it increased."""
    days: dict[date, list[float]] = field(default_factory=dict)
    """Day → [seconds in use, seconds observed]."""
    _day: tuple[int, int, date | None] = (0, -1, None)
    """The local day last counted: [from, until) in epoch ms, and the date."""

    def reading(self, ts: int, values: Values) -> None:
        """Count the time since the previous reading as it was then (in use or not)."""
        point = self.in_use.point
        if point not in values:
            return
        last = self.last
        if last is not None and 0 < ts - last <= self.gap_ms:
            since, until, day = self._day
            if not since <= last < until or day is None:
                day = datetime.fromtimestamp(last / 1000, self.calendar.zone).date()
                start = datetime.combine(day, datetime.min.time(), self.calendar.zone)
                since = int(start.timestamp() * 1000)
                self._day = (since, since + 86_400_000, day)
            totals = self.days.setdefault(day, [0.0, 0.0])
            seconds = (ts - last) / 1000
            totals[1] += seconds
            if self.using:
                totals[0] += seconds
        if self.in_use.increases:
            value = values[point]
            if isinstance(value, int | float) and not isinstance(value, bool):
                self.using = self.previous is not None and value > self.previous
                self.previous = float(value)
        else:
            self.using = holds(self.in_use, values[point])
        self.last = ts

    def take(self) -> dict[date, list[float]]:
        """The totals counted since the last call."""
        days, self.days = self.days, {}
        return days
