"""``long_idling``: a vehicle standing with its engine running."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.alerts.calendar import Calendar
from api.alerts.checks import Check, Held, Values, truthy
from api.alerts.kinds.base import RuleModel
from api.alerts.kinds.registry import RuleKind, Wording, register, shown
from devices.profile import Profile
from facmon.types import Duration, Slug


class LongIdling(RuleModel):
    """A vehicle standing with its engine running."""

    kind: Literal["long_idling"]
    ignition: Slug = "ignition"
    speed: Slug = "speed_kmh"
    for_s: Duration = Field(default=600.0, alias="for")


def _checks(
    rule: LongIdling, labels: dict[str, str], calendar: Calendar, profile: Profile | None
) -> list[Check]:
    ignition, speed = rule.ignition, rule.speed

    def idling(values: Values) -> bool | None:
        if ignition not in values or speed not in values:
            return None
        moving = values[speed]
        return truthy(values[ignition]) and isinstance(moving, int | float) and moving < 1

    return [Held(rule, labels, calendar, idling, shown=(speed,))]


def _words(rule: LongIdling, said: Wording) -> str:
    said.fields["minutes"] = shown(rule.for_s / 60)
    return "long_idling"


register(
    RuleKind(
        "long_idling",
        LongIdling,
        {
            "long_idling": {
                "en": "standing with the engine running for {minutes} min",
                "zh": "原地怠速超过 {minutes} 分钟",
            }
        },
        checks=_checks,
        words=_words,
        points=lambda rule: (rule.ignition, rule.speed),
    )
)
