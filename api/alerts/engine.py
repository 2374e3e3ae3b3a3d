"""The detection engine: each reading, event and state message judged by the rules (pure).

Rules are compiled per device into checks once (when the device, its profile or its place
in the registry becomes known), so judging a reading is a dictionary update and a few
comparisons. Each rule's kind (:mod:`api.alerts.kinds`) makes its checks; the engine keeps
the newest value of every point of every device, because a gateway that reports on change
sends only the points that moved.

Its output is :class:`~api.alerts.checks.Signal`: a rule started or stopped holding for a
subject (a device, or a gateway). What to do with a signal (an alert, a notification) is
:mod:`api.alerts.manager`'s business.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from api.alerts.calendar import Calendar
from api.alerts.checks import Check, Communication, Signal, Values
from api.alerts.kinds.registry import KINDS, RuleKind
from api.alerts.rules import RuleSet
from api.alerts.usage import Usage
from devices.profile import Profile
from facmon import contract


@dataclass
class _Device:
    labels: dict[str, str]
    checks: list[Check]
    silence: Communication | None
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

    def judge(
        self, topic: contract.Topic, envelope: contract.Envelope, clock: Callable[[], float]
    ) -> list[Signal]:
        """Judge one message from the broker, by what it is (``clock``: seconds, now)."""
        site, gateway, device = str(topic.site), str(topic.gateway), str(topic.device)
        match envelope:
            case contract.DataEnvelope():
                return self.data(site, gateway, device, envelope.ts, envelope.values)
            case contract.EventEnvelope():
                ts, kind, attrs = envelope.ts, envelope.type, envelope.attrs
                return self.event(site, gateway, device, ts, kind, attrs)
            case contract.StateEnvelope():
                return self.state(
                    site,
                    gateway,
                    device,
                    envelope.since,
                    envelope.state,
                    envelope.error,
                    envelope.profile,
                    envelope.report_every_s,
                )
            case contract.StatusEnvelope() if topic.kind is contract.TopicKind.STATUS:
                # An offline status is usually the gateway's will, written when it connected:
                # the time it arrives is when the gateway was found gone.
                online = envelope.state == "online"
                return self.gateway(site, gateway, int(clock() * 1000), online)
        return []

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
            if KINDS[rule.kind].watch is not None:
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
        checks: list[Check] = []
        silence: Communication | None = None
        for rule in self.rules.for_device(labels):
            kind = KINDS[rule.kind]
            if kind.watch is not None:
                silence = kind.watch(rule, labels, calendar, silence, seen.get("report_every_s"))
            else:
                checks.extend(_checks(kind, rule, labels, calendar, profile))
        usage = None
        if profile is not None and profile.in_use is not None:
            gap_s = 3 * (seen.get("report_every_s") or 300.0)
            usage = Usage(profile.in_use, calendar, int(gap_s * 1000))
        old = self.devices.get(device)
        watch = _Device(labels, checks, silence, usage, old.values if old else {})
        if old is not None:
            _carry(old, watch)
        for check in checks:
            check.restore(self.restored)
        if silence is not None:
            silence.restore(self.restored)
        self.devices[device] = watch
        return watch


def _checks(
    kind: RuleKind, rule: Any, labels: dict[str, str], calendar: Calendar, profile: Profile | None
) -> list[Check]:
    """The checks ``rule`` makes for one device.

    A rule on points the device's profile does not have makes none: it could never hold,
    and judging it at every reading would cost time for nothing.
    """
    if kind.checks is None or (profile is not None and not _has_points(profile, kind.points(rule))):
        return []
    return kind.checks(rule, labels, calendar, profile)


def _has_points(profile: Profile, points: tuple[str, ...]) -> bool:
    names = {p.name for p in profile.points}
    names.update(flag.name for p in profile.points for flag in p.flags.values())
    return all(point in names for point in points)


def _carry(old: _Device, new: _Device) -> None:
    """Keep the state of the checks that a recompilation kept (same rule, same key)."""
    kept = {(type(c), c.rule.id, getattr(c, "key", "")): c for c in old.checks}
    for index, check in enumerate(new.checks):
        before = kept.get((type(check), check.rule.id, getattr(check, "key", "")))
        if before is not None and before.rule == check.rule:
            before.labels = check.labels
            new.checks[index] = before
    if old.silence is not None and new.silence is not None:
        new.silence.carry(old.silence)
    if old.usage is not None and new.usage is not None:
        new.usage.days, new.usage.last = old.usage.days, old.usage.last
