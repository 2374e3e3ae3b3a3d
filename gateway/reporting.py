"""Report by exception: publish a point only when it moved beyond its deadband (pure)."""

from __future__ import annotations

from collections.abc import Mapping

from devices.profile import Profile
from facmon.types import Value


class ChangeFilter:
    """Remembers what was last published per point and decides what to publish next.

    A point is published when it is new, when it changed by more than its deadband (any
    change for points without one, and for booleans and strings), when its quality changed,
    or when it was last published ``max_age_s`` or more ago (the heartbeat).
    """

    def __init__(self, profile: Profile, max_age_s: float) -> None:
        """Take the deadbands from ``profile``."""
        self.max_age_s = max_age_s
        self._deadband = {p.name: p.deadband or 0.0 for p in profile.points}
        self._last: dict[str, tuple[Value, float]] = {}
        self._quality: dict[str, str] = {}

    def select(
        self, values: Mapping[str, Value], quality: Mapping[str, str], now: float
    ) -> tuple[dict[str, Value], dict[str, str]]:
        """Return the values and quality flags worth publishing at ``now`` (seconds)."""
        recovered = set(self._quality) - set(quality)
        sent: dict[str, Value] = {}
        for name, value in values.items():
            last = self._last.get(name)
            if (
                last is None
                or name in recovered
                or now - last[1] >= self.max_age_s
                or self._moved(name, last[0], value)
            ):
                sent[name] = value
                self._last[name] = (value, now)
        flags = {name: flag for name, flag in quality.items() if self._quality.get(name) != flag}
        self._quality = dict(quality)
        return sent, flags

    def _moved(self, name: str, before: Value, now: Value) -> bool:
        if type(before) is not type(now) or isinstance(now, bool | str):
            return before != now
        assert isinstance(before, int | float)
        return abs(float(now) - float(before)) > self._deadband.get(name, 0.0)
