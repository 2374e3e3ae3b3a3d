"""``idle``: not in use (the profile's predicate) for a long stretch of working time."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from api.alerts.calendar import Calendar
from api.alerts.checks import Check, Found, Values, holds
from api.alerts.kinds.base import RuleModel
from api.alerts.kinds.registry import RuleKind, register
from devices.profile import Profile
from facmon.types import Duration


class Idle(RuleModel):
    """Not in use (the profile's predicate) for a long stretch of working time."""

    kind: Literal["idle"]
    for_s: Duration = Field(default=4 * 3600.0, alias="for")
    """Working time spent not in use before the asset counts as idle."""
    unchanged_days: float | None = Field(default=None, gt=0)
    """For counters (``increases: true``): days without an increase."""


class Unused(Check):
    """Not in use for ``for_s`` of working time; or a counter that stopped increasing."""

    __slots__ = ("calendar", "firing", "idle_s", "in_use", "last", "last_value", "since", "using")

    def __init__(self, rule: Idle, labels: dict[str, str], calendar: Calendar, in_use: Any) -> None:
        """Count the working time the profile's ``in_use`` does not hold."""
        super().__init__(rule, labels, calendar)
        self.calendar, self.in_use = calendar, in_use
        self.idle_s = 0.0
        self.last: int | None = None
        self.since: int | None = None  # counters: when it last increased
        self.last_value: float | None = None
        self.firing = self.using = False

    def reading(self, ts: int, values: Values) -> Found:
        """Count the time since the previous reading as it was then; in use clears."""
        point = self.in_use.point
        if point not in values:
            return ()
        if self.in_use.increases:
            value = values[point]
            if isinstance(value, bool) or not isinstance(value, int | float):
                return ()
            if self.last_value is None or value > self.last_value or self.since is None:
                self.since = ts
                self.last_value = float(value)
                return self._stop(ts)
            return self._judge(ts)
        if self.last is not None and not self.using:  # the time since, as it was then
            self.idle_s += self.calendar.working_seconds(self.last, ts)
        self.last, self.using = ts, holds(self.in_use, values[point])
        if self.using:
            self.idle_s = 0.0
            return self._stop(ts)
        return self._judge(ts)

    def tick(self, now: int, values: Values) -> Found:
        """Count the working time passed while not in use."""
        if self.in_use.increases:
            return self._judge(now)
        if self.last is not None and not self.using and now > self.last:
            self.idle_s += self.calendar.working_seconds(self.last, now)
            self.last = now
            return self._judge(now)
        return ()

    def restore(self, restored: Mapping[str, int]) -> None:
        """Start as firing if its alert is open."""
        if self.prefix in restored:
            self.firing = True

    def _judge(self, ts: int) -> Found:
        rule = self.rule
        if rule.unchanged_days is not None and self.in_use.increases:
            idle = self.since is not None and ts - self.since >= rule.unchanged_days * 86_400_000
        else:
            idle = self.idle_s >= rule.for_s
        if idle and not self.firing:
            self.firing = True
            return (self.signal("", True, ts, idle_h=round(self.idle_s / 3600, 1)),)
        return ()

    def _stop(self, ts: int) -> Found:
        if self.firing:
            self.firing = False
            return (self.signal("", False, ts),)
        return ()


def _checks(
    rule: Idle, labels: dict[str, str], calendar: Calendar, profile: Profile | None
) -> list[Check]:
    if profile is None or profile.in_use is None:
        return []
    return [Unused(rule, labels, calendar, profile.in_use)]


register(
    RuleKind(
        "idle",
        Idle,
        {
            "idle": {
                "en": "idle for {idle_h} h of working time",
                "zh": "工作时间内闲置 {idle_h} 小时",
            }
        },
        checks=_checks,
    )
)
