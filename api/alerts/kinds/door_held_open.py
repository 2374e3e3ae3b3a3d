"""``door_held_open``: a door open for longer than allowed."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.alerts.calendar import Calendar
from api.alerts.checks import Check, Held, Values
from api.alerts.kinds.base import RuleModel
from api.alerts.kinds.registry import RuleKind, Wording, register, shown
from devices.profile import Profile
from facmon.types import Duration, Slug


class DoorHeldOpen(RuleModel):
    """A door open for longer than allowed."""

    kind: Literal["door_held_open"]
    point: Slug = "door_state"
    open_value: str | bool | int = Field(default="open", alias="open")
    for_s: Duration = Field(default=120.0, alias="for")


def _checks(
    rule: DoorHeldOpen, labels: dict[str, str], calendar: Calendar, profile: Profile | None
) -> list[Check]:
    point, value = rule.point, rule.open_value

    def held(values: Values) -> bool | None:
        return values[point] == value if point in values else None

    return [Held(rule, labels, calendar, held)]


def _words(rule: DoorHeldOpen, said: Wording) -> str:
    said.fields["seconds"] = shown(rule.for_s)
    return "door_held_open"


register(
    RuleKind(
        "door_held_open",
        DoorHeldOpen,
        {
            "door_held_open": {
                "en": "door held open over {seconds} s",
                "zh": "门超过 {seconds} 秒未关闭",
            }
        },
        checks=_checks,
        words=_words,
        points=lambda rule: (rule.point,),
    )
)
