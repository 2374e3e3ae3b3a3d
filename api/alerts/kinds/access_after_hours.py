"""``access_after_hours``: access granted outside working time."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from api.alerts.calendar import Calendar
from api.alerts.checks import Check, Found, Instant, Values
from api.alerts.kinds.base import RuleModel, card_words
from api.alerts.kinds.registry import RuleKind, register
from devices.profile import Profile
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


def _checks(
    rule: AccessAfterHours, labels: dict[str, str], calendar: Calendar, profile: Profile | None
) -> list[Check]:
    return [AfterHours(rule, labels, calendar)]


def _words(
    rule: AccessAfterHours,
    key: str,
    values: dict[str, Any],
    fields: dict[str, str],
    language: str,
    flag: dict[str, str] | None,
) -> str:
    fields["card"] = card_words(values, key, language)
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
        checks=_checks,
        words=_words,
    )
)
