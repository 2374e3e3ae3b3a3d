"""``access_after_hours``: access granted outside working time."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.alerts.checks import Found, Instant, Values
from api.alerts.kinds.base import RuleModel, card_words
from api.alerts.kinds.registry import RuleKind, Wording, each, register
from facmon.types import Duration, Slug


class AccessAfterHours(RuleModel):
    """Access granted outside working time."""

    kind: Literal["access_after_hours"]
    working_time: Literal["any", "only", "outside"] = "outside"
    event: Slug = "access_granted"
    resolve_after_s: Duration = Field(default=1800.0, alias="resolve_after")


class AfterHours(Instant):
    """Fires on the rule's event (outside working time, by the rule's default)."""

    __slots__ = ()

    def event(self, ts: int, kind: str, attrs: Values, values: Values) -> Found:
        """The rule's event fires."""
        if kind == self.rule.event:
            return self.raise_("", ts, **attrs)
        return ()


def _words(rule: AccessAfterHours, said: Wording) -> str:
    said.fields["card"] = card_words(said.values, said.key, said.language)
    return "access_after_hours"


register(
    RuleKind(
        "access_after_hours",
        AccessAfterHours,
        {
            "access_after_hours": {
                "en": "access outside working time{card}",
                "zh": "非工作时间通行{card}",
            }
        },
        checks=each(AfterHours),
        words=_words,
    )
)
