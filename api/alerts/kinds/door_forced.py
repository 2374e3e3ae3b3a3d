"""``door_forced``: a door opened with no access granted just before (or reported forced)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.alerts.calendar import Calendar
from api.alerts.checks import Found, Instant, Values
from api.alerts.kinds.base import RuleModel
from api.alerts.kinds.registry import RuleKind, each, register
from facmon.types import Duration, Slug


class DoorForced(RuleModel):
    """A door opened with no access granted just before (or the controller says forced)."""

    kind: Literal["door_forced"]
    point: Slug = "door_state"
    open_value: str | bool | int = Field(default="open", alias="open")
    granted: Slug = "access_granted"
    forced: Slug = "door_forced"
    grant_window_s: Duration = Field(default=15.0, alias="grant_window")
    resolve_after_s: Duration = Field(default=1800.0, alias="resolve_after")
    """Resolved on its own after this long, if nobody resolved it."""


class Forced(Instant):
    """Fires on the controller's forced event, or on an opening with no grant before it."""

    __slots__ = ("granted_at", "was_open")

    def __init__(self, rule: DoorForced, labels: dict[str, str], calendar: Calendar) -> None:
        """Watch the door of the device with ``labels``."""
        super().__init__(rule, labels, calendar)
        self.granted_at = -(10**15)
        self.was_open: bool | None = None

    def event(self, ts: int, kind: str, attrs: Values, values: Values) -> Found:
        """A grant opens the window; the forced event fires."""
        if kind == self.rule.granted:
            self.granted_at = ts
        elif kind == self.rule.forced:
            return self.raise_("", ts, **attrs)
        return ()

    def reading(self, ts: int, values: Values) -> Found:
        """An opening with no grant within the window fires."""
        if self.rule.point not in values:
            return ()
        now_open = values[self.rule.point] == self.rule.open_value
        opened = now_open and self.was_open is False
        self.was_open = now_open
        if opened and ts - self.granted_at > self.rule.grant_window_s * 1000:
            return self.raise_("", ts)
        return ()


register(
    RuleKind(
        "door_forced",
        DoorForced,
        {"door_forced": {"en": "door forced open", "zh": "门被强行打开"}},
        checks=each(Forced),
    )
)
