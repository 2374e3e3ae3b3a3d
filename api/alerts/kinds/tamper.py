"""``tamper``: a sensor or controller reporting tamper (a point that is true, or an event)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field

from api.alerts.calendar import Calendar
from api.alerts.checks import Found, Held, Instant, Values, truthy
from api.alerts.kinds.base import RuleModel
from api.alerts.kinds.registry import RuleKind, each, register
from facmon.types import Duration, Severity, Slug


class Tamper(RuleModel):
    """A sensor or controller reporting tamper (a point that is true, or an event)."""

    kind: Literal["tamper"]
    severity: Severity = "critical"
    point: Slug = "tamper"
    event: Slug = "tamper"
    resolve_after_s: Duration = Field(default=1800.0, alias="resolve_after")


class Tampered(Held):
    """Held while the tamper point is set; the tamper event is an alert of its own."""

    __slots__ = ("instant",)

    def __init__(self, rule: Tamper, labels: dict[str, str], calendar: Calendar) -> None:
        """Watch the tamper point and event of the device with ``labels``."""
        point = rule.point
        super().__init__(rule, labels, calendar, lambda v: truthy(v.get(point)), shown=(point,))
        self.instant = Instant(rule, labels, calendar)

    def event(self, ts: int, kind: str, attrs: Values, values: Values) -> Found:
        """The tamper event fires (key ``event``)."""
        if kind == self.rule.event:
            return self.instant.raise_("event", ts, **attrs)
        return ()

    def tick(self, now: int, values: Values) -> Found:
        """The point's wait, and the event's resolution after a while."""
        return super().tick(now, values) + self.instant.tick(now, values)

    def restore(self, restored: Mapping[str, int]) -> None:
        """Both the point's alert and the event's."""
        super().restore(restored)
        self.instant.restore(restored)


register(
    RuleKind(
        "tamper",
        Tamper,
        {"tamper": {"en": "tampered with", "zh": "设备被拆动或打开"}},
        checks=each(Tampered),
    )
)
