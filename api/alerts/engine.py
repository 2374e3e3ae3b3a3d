"""The detection engine: each reading, event and state message judged by the rules (pure).

Rules are compiled per device into checks once (when the device, its profile or its place
in the registry becomes known), so judging a reading is a dictionary update and a few
comparisons. The engine keeps the newest value of every point of every device, because a
gateway that reports on change sends only the points that moved.

Its output is :class:`Signal`: a rule started or stopped holding for a subject (a device,
or a gateway). What to do with a signal (an alert, a notification) is
:mod:`api.alerts.manager`'s business.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from api.alerts.calendar import Calendar
from api.alerts.rules import (
    AccessAfterHours,
    CommLoss,
    DeniedBurst,
    DoorForced,
    DoorHeldOpen,
    Faults,
    Geofence,
    Idle,
    LongIdling,
    Movement,
    RuleSet,
    Speeding,
    Tamper,
    Threshold,
)
from devices.profile import OPERATORS, Condition, Profile
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


class _Check:
    """One rule on one device: judges readings, events and the passing of time."""

    __slots__ = ("labels", "rule", "working")

    def __init__(self, rule: Any, labels: dict[str, str], calendar: Calendar) -> None:
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
        return ()

    def event(self, ts: int, kind: str, attrs: Values, values: Values) -> Found:
        return ()

    def tick(self, now: int, values: Values) -> Found:
        return ()

    def signal(self, key: str, firing: bool, ts: int, **values: Value) -> Signal:
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


class _Held(_Check):
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
        super().__init__(rule, labels, calendar)
        self.bad, self.clear = bad, clear
        self.for_ms = int(getattr(rule, "for_s", 0.0) * 1000)
        self.key, self.severity, self.shown = key, severity or rule.severity, shown
        self.pending: int | None = None
        self.firing = False

    def reading(self, ts: int, values: Values) -> Found:
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
        if self.firing or self.pending is None:
            return ()
        if self.working is not None and not self.working(now):
            self.pending = None
            return ()
        return self._due(now, values)

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


class _Flags(_Check):
    """A profile's fault flags and fault values, all in one check.

    Most readings of most devices carry them and they are rarely set: one loop costs less
    than a check per flag.
    """

    __slots__ = ("conditions", "firing", "flags", "for_ms", "pending", "tests")

    def __init__(
        self,
        rule: Faults,
        labels: dict[str, str],
        calendar: Calendar,
        tests: list[tuple[str, str, str, Callable[[Value], bool]]],
    ) -> None:
        super().__init__(rule, labels, calendar)
        self.tests = tests
        """(key, point, severity, test of the point's value) per fault."""
        self.flags = tuple(point for _, point, _, test in tests if test is _truthy)
        self.conditions = tuple(
            (point, test.compare, test.level)  # type: ignore[attr-defined]
            for _, point, _, test in tests
            if test is not _truthy
        )
        self.for_ms = int(rule.for_s * 1000)
        self.pending: dict[str, int] = {}
        self.firing: set[str] = set()

    def reading(self, ts: int, values: Values) -> Found:
        if not self.firing and not self.pending and not self._any_set(values):
            return ()  # the usual case: nothing set, nothing to clear, decided in one pass
        active = self.working is None or self.working(ts)
        found: Found = ()
        for key, point, severity, test in self.tests:
            value = values.get(point)
            if value is None:
                continue
            if test is _truthy:  # a flag: most often False, decided without a call
                bad = active and (value is True or (value is not False and _truthy(value)))
            else:
                bad = active and test(value)
            if key in self.firing:
                if not bad:
                    self.firing.discard(key)
                    found += (self._signal(key, severity, False, ts, point, value),)
            elif bad:
                since = self.pending.setdefault(key, ts)
                if ts - since >= self.for_ms:
                    del self.pending[key]
                    self.firing.add(key)
                    found += (self._signal(key, severity, True, ts, point, value),)
            elif key in self.pending:
                del self.pending[key]
        return found

    def tick(self, now: int, values: Values) -> Found:
        if not self.pending:
            return ()
        return self.reading(now, values)

    def _any_set(self, values: Values) -> bool:
        """Whether a flag may be set or a fault value hold (the exact test follows)."""
        get = values.get
        if any(map(get, self.flags)):  # one pass in C over the usually-False flags
            return True
        for point, compare, level in self.conditions:
            value = get(point)
            if value is not None:
                try:
                    if compare(value, level):
                        return True
                except TypeError:  # a value of another kind: not this fault
                    pass
        return False

    def _signal(
        self, key: str, severity: str, firing: bool, ts: int, point: str, value: Value
    ) -> Signal:
        signal = self.signal(key, firing, ts, **{point: value})
        signal.severity = severity
        return signal


class _Instant(_Check):
    """Alerts raised by one moment (an event): resolved by hand or after a while."""

    __slots__ = ("open",)

    def __init__(self, rule: Any, labels: dict[str, str], calendar: Calendar) -> None:
        super().__init__(rule, labels, calendar)
        self.open: dict[str, int] = {}
        """Key → when it fired."""

    def raise_(self, key: str, ts: int, **values: Value) -> Found:
        if self.working is not None and not self.working(ts):
            return ()
        fresh = key not in self.open
        self.open[key] = ts
        return (self.signal(key, True, ts, **values),) if fresh else ()

    def tick(self, now: int, values: Values) -> Found:
        after = int(self.rule.resolve_after_s * 1000)
        for key, since in self.open.items():
            if now - since >= after:
                del self.open[key]
                return (self.signal(key, False, now),)
        return ()


class _DoorForced(_Instant):
    __slots__ = ("granted_at", "was_open")

    def __init__(self, rule: DoorForced, labels: dict[str, str], calendar: Calendar) -> None:
        super().__init__(rule, labels, calendar)
        self.granted_at = -(10**15)
        self.was_open: bool | None = None

    def event(self, ts: int, kind: str, attrs: Values, values: Values) -> Found:
        if kind == self.rule.granted:
            self.granted_at = ts
        elif kind == self.rule.forced:
            return self.raise_("", ts, **attrs)
        return ()

    def reading(self, ts: int, values: Values) -> Found:
        if self.rule.point not in values:
            return ()
        now_open = values[self.rule.point] == self.rule.open_value
        opened = now_open and self.was_open is False
        self.was_open = now_open
        if opened and ts - self.granted_at > self.rule.grant_window_s * 1000:
            return self.raise_("", ts)
        return ()


class _AfterHours(_Instant):
    __slots__ = ()

    def event(self, ts: int, kind: str, attrs: Values, values: Values) -> Found:
        if kind == self.rule.event:
            return self.raise_("", ts, **attrs)
        return ()


class _DeniedBurst(_Instant):
    __slots__ = ("seen",)

    def __init__(self, rule: DeniedBurst, labels: dict[str, str], calendar: Calendar) -> None:
        super().__init__(rule, labels, calendar)
        self.seen: dict[str, deque[int]] = {}

    def event(self, ts: int, kind: str, attrs: Values, values: Values) -> Found:
        rule = self.rule
        if kind != rule.event:
            return ()
        key = str(attrs.get(rule.card_attr, "")) if rule.by == "card" else ""
        times = self.seen.setdefault(key, deque(maxlen=rule.count))
        times.append(ts)
        if len(times) == rule.count and ts - times[0] <= rule.within_s * 1000:
            return self.raise_(key, ts, count=rule.count, **attrs)
        return ()


class _Tamper(_Held):
    __slots__ = ("instant",)

    def __init__(self, rule: Tamper, labels: dict[str, str], calendar: Calendar) -> None:
        point = rule.point
        super().__init__(rule, labels, calendar, lambda v: _truthy(v.get(point)), shown=(point,))
        self.instant = _Instant(rule, labels, calendar)

    def event(self, ts: int, kind: str, attrs: Values, values: Values) -> Found:
        if kind == self.rule.event:
            return self.instant.raise_("event", ts, **attrs)
        return ()

    def tick(self, now: int, values: Values) -> Found:
        return super().tick(now, values) + self.instant.tick(now, values)


class _Silence(_Check):
    """Communication loss: the gateway says the device is offline, or it has gone silent."""

    __slots__ = ("every_ms", "last", "offline", "silent")

    def __init__(self, rule: CommLoss, labels: dict[str, str], calendar: Calendar) -> None:
        super().__init__(rule, labels, calendar)
        self.every_ms = int(rule.silent_s * 1000)
        self.last: int | None = None
        self.offline = self.silent = False

    def heard(self, ts: int, report_every_s: float | None) -> None:
        if report_every_s:
            self.every_ms = int(report_every_s * self.rule.factor * 1000)
        self.last = max(ts, self.last or ts)

    def reading(self, ts: int, values: Values) -> Found:
        self.last = max(ts, self.last or ts)
        if self.silent:
            self.silent = False
            return (self.signal("silent", False, ts),)
        return ()

    def state(self, ts: int, state: str, error: str | None) -> Found:
        offline = state == "offline"
        if offline == self.offline:
            return ()
        self.offline = offline
        return (self.signal("state", offline, ts, error=error or ""),)

    def tick(self, now: int, values: Values) -> Found:
        if self.silent or self.offline or self.last is None:
            return ()
        if now - self.last > self.every_ms:
            self.silent = True
            return (self.signal("silent", True, now, silent_s=round((now - self.last) / 1000)),)
        return ()


class _Idle(_Check):
    """Not in use for ``for_s`` of working time; or a counter that stopped increasing."""

    __slots__ = ("calendar", "firing", "idle_s", "in_use", "last", "last_value", "since", "using")

    def __init__(self, rule: Idle, labels: dict[str, str], calendar: Calendar, in_use: Any) -> None:
        super().__init__(rule, labels, calendar)
        self.calendar, self.in_use = calendar, in_use
        self.idle_s = 0.0
        self.last: int | None = None
        self.since: int | None = None  # counters: when it last increased
        self.last_value: float | None = None
        self.firing = self.using = False

    def reading(self, ts: int, values: Values) -> Found:
        point = self.in_use.point
        if point not in values:
            return ()
        if self.in_use.increases:
            value = values[point]
            if isinstance(value, bool) or not isinstance(value, int | float):
                return ()
            if self.last_value is None or value > self.last_value or self.since is None:
                self.since = ts
                self.last_value = float(value)
                return self._stop(ts)
            return self._judge(ts)
        if self.last is not None and not self.using:  # the time since, as it was then
            self.idle_s += self.calendar.working_seconds(self.last, ts)
        self.last, self.using = ts, _holds(self.in_use, values[point])
        if self.using:
            self.idle_s = 0.0
            return self._stop(ts)
        return self._judge(ts)

    def tick(self, now: int, values: Values) -> Found:
        if self.in_use.increases:
            return self._judge(now)
        if self.last is not None and not self.using and now > self.last:
            self.idle_s += self.calendar.working_seconds(self.last, now)
            self.last = now
            return self._judge(now)
        return ()

    def _judge(self, ts: int) -> Found:
        rule = self.rule
        if rule.unchanged_days is not None and self.in_use.increases:
            idle = self.since is not None and ts - self.since >= rule.unchanged_days * 86_400_000
        else:
            idle = self.idle_s >= rule.for_s
        if idle and not self.firing:
            self.firing = True
            return (self.signal("", True, ts, idle_h=round(self.idle_s / 3600, 1)),)
        return ()

    def _stop(self, ts: int) -> Found:
        if self.firing:
            self.firing = False
            return (self.signal("", False, ts),)
        return ()


@dataclass
class Usage:
    """Time in use per local day of one device (for utilization)."""

    in_use: Any
    calendar: Calendar
    gap_ms: int
    """A silence longer than this is not counted (neither in use nor not)."""
    last: int | None = None
    using: bool = False
    previous: float | None = None
    """Counters: the value before, to tell whether it increased."""
    days: dict[date, list[float]] = field(default_factory=dict)
    """Day → [seconds in use, seconds observed]."""
    _day: tuple[int, int, date | None] = (0, -1, None)
    """The local day last counted: [from, until) in epoch ms, and the date."""

    def reading(self, ts: int, values: Values) -> None:
        """Count the time since the previous reading as it was then (in use or not)."""
        point = self.in_use.point
        if point not in values:
            return
        last = self.last
        if last is not None and 0 < ts - last <= self.gap_ms:
            since, until, day = self._day
            if not since <= last < until or day is None:
                day = datetime.fromtimestamp(last / 1000, self.calendar.zone).date()
                start = datetime.combine(day, datetime.min.time(), self.calendar.zone)
                since = int(start.timestamp() * 1000)
                self._day = (since, since + 86_400_000, day)
            totals = self.days.setdefault(day, [0.0, 0.0])
            seconds = (ts - last) / 1000
            totals[1] += seconds
            if self.using:
                totals[0] += seconds
        if self.in_use.increases:
            value = values[point]
            if isinstance(value, int | float) and not isinstance(value, bool):
                self.using = self.previous is not None and value > self.previous
                self.previous = float(value)
        else:
            self.using = _holds(self.in_use, values[point])
        self.last = ts

    def take(self) -> dict[date, list[float]]:
        """The totals counted since the last call."""
        days, self.days = self.days, {}
        return days


@dataclass
class _Device:
    labels: dict[str, str]
    checks: list[_Check]
    silence: _Silence | None
    usage: Usage | None
    values: Values = field(default_factory=dict)


class Engine:
    """Judges every message of every device by the rules that apply to it."""

    def __init__(self, rules: RuleSet, profiles: Mapping[str, Profile]) -> None:
        """Use ``rules``; ``profiles`` by name (for fault flags and "in use")."""
        self.rules = rules
        self.profiles = profiles
        self.devices: dict[str, _Device] = {}
        self.places: dict[str, dict[str, str]] = {}
        """Device → what the registry says of it (asset, room, building, category, ...)."""
        self.seen: dict[str, dict[str, Any]] = {}
        """Device → what its messages say (site, gateway, profile, report_every_s)."""
        self.gateways: dict[tuple[str, str], bool] = {}
        self.restored: dict[str, int] = {}

    # -- what the engine is told ---------------------------------------------------------

    def place(self, places: Mapping[str, dict[str, str]]) -> None:
        """The registry's labels per device (asset, room, room_kind, building, category)."""
        self.places = dict(places)
        for device in list(self.devices):
            self._compile(device)

    def restore(self, open_alerts: Mapping[str, int]) -> None:
        """Alerts still open from before a restart (fingerprint → when they fired).

        Their checks start as firing, so that a condition that still holds does not fire
        again, and one that no longer holds clears at the next reading.
        """
        self.restored = dict(open_alerts)

    def data(self, site: str, gateway: str, device: str, ts: int, values: Values) -> list[Signal]:
        """Judge a reading."""
        watch = self.devices.get(device) or self._watch(site, gateway, device)
        watch.values.update(values)
        now = watch.values
        out: list[Signal] = []
        for check in watch.checks:
            found = check.reading(ts, now)
            if found:
                out += found
        if watch.silence is not None:
            out += watch.silence.reading(ts, now)
        if watch.usage is not None:
            watch.usage.reading(ts, now)
        return out

    def event(
        self, site: str, gateway: str, device: str, ts: int, kind: str, attrs: Values
    ) -> list[Signal]:
        """Judge an event (door forced, access granted, card denied, tamper)."""
        watch = self._watch(site, gateway, device)
        if watch.silence is not None:
            watch.silence.heard(ts, None)
        out: list[Signal] = []
        for check in watch.checks:
            out += check.event(ts, kind, attrs, watch.values)
        return out

    def state(
        self,
        site: str,
        gateway: str,
        device: str,
        ts: int,
        state: str,
        error: str | None,
        profile: str | None,
        report_every_s: float | None,
    ) -> list[Signal]:
        """Take a device's communication state (and its profile and reporting interval)."""
        seen = self.seen.setdefault(device, {})
        changed = (seen.get("profile"), seen.get("site")) != (profile, site)
        seen.update(site=site, gateway=gateway, profile=profile, report_every_s=report_every_s)
        if changed or device not in self.devices:
            self._compile(device)
        watch = self.devices[device]
        if watch.silence is None:
            return []
        watch.silence.heard(ts, report_every_s)
        return list(watch.silence.state(ts, state, error))

    def gateway(self, site: str, gateway: str, ts: int, online: bool) -> list[Signal]:
        """Take a gateway's presence: offline (its will message) is a communication loss."""
        if self.gateways.get((site, gateway), True) == online:
            self.gateways[(site, gateway)] = online
            return []
        self.gateways[(site, gateway)] = online
        labels = {"site": site, "gateway": gateway, "device": ""}
        for rule in self.rules.for_device(labels):
            if isinstance(rule, CommLoss):
                subject = f"{site}/{gateway}"
                return [Signal(rule, subject, "gateway", not online, ts, labels, {}, rule.severity)]
        return []

    def tick(self, now: int) -> list[Signal]:
        """Let time pass: durations reached with no new message, silences, auto-resolution."""
        out: list[Signal] = []
        for watch in self.devices.values():
            for check in watch.checks:
                out += check.tick(now, watch.values)
            if watch.silence is not None:
                out += watch.silence.tick(now, watch.values)
        return out

    def usage(self) -> dict[str, dict[date, list[float]]]:
        """Time in use per device and day, counted since the last call."""
        return {
            device: days
            for device, watch in self.devices.items()
            if watch.usage is not None and (days := watch.usage.take())
        }

    # -- compiling -----------------------------------------------------------------------

    def _watch(self, site: str, gateway: str, device: str) -> _Device:
        watch = self.devices.get(device)
        if watch is None:
            self.seen.setdefault(device, {}).update(site=site, gateway=gateway)
            watch = self._compile(device)
        return watch

    def _compile(self, device: str) -> _Device:
        seen = self.seen.get(device, {})
        labels = {
            **self.places.get(device, {}),
            "device": device,
            "site": seen.get("site", ""),
            "gateway": seen.get("gateway", ""),
            "profile": seen.get("profile") or "",
        }
        profile = self.profiles.get(labels["profile"])
        if profile is not None:
            labels["equipment"] = profile.category.value
        labels = {k: v for k, v in labels.items() if v is not None}
        calendar = self.rules.calendar(labels["site"], labels.get("building"))
        checks: list[_Check] = []
        silence: _Silence | None = None
        for rule in self.rules.for_device(labels):
            if isinstance(rule, CommLoss):
                silence = silence or _Silence(rule, labels, calendar)
                if seen.get("report_every_s"):
                    silence.every_ms = int(seen["report_every_s"] * rule.factor * 1000)
            else:
                checks.extend(_checks(rule, labels, calendar, profile))
        usage = None
        if profile is not None and profile.in_use is not None:
            gap_s = 3 * (seen.get("report_every_s") or 300.0)
            usage = Usage(profile.in_use, calendar, int(gap_s * 1000))
        old = self.devices.get(device)
        watch = _Device(labels, checks, silence, usage, old.values if old else {})
        if old is not None:
            _carry(old, watch)
        for check in checks:
            _restore(check, self.restored)
        if silence is not None:
            silence.offline = f"{silence.rule.id}/{device}/state" in self.restored
            silence.silent = f"{silence.rule.id}/{device}/silent" in self.restored
        self.devices[device] = watch
        return watch


def _checks(
    rule: Any, labels: dict[str, str], calendar: Calendar, profile: Profile | None
) -> list[_Check]:
    """The checks ``rule`` makes for one device.

    A rule on points the device's profile does not have makes none: it could never hold,
    and judging it at every reading would cost time for nothing.
    """
    if profile is not None and not _has_points(profile, _points_of(rule)):
        return []
    if isinstance(rule, Threshold):
        point, level = rule.point, rule.above if rule.above is not None else rule.below
        assert level is not None
        clear = rule.clear if rule.clear is not None else level
        if rule.above is not None:
            bad = _compare(point, lambda v: v > level)
            done = _compare(point, lambda v: v <= clear)
        else:
            bad = _compare(point, lambda v: v < level)
            done = _compare(point, lambda v: v >= clear)
        return [_Held(rule, labels, calendar, bad, done, shown=(point,))]
    if isinstance(rule, Faults):
        return _fault_checks(rule, labels, calendar, profile)
    if isinstance(rule, Speeding | Movement):
        speed, above = rule.point, rule.above
        return [_Held(rule, labels, calendar, _compare(speed, lambda v: v > above), shown=(speed,))]
    if isinstance(rule, LongIdling):
        ignition, speed = rule.ignition, rule.speed

        def idling(values: Values) -> bool | None:
            if ignition not in values or speed not in values:
                return None
            moving = values[speed]
            return _truthy(values[ignition]) and isinstance(moving, int | float) and moving < 1

        return [_Held(rule, labels, calendar, idling, shown=(speed,))]
    if isinstance(rule, Geofence):
        return [_Held(rule, labels, calendar, _fence(rule), shown=(rule.latitude, rule.longitude))]
    if isinstance(rule, DoorHeldOpen):
        point, value = rule.point, rule.open_value

        def held(values: Values) -> bool | None:
            return values[point] == value if point in values else None

        return [_Held(rule, labels, calendar, held)]
    if isinstance(rule, DoorForced):
        return [_DoorForced(rule, labels, calendar)]
    if isinstance(rule, AccessAfterHours):
        return [_AfterHours(rule, labels, calendar)]
    if isinstance(rule, DeniedBurst):
        return [_DeniedBurst(rule, labels, calendar)]
    if isinstance(rule, Tamper):
        return [_Tamper(rule, labels, calendar)]
    if isinstance(rule, Idle):
        if profile is None or profile.in_use is None:
            return []
        return [_Idle(rule, labels, calendar, profile.in_use)]
    raise TypeError(f"no checks for {type(rule).__name__}")  # pragma: no cover


def _points_of(rule: Any) -> tuple[str, ...]:
    """The points a rule reads without which it cannot hold."""
    if isinstance(rule, Threshold | Speeding | Movement | DoorHeldOpen):
        return (rule.point,)
    if isinstance(rule, LongIdling):
        return (rule.ignition, rule.speed)
    if isinstance(rule, Geofence):
        return (rule.latitude, rule.longitude)
    return ()


def _has_points(profile: Profile, points: tuple[str, ...]) -> bool:
    names = {p.name for p in profile.points}
    names.update(flag.name for p in profile.points for flag in p.flags.values())
    return all(point in names for point in points)


def _fault_checks(
    rule: Faults, labels: dict[str, str], calendar: Calendar, profile: Profile | None
) -> list[_Check]:
    if profile is None:
        return []
    tests: list[tuple[str, str, str, Callable[[Value], bool]]] = [
        (flag.name, flag.name, flag.severity, _truthy)
        for point in profile.points
        for flag in point.flags.values()
        if flag.severity in ("warning", "critical")
    ]
    tests += [
        (f"{fault.point}{fault.op}{fault.value}", fault.point, fault.severity, _test(fault))
        for fault in profile.faults
    ]
    return [_Flags(rule, labels, calendar, tests)] if tests else []


def _compare(point: str, test: Callable[[float], bool]) -> Callable[[Values], bool | None]:
    def judge(values: Values) -> bool | None:
        value = values.get(point)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return test(value)

    return judge


def _test(condition: Condition) -> Callable[[Value], bool]:
    compare, level = _OPS[str(condition.op)], condition.value

    def test(value: Value) -> bool:
        try:
            return bool(compare(value, level))
        except TypeError:  # a value of another kind: not this fault
            return False

    test.compare, test.level = compare, level  # type: ignore[attr-defined]
    return test


def _truthy(value: Value | None) -> bool:
    return value is True or (isinstance(value, int | float) and value != 0)


_OPS = OPERATORS


def _holds(condition: Condition | Any, value: Value | None) -> bool:
    """Whether ``point op value`` holds for ``value`` (False for a value of another kind)."""
    if value is None:
        return False
    try:
        return bool(_OPS[str(condition.op)](value, condition.value))
    except TypeError:
        return False


def _fence(rule: Geofence) -> Callable[[Values], bool | None]:
    corners = rule.polygon
    lat_name, lon_name, exit_ = rule.latitude, rule.longitude, rule.on == "exit"

    def outside(values: Values) -> bool | None:
        lat, lon = values.get(lat_name), values.get(lon_name)
        if not isinstance(lat, int | float) or not isinstance(lon, int | float):
            return None
        inside = _inside(float(lat), float(lon), corners)
        return not inside if exit_ else inside

    return outside


def _inside(lat: float, lon: float, corners: list[tuple[float, float]]) -> bool:
    """Ray casting: whether the point is inside the polygon."""
    inside = False
    j = len(corners) - 1
    for i, (lat_i, lon_i) in enumerate(corners):
        lat_j, lon_j = corners[j]
        if (lon_i > lon) != (lon_j > lon) and lat < (lat_j - lat_i) * (lon - lon_i) / (
            lon_j - lon_i
        ) + lat_i:
            inside = not inside
        j = i
    return inside


def _carry(old: _Device, new: _Device) -> None:
    """Keep the state of the checks that a recompilation kept (same rule, same key)."""
    kept = {(type(c), c.rule.id, getattr(c, "key", "")): c for c in old.checks}
    for index, check in enumerate(new.checks):
        before = kept.get((type(check), check.rule.id, getattr(check, "key", "")))
        if before is not None and before.rule == check.rule:
            before.labels = check.labels
            new.checks[index] = before
    if old.silence is not None and new.silence is not None:
        new.silence.last = old.silence.last
        new.silence.offline, new.silence.silent = old.silence.offline, old.silence.silent
    if old.usage is not None and new.usage is not None:
        new.usage.days, new.usage.last = old.usage.days, old.usage.last


def _restore(check: _Check, restored: Mapping[str, int]) -> None:
    prefix = f"{check.rule.id}/{check.labels['device']}/"
    key = check.key if isinstance(check, _Held) else ""
    if isinstance(check, _Held | _Idle) and prefix + key in restored:
        check.firing = True
    if isinstance(check, _Flags):
        check.firing |= {key for key, *_ in check.tests if prefix + key in restored}
    for instant in (check, getattr(check, "instant", None)):
        if isinstance(instant, _Instant):
            for fingerprint, since in restored.items():
                if fingerprint.startswith(prefix):
                    instant.open.setdefault(fingerprint.removeprefix(prefix), since)
