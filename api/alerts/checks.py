"""What a rule kind's checks are made of (pure): the signal, and the common ways of holding.

A check is one rule on one device. The engine gives it every reading, event and the
passing of time; it answers with signals (:class:`Signal`): a rule started or stopped holding.
Most kinds are :class:`Held` (a condition that must hold for a while) or :class:`Instant`
(raised by one moment, resolved by hand or after a while).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from api.alerts.calendar import Calendar
from devices.profile import OPERATORS, Condition
from facmon.types import Value

Values = dict[str, Value]


@dataclass(slots=True)
class Signal:
    """A rule started (``firing``) or stopped holding for a subject."""

    rule: Any
    subject: str
    """The device, or ``site/gateway`` for a gateway."""
    key: str
    """Tells apart several alerts of one rule on one subject (a flag, a card)."""
    firing: bool
    ts: int
    labels: dict[str, str]
    values: dict[str, Value] = field(default_factory=dict)
    """What the texts say: the point, its value, the level, ..."""
    severity: str = ""

    @property
    def fingerprint(self) -> str:
        """The same for every signal of one alert."""
        return f"{self.rule.id}/{self.subject}/{self.key}"


Found = tuple["Signal", ...]
"""What a check found: usually nothing (``()``, which costs no allocation)."""


class Check:
    """One rule on one device: judges readings, events and the passing of time."""

    __slots__ = ("labels", "rule", "working")

    def __init__(self, rule: Any, labels: dict[str, str], calendar: Calendar) -> None:
        """Judge ``rule`` for the device with ``labels``, in ``calendar``'s working time."""
        self.rule = rule
        self.labels = labels
        mode = rule.working_time
        self.working: Callable[[int], bool] | None = (
            None
            if mode == "any"
            else calendar.working
            if mode == "only"
            else (lambda ts: not calendar.working(ts))
        )

    def reading(self, ts: int, values: Values) -> Found:
        """Judge a reading (``values``: the newest value of every point, at ``ts`` ms)."""
        return ()

    def event(self, ts: int, kind: str, attrs: Values, values: Values) -> Found:
        """Judge an event of ``kind`` with ``attrs``."""
        return ()

    def tick(self, now: int, values: Values) -> Found:
        """Let time pass until ``now`` (ms)."""
        return ()

    def restore(self, restored: Mapping[str, int]) -> None:
        """Start from the alerts open before a restart (fingerprint → when it fired)."""

    def signal(self, key: str, firing: bool, ts: int, **values: Value) -> Signal:
        """A signal of this check's rule on its device."""
        return Signal(
            self.rule,
            self.labels["device"],
            key,
            firing,
            ts,
            self.labels,
            values,
            self.rule.severity,
        )

    @property
    def prefix(self) -> str:
        """The start of the fingerprints of this check's alerts."""
        return f"{self.rule.id}/{self.labels['device']}/"


class Held(Check):
    """A condition that must hold for ``for_s`` to fire, and clears by its own test."""

    __slots__ = ("bad", "clear", "firing", "for_ms", "key", "pending", "severity", "shown")

    def __init__(
        self,
        rule: Any,
        labels: dict[str, str],
        calendar: Calendar,
        bad: Callable[[Values], bool | None],
        clear: Callable[[Values], bool | None] | None = None,
        *,
        key: str = "",
        severity: str | None = None,
        shown: tuple[str, ...] = (),
    ) -> None:
        """Fire when ``bad`` has held for the rule's ``for_s``; clear by ``clear`` (else not bad).

        ``bad`` answers None when the values do not tell; ``shown`` are the points the
        signal carries.
        """
        super().__init__(rule, labels, calendar)
        self.bad, self.clear = bad, clear
        self.for_ms = int(getattr(rule, "for_s", 0.0) * 1000)
        self.key, self.severity, self.shown = key, severity or rule.severity, shown
        self.pending: int | None = None
        self.firing = False

    def reading(self, ts: int, values: Values) -> Found:
        """Start, keep or stop the wait; fire when it is long enough, clear when it holds."""
        active = self.working is None or self.working(ts)
        if self.firing:
            done = self.clear(values) if self.clear else self.bad(values) is False
            if done or not active:
                self.firing, self.pending = False, None
                return (self._signal(False, ts, values),)
            return ()
        bad = active and self.bad(values)
        if not bad:
            if bad is False or not active:
                self.pending = None
            return ()
        if self.pending is None:
            self.pending = ts
        return self._due(ts, values)

    def tick(self, now: int, values: Values) -> Found:
        """Fire when the wait has become long enough with no new reading."""
        if self.firing or self.pending is None:
            return ()
        if self.working is not None and not self.working(now):
            self.pending = None
            return ()
        return self._due(now, values)

    def restore(self, restored: Mapping[str, int]) -> None:
        """Start as firing if its alert is open."""
        if self.prefix + self.key in restored:
            self.firing = True

    def _due(self, ts: int, values: Values) -> Found:
        if self.pending is not None and ts - self.pending >= self.for_ms:
            self.firing = True
            return (self._signal(True, ts, values),)
        return ()

    def _signal(self, firing: bool, ts: int, values: Values) -> Signal:
        shown = {name: values[name] for name in self.shown if name in values}
        signal = self.signal(self.key, firing, ts, **shown)
        signal.severity = self.severity
        return signal


class Instant(Check):
    """Alerts raised by one moment (an event): resolved by hand or after a while."""

    __slots__ = ("open",)

    def __init__(self, rule: Any, labels: dict[str, str], calendar: Calendar) -> None:
        """Resolve each alert ``rule.resolve_after_s`` after it fired."""
        super().__init__(rule, labels, calendar)
        self.open: dict[str, int] = {}
        """Key → when it fired."""

    def raise_(self, key: str, ts: int, **values: Value) -> Found:
        """Fire the alert ``key`` (unless it is open already, or outside the rule's time)."""
        if self.working is not None and not self.working(ts):
            return ()
        fresh = key not in self.open
        self.open[key] = ts
        return (self.signal(key, True, ts, **values),) if fresh else ()

    def tick(self, now: int, values: Values) -> Found:
        """Resolve an alert that has been open long enough."""
        after = int(self.rule.resolve_after_s * 1000)
        for key, since in self.open.items():
            if now - since >= after:
                del self.open[key]
                return (self.signal(key, False, now),)
        return ()

    def restore(self, restored: Mapping[str, int]) -> None:
        """Keep the open alerts open, since when they fired."""
        prefix = self.prefix
        for fingerprint, since in restored.items():
            if fingerprint.startswith(prefix):
                self.open.setdefault(fingerprint.removeprefix(prefix), since)


class Communication(Protocol):
    """The check that judges a device's communication (one per device at the most)."""

    rule: Any

    def reading(self, ts: int, values: Values) -> Found:
        """Judge a reading: the device is heard."""
        ...

    def tick(self, now: int, values: Values) -> Found:
        """Let time pass until ``now`` (ms): a silence may have become too long."""
        ...

    def heard(self, ts: int, report_every_s: float | None) -> None:
        """The device was heard at ``ts`` (ms), reporting every ``report_every_s``."""
        ...

    def state(self, ts: int, state: str, error: str | None) -> Found:
        """Judge the communication state its gateway reports."""
        ...

    def carry(self, before: Communication) -> None:
        """Keep what ``before`` (the check of the same device before a recompile) knew."""
        ...

    def restore(self, restored: Mapping[str, int]) -> None:
        """Start from the alerts open before a restart."""
        ...


def compare(point: str, test: Callable[[float], bool]) -> Callable[[Values], bool | None]:
    """A condition on a numeric point (None when the point is missing or not a number)."""

    def judge(values: Values) -> bool | None:
        value = values.get(point)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return test(value)

    return judge


def truthy(value: Value | None) -> bool:
    """Whether a flag is set: True, or a number other than 0."""
    return value is True or (isinstance(value, int | float) and value != 0)


def holds(condition: Condition | Any, value: Value | None) -> bool:
    """Whether ``point op value`` holds for ``value`` (False for a value of another kind)."""
    if value is None:
        return False
    try:
        return bool(OPERATORS[str(condition.op)](value, condition.value))
    except TypeError:
        return False
