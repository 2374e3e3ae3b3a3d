"""``fault``: the profile's fault flags (severity warning/critical) and fault values."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

from pydantic import Field

from api.alerts.calendar import Calendar
from api.alerts.checks import Check, Found, Signal, Values, truthy
from api.alerts.kinds.base import RuleModel
from api.alerts.kinds.registry import RuleKind, Wording, register
from devices.profile import ABNORMAL, OPERATORS, Condition, Profile, point_of
from facmon.types import Duration, Value


class Faults(RuleModel):
    """The profile's fault flags (severity warning/critical) and fault values."""

    kind: Literal["fault"]
    for_s: Duration = Field(default=0.0, alias="for")


class Flags(Check):
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
        """Judge ``tests``: (key, point, severity, test of the point's value) per fault."""
        super().__init__(rule, labels, calendar)
        self.tests = tests
        """(key, point, severity, test of the point's value) per fault."""
        self.flags = tuple(point for _, point, _, test in tests if test is truthy)
        self.conditions = tuple(
            (point, test.compare, test.level)  # type: ignore[attr-defined]
            for _, point, _, test in tests
            if test is not truthy
        )
        self.for_ms = int(rule.for_s * 1000)
        self.pending: dict[str, int] = {}
        self.firing: set[str] = set()

    def reading(self, ts: int, values: Values) -> Found:
        """Fire each fault that has held for ``for_s``, clear each that no longer holds."""
        if not self.firing and not self.pending and not self._any_set(values):
            return ()  # the usual case: nothing set, nothing to clear, decided in one pass
        active = self.working is None or self.working(ts)
        found: Found = ()
        for key, point, severity, test in self.tests:
            value = values.get(point)
            if value is None:
                continue
            if test is truthy:  # a flag: most often False, decided without a call
                bad = active and (value is True or (value is not False and truthy(value)))
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
        """Fire the faults whose wait has become long enough."""
        if not self.pending:
            return ()
        return self.reading(now, values)

    def restore(self, restored: Mapping[str, int]) -> None:
        """Start with the faults whose alerts are open as firing."""
        prefix = self.prefix
        self.firing |= {key for key, *_ in self.tests if prefix + key in restored}

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


def _checks(
    rule: Faults, labels: dict[str, str], calendar: Calendar, profile: Profile | None
) -> list[Check]:
    if profile is None:
        return []
    tests: list[tuple[str, str, str, Callable[[Value], bool]]] = [
        (flag.name, flag.name, flag.severity, truthy)
        for point in profile.points
        for flag in point.flags.values()
        if flag.severity in ("warning", "critical")
    ]
    tests += [(fault.key, fault.point, fault.severity, _test(fault)) for fault in profile.faults]
    return [Flags(rule, labels, calendar, tests)] if tests else []


def _test(condition: Condition) -> Callable[[Value], bool]:
    compare, level = OPERATORS[str(condition.op)], condition.value

    def test(value: Value) -> bool:
        try:
            return bool(compare(value, level))
        except TypeError:  # a value of another kind: not this fault
            return False

    test.compare, test.level = compare, level  # type: ignore[attr-defined]
    return test


def _detail(profile: Profile | None, key: str) -> dict[str, str] | None:
    if profile is None:
        return None
    found = profile.fault(key)
    name = profile.name_of(key)
    description = found.description if found is not None else None
    return {
        "code": (found.code if found is not None else None) or "",
        **{f"name_{language}": name.say(language) for language in ("en", "zh")},
        **{
            f"description_{language}": description.say(language) if description else ""
            for language in ("en", "zh")
        },
    }


def _words(rule: Faults, said: Wording) -> str:
    detail, language = said.flag or {}, said.language
    # an unknown profile (or a key it lacks) still names no raw ``point op value``: the point
    name = detail.get(f"name_{language}") or _fallback(said.key, language)
    code, description = detail.get("code"), detail.get(f"description_{language}")
    said.fields["name"] = name
    said.fields["code"] = (f" ({code})" if language == "en" else f"（{code}）") if code else ""
    colon = ": " if language == "en" else "："
    said.fields["description"] = f"{colon}{description}" if description else ""
    return "fault"


def _fallback(key: str, language: str) -> str:
    return ABNORMAL.say(language).format(name=point_of(key).replace("_", " "))


register(
    RuleKind(
        "fault",
        Faults,
        {"fault": {"en": "{name}{code}{description}", "zh": "{name}{code}{description}"}},
        checks=_checks,
        words=_words,
        detail=_detail,
    )
)
