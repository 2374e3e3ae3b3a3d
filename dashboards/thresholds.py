"""Threshold steps and colours: explicit, or taken from a device profile's fault values.

A panel coloured from the profile turns orange or red at the same values at which the
``device-fault`` alert rule reports the equipment at fault, so the dashboard and the
alerts cannot disagree; change the profile and ``facmon dashboards check`` asks for a
rebuild.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from functools import cache
from itertools import pairwise
from typing import TypedDict

from devices.library import resolve_profile
from devices.profile import Fault

GREEN = "green"
"""Normal."""
BLUE = "blue"
"""Informational (and too cold)."""
ORANGE = "orange"
"""Warning."""
RED = "red"
"""Critical, offline, denied."""
NEUTRAL = "text"
"""A number with no good or bad (a count, an energy total)."""

SEVERITY_COLOURS: dict[str, str] = {"info": BLUE, "warning": ORANGE, "critical": RED}
"""The colour of each alert severity."""

_RANK: dict[str, int] = {"info": 1, "warning": 2, "critical": 3}
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


class Step(TypedDict):
    """One Grafana threshold step: ``color`` from ``value`` up (``None``: the base)."""

    color: str
    value: float | None


def steps(base: str, *above: tuple[float, str]) -> list[Step]:
    """Return threshold steps: ``base`` colour, then ``(value, colour)`` from low to high.

    Raises:
        ValueError: the values do not increase.
    """
    values = [value for value, _ in above]
    if values != sorted(set(values)):
        raise ValueError(f"threshold values must increase: {values}")
    return [Step(color=base, value=None)] + [Step(color=c, value=v) for v, c in above]


def fault_steps(profile: str, point: str) -> list[Step]:
    """Return the steps that colour ``point`` by the fault values of ``profile``.

    Each range of values gets the colour of the worst severity of the faults that hold in
    it (green when none does): ``return_air_temp > 32 warning, > 35 critical`` gives green,
    orange from 32, red from 35; ``bus_voltage < 47 warning, < 45 critical`` gives red,
    orange from 45, green from 47.

    Raises:
        LookupError: the profile has no numeric fault value (``<``, ``<=``, ``>``, ``>=``)
            on ``point``; a renamed point must not leave a panel silently uncoloured.
        devices.library.ProfileError: no such profile, or it is invalid.
    """
    rules = [
        fault
        for fault in _profile_faults(profile)
        if fault.point == point
        and fault.op in _COMPARE
        and isinstance(fault.value, int | float)
        and not isinstance(fault.value, bool)
    ]
    if not rules:
        raise LookupError(f"profile {profile!r} has no numeric fault value on {point!r}")
    bounds = sorted({float(rule.value) for rule in rules})
    # One value inside each range: below the lowest bound, between bounds, above the top.
    probes = [bounds[0] - 1, *((a + b) / 2 for a, b in pairwise(bounds)), bounds[-1] + 1]
    result = [Step(color=_colour_at(rules, probes[0]), value=None)]
    for bound, probe in zip(bounds, probes[1:], strict=True):
        colour = _colour_at(rules, probe)
        if colour != result[-1]["color"]:
            result.append(Step(color=colour, value=bound))
    return result


def _colour_at(rules: list[Fault], value: float) -> str:
    held = [rule.severity for rule in rules if _COMPARE[rule.op](value, float(rule.value))]
    return SEVERITY_COLOURS[max(held, key=_RANK.__getitem__)] if held else GREEN


@cache
def _profile_faults(profile: str) -> tuple[Fault, ...]:
    return tuple(resolve_profile(profile).faults)
