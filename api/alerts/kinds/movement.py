"""``movement``: a vehicle moving (outside working time, by default)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.alerts.kinds.base import RuleModel
from api.alerts.kinds.registry import RuleKind, register
from api.alerts.kinds.speeding import above_checks, speed_words
from facmon.types import Duration, Slug


class Movement(RuleModel):
    """A vehicle moving (outside working time, by default)."""

    kind: Literal["movement"]
    working_time: Literal["any", "only", "outside"] = "outside"
    point: Slug = "speed_kmh"
    above: float = Field(default=5.0, ge=0)
    for_s: Duration = Field(default=60.0, alias="for")


register(
    RuleKind(
        "movement",
        Movement,
        {
            "movement": {
                "en": "moving at {value} km/h outside working time",
                "zh": "非工作时间行驶，车速 {value} km/h",
            }
        },
        checks=above_checks,
        words=speed_words,
        points=lambda rule: (rule.point,),
    )
)
