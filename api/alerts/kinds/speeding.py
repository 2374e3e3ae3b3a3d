"""``speeding``: a vehicle above a speed for a while."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from api.alerts.calendar import Calendar
from api.alerts.checks import Check, Held, compare
from api.alerts.kinds.base import RuleModel
from api.alerts.kinds.registry import RuleKind, Wording, register, shown
from devices.profile import Profile
from facmon.types import Duration, Slug


class Speeding(RuleModel):
    """A vehicle above a speed for a while."""

    kind: Literal["speeding"]
    point: Slug = "speed_kmh"
    above: float = Field(default=80.0, gt=0)
    for_s: Duration = Field(default=10.0, alias="for")


def above_checks(
    rule: Any, labels: dict[str, str], calendar: Calendar, profile: Profile | None
) -> list[Check]:
    """A speed (``rule.point``) above ``rule.above`` for ``rule.for_s``."""
    speed, above = rule.point, rule.above
    return [Held(rule, labels, calendar, compare(speed, lambda v: v > above), shown=(speed,))]


def speed_words(rule: Any, said: Wording) -> str:
    """The speed (``value``) and the level (``level``)."""
    said.fields |= {"value": said.fields.get(rule.point, "?"), "level": shown(rule.above)}
    return str(rule.kind)


register(
    RuleKind(
        "speeding",
        Speeding,
        {
            "speeding": {
                "en": "speed {value} km/h, above {level} km/h",
                "zh": "车速 {value} km/h，超过 {level} km/h",
            }
        },
        checks=above_checks,
        words=speed_words,
        points=lambda rule: (rule.point,),
    )
)
