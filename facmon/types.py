"""The value types every component shares: identifiers, point values, severities, durations.

Each is declared here once; models import them instead of spelling a pattern again.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, StringConstraints

SLUG_MAX = 64
"""Longest identifier, in characters."""
SLUG_CHARS = "[a-z0-9_-]"
"""What an identifier may hold: lower-case ASCII letters, digits, ``_`` and ``-``."""
SLUG_PATTERN = f"^{SLUG_CHARS}+$"
"""An identifier as a regular expression (its length is bounded apart: :data:`SLUG_MAX`)."""

Slug = Annotated[
    str, StringConstraints(strict=True, pattern=SLUG_PATTERN, min_length=1, max_length=SLUG_MAX)
]
"""An identifier: ``[a-z0-9_-]``, 1 to 64 characters (sites, gateways, devices, points, ...)."""

Value = bool | int | float | str
"""A point's engineering value."""

Severity = Literal["info", "warning", "critical"]
"""How bad a fault or an alert is."""

SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")
"""The severities, least severe first."""

_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
_UNITS = {"d": 86_400.0, "h": 3_600.0, "m": 60.0, "s": 1.0}
_DURATION = re.compile(
    r"^(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$"
)


def parse_duration(value: object) -> float:
    """Return seconds from a number or a text like ``90``, ``30s``, ``1m30s``, ``2h``, ``1d``.

    Raises:
        ValueError: the value is not a duration.
    """
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if _NUMBER.match(text):
            return float(text)
        match = _DURATION.match(text)
        if match and any(match.groups()):
            return sum(
                float(amount) * _UNITS[unit]
                for amount, unit in zip(match.groups(), _UNITS, strict=True)
                if amount
            )
    raise ValueError(f"{value!r} is not a duration (use seconds, or e.g. 30s, 1m30s, 2h, 1d)")


Duration = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]
"""A length of time in seconds, written as a number or as ``90s``, ``15m``, ``2h``, ``1d``."""
