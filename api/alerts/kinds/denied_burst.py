"""``denied_burst``: too many denied swipes at one door, or by one card, within a window."""

from __future__ import annotations

from collections import deque
from typing import Literal

from pydantic import Field

from api.alerts.calendar import Calendar
from api.alerts.checks import Found, Instant, Values
from api.alerts.kinds.base import RuleModel, card_words
from api.alerts.kinds.registry import RuleKind, Wording, each, register, shown
from facmon.types import Duration, Slug


class DeniedBurst(RuleModel):
    """Too many denied swipes at one door, or by one card, within a window."""

    kind: Literal["denied_burst"]
    event: Slug = "access_denied"
    count: int = Field(default=5, ge=2, le=1000)
    within_s: Duration = Field(default=300.0, alias="within")
    by: Literal["door", "card"] = "door"
    card_attr: Slug = Field(default="card", alias="card")
    resolve_after_s: Duration = Field(default=1800.0, alias="resolve_after")


class Burst(Instant):
    """Counts the denials per door (or card) in a sliding window."""

    __slots__ = ("seen",)

    def __init__(self, rule: DeniedBurst, labels: dict[str, str], calendar: Calendar) -> None:
        """Count the denials at the door of the device with ``labels``."""
        super().__init__(rule, labels, calendar)
        self.seen: dict[str, deque[int]] = {}

    def event(self, ts: int, kind: str, attrs: Values, values: Values) -> Found:
        """The ``count``-th denial within the window fires."""
        rule = self.rule
        if kind != rule.event:
            return ()
        key = str(attrs.get(rule.card_attr, "")) if rule.by == "card" else ""
        times = self.seen.setdefault(key, deque(maxlen=rule.count))
        times.append(ts)
        if len(times) == rule.count and ts - times[0] <= rule.within_s * 1000:
            return self.raise_(key, ts, count=rule.count, **attrs)
        return ()


def _words(rule: DeniedBurst, said: Wording) -> str:
    said.fields["card"] = card_words(said.values, said.key, said.language)
    said.fields["minutes"] = shown(rule.within_s / 60)
    return "denied_burst"


register(
    RuleKind(
        "denied_burst",
        DeniedBurst,
        {
            "denied_burst": {
                "en": "{count} denied swipes within {minutes} min{card}",
                "zh": "{minutes} 分钟内 {count} 次刷卡被拒{card}",
            }
        },
        checks=each(Burst),
        words=_words,
    )
)
