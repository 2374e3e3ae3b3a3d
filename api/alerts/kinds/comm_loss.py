"""``comm_loss``: a device its gateway reports offline, a gateway gone, or no data for a while.

Not a check per rule but the device's one communication watch: it also hears state
messages and its gateway's presence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field

from api.alerts.calendar import Calendar
from api.alerts.checks import Check, Communication, Found, Values
from api.alerts.kinds.base import RuleModel
from api.alerts.kinds.registry import RuleKind, Wording, register
from api.status import PHRASES
from facmon.types import Duration


class CommLoss(RuleModel):
    """A device its gateway reports offline, a gateway gone, or no data for a while."""

    kind: Literal["comm_loss"]
    factor: float = Field(default=3.0, ge=1.5, le=100)
    """Silence longer than factor times the device's reporting interval is a loss."""
    silent_s: Duration = Field(default=600.0, alias="silent")
    """Silence that is a loss for devices without a known reporting interval."""


class Silence(Check):
    """Communication loss: the gateway says the device is offline, or it has gone silent."""

    __slots__ = ("every_ms", "last", "offline", "silent")

    def __init__(self, rule: CommLoss, labels: dict[str, str], calendar: Calendar) -> None:
        """Watch the device with ``labels`` for ``rule``."""
        super().__init__(rule, labels, calendar)
        self.every_ms = int(rule.silent_s * 1000)
        self.last: int | None = None
        self.offline = self.silent = False

    def heard(self, ts: int, report_every_s: float | None) -> None:
        """The device was heard at ``ts`` (ms), reporting every ``report_every_s``."""
        if report_every_s:
            self.every_ms = int(report_every_s * self.rule.factor * 1000)
        self.last = max(ts, self.last or ts)

    def reading(self, ts: int, values: Values) -> Found:
        """A reading ends a silence."""
        self.last = max(ts, self.last or ts)
        if self.silent:
            self.silent = False
            return (self.signal("silent", False, ts),)
        return ()

    def state(self, ts: int, state: str, error: str | None) -> Found:
        """Offline fires, any other state clears."""
        offline = state == "offline"
        if offline == self.offline:
            return ()
        self.offline = offline
        return (self.signal("state", offline, ts, error=error or ""),)

    def tick(self, now: int, values: Values) -> Found:
        """A silence longer than allowed fires."""
        if self.silent or self.offline or self.last is None:
            return ()
        if now - self.last > self.every_ms:
            self.silent = True
            return (self.signal("silent", True, now, silent_s=round((now - self.last) / 1000)),)
        return ()

    def carry(self, before: Communication) -> None:
        """Keep when it was last heard and whether it was offline or silent."""
        assert isinstance(before, Silence)
        self.last = before.last
        self.offline, self.silent = before.offline, before.silent

    def restore(self, restored: Mapping[str, int]) -> None:
        """Start offline or silent if that alert is open."""
        self.offline = self.prefix + "state" in restored
        self.silent = self.prefix + "silent" in restored


def _watch(
    rule: CommLoss,
    labels: dict[str, str],
    calendar: Calendar,
    watch: Silence | None,
    report_every_s: float | None,
) -> Silence:
    watch = watch or Silence(rule, labels, calendar)
    if report_every_s:
        watch.every_ms = int(report_every_s * rule.factor * 1000)
    return watch


def _words(rule: CommLoss, said: Wording) -> str:
    error = said.values.get("error")
    colon = ": " if said.language == "en" else "："
    said.fields["error"] = f"{colon}{error}" if error else ""
    return f"comm_loss_{said.key or 'state'}"


register(
    RuleKind(
        "comm_loss",
        CommLoss,
        {
            "comm_loss_state": PHRASES["not_answering"],
            "comm_loss_silent": {
                "en": "no data from {device} for {silent_s} s",
                "zh": "{device} 已 {silent_s} 秒无数据",
            },
            "comm_loss_gateway": PHRASES["gateway_offline"],
        },
        watch=_watch,
        words=_words,
    )
)
