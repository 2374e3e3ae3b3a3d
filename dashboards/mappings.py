"""Value mappings: how states, flags and severities read and are coloured, on every dashboard."""

from __future__ import annotations

from typing import Any

from dashboards.thresholds import BLUE, GREEN, ORANGE, RED, SEVERITY_COLOURS


def value_mappings(*entries: tuple[str, str, str]) -> list[dict[str, Any]]:
    """Return Grafana value mappings from ``(value, text, colour)``; booleans as ``"true"``."""
    options = {
        value: {"text": text, "color": colour, "index": index}
        for index, (value, text, colour) in enumerate(entries)
    }
    return [{"type": "value", "options": options}]


ON_OFF = value_mappings(("true", "on", BLUE), ("false", "off", "transparent"))
"""A boolean that says something runs or is in use (a projector, an ignition)."""

FLAG = value_mappings(("true", "yes", RED), ("false", "no", GREEN))
"""A boolean that is bad when set (a fault, on battery, tamper)."""

DEVICE_STATES = value_mappings(
    ("online", "online 在线", GREEN),
    ("degraded", "degraded 降级", ORANGE),
    ("offline", "offline 离线", RED),
)
"""A device's communication state (``facmon_states``)."""

SEVERITIES = value_mappings(*((s, s, c) for s, c in SEVERITY_COLOURS.items()))
"""An alert's severity."""

ALERT_STATES = value_mappings(
    ("firing", "firing", RED),
    ("acknowledged", "acknowledged", ORANGE),
    ("resolved", "resolved", GREEN),
)
"""An alert's state."""

DOOR_STATES = value_mappings(("open", "open 开", ORANGE), ("closed", "closed 关", GREEN))
"""A door's position contact."""

RUNNING = value_mappings(("true", "on", GREEN), ("false", "off", RED))
"""A boolean that says equipment that should run does (a precision AC unit)."""
