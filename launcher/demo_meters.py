"""The demo's metering trees (pure): which meter is upstream of which, in the sim and registry.

Declared here once, so that the simulated counters add up as the registry says they do.
"""

from __future__ import annotations

from typing import Any

SUB_METERS = {"pm-b1-main": ["pm-b1-hvac", "pm-b1-201"], "pm-b2-main": ["pm-b2-light", "pm-b2-201"]}
"""Each main meter and its sub-meters (their assets' ``meter_parent`` is the main meter)."""
ADDITIVE = ["import_energy_kwh", "active_power_kw"]
"""The meters' points a main meter sums over its sub-meters (plus its own remainder)."""


def meter_parent(device: str) -> str | None:
    """The asset upstream of ``device``'s (assets are named as their devices), if any."""
    return next((main for main, parts in SUB_METERS.items() if device in parts), None)


def sums() -> list[dict[str, Any]]:
    """``facmon sim``'s ``sums``: each main meter counts its sub-meters and a remainder."""
    return [{"device": m, "parts": p, "points": ADDITIVE} for m, p in SUB_METERS.items()]
