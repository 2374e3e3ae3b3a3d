"""``threshold``: a point above (or below) a level for a while; clears at a separate level."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from api.alerts.calendar import Calendar
from api.alerts.checks import Check, Held, compare
from api.alerts.kinds.base import RuleModel
from api.alerts.kinds.registry import RuleKind, Wording, register, shown
from devices.profile import Profile
from facmon.types import Duration, Slug


class Threshold(RuleModel):
    """A point above (or below) a level for a while; clears at a separate level."""

    kind: Literal["threshold"]
    point: Slug
    above: float | None = None
    below: float | None = None
    clear: float | None = None
    """Level at which it clears (hysteresis); the firing level when not given."""
    for_s: Duration = Field(default=0.0, alias="for")

    @model_validator(mode="after")
    def _one_side(self) -> Threshold:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of above and below")
        if self.clear is not None:
            if self.above is not None and self.clear > self.above:
                raise ValueError(f"clear {self.clear} is above the firing level {self.above}")
            if self.below is not None and self.clear < self.below:
                raise ValueError(f"clear {self.clear} is below the firing level {self.below}")
        return self


def _checks(
    rule: Threshold, labels: dict[str, str], calendar: Calendar, profile: Profile | None
) -> list[Check]:
    point, level = rule.point, rule.above if rule.above is not None else rule.below
    assert level is not None
    clear = rule.clear if rule.clear is not None else level
    if rule.above is not None:
        bad = compare(point, lambda v: v > level)
        done = compare(point, lambda v: v <= clear)
    else:
        bad = compare(point, lambda v: v < level)
        done = compare(point, lambda v: v >= clear)
    return [Held(rule, labels, calendar, bad, done, shown=(point,))]


def _words(rule: Threshold, said: Wording) -> str:
    above = rule.above is not None
    said.fields |= {
        "point": rule.point,
        "value": said.fields.get(rule.point, "?"),
        "level": shown(rule.above if above else rule.below),
    }
    return "threshold_above" if above else "threshold_below"


register(
    RuleKind(
        "threshold",
        Threshold,
        {
            "threshold_above": {
                "en": "{point} is {value}, above {level}",
                "zh": "{point} 为 {value}，高于 {level}",
            },
            "threshold_below": {
                "en": "{point} is {value}, below {level}",
                "zh": "{point} 为 {value}，低于 {level}",
            },
        },
        checks=_checks,
        words=_words,
        points=lambda rule: (rule.point,),
    )
)
