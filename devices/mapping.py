"""Map an MQTT-native device's own JSON message into point values and events (pure)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import orjson

from devices.modbus.codec import INTEGER_TYPES, PointType
from devices.modbus.decoding import engineering
from devices.profile import Point, Profile
from facmon.types import Value


class MappingError(ValueError):
    """The message is not a JSON object."""


@dataclass
class Mapped:
    """What one device message says: values, points it sent in a wrong form, events."""

    values: dict[str, Value] = field(default_factory=dict)
    quality: dict[str, str] = field(default_factory=dict)
    events: list[tuple[str, dict[str, Value]]] = field(default_factory=list)


def lookup(message: dict[str, Any], path: str) -> Any:
    """Return the value at dotted ``path``, or None when any step is missing."""
    current: Any = message
    for key in path.split("."):
        if not isinstance(current, dict) or key not in current:
            return None
        current = current[key]
    return current


def map_message(profile: Profile, payload: bytes) -> Mapped:
    """Map ``payload`` with the profile's point paths and event mappings.

    A point absent from the message is simply not reported; a point present in the wrong
    form (a string where a number is meant, NaN, an object) is flagged ``bad``.

    Raises:
        MappingError: the payload is not a JSON object.
    """
    try:
        message = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise MappingError(f"invalid JSON: {exc}") from None
    if not isinstance(message, dict):
        raise MappingError("the message is not a JSON object")
    mapped = Mapped()
    for point in profile.points:
        raw = lookup(message, point.path or point.name)
        if raw is None:
            continue
        value = _coerce(point, raw)
        if value is None:
            mapped.quality[point.name] = "bad"
        else:
            mapped.values[point.name] = value
    if profile.mqtt is not None:
        for event in profile.mqtt.events:
            if lookup(message, event.path) == event.equals:
                attrs = {name: lookup(message, path) for name, path in event.attrs.items()}
                mapped.events.append((event.type, {k: v for k, v in attrs.items() if _scalar(v)}))
    return mapped


def _coerce(point: Point, raw: Any) -> Value | None:
    if point.type is PointType.BOOL:
        if isinstance(raw, bool):
            return raw
        return bool(raw) if raw in (0, 1) and not isinstance(raw, float) else None
    if point.type is PointType.STRING:
        return raw if isinstance(raw, str) and len(raw) <= 1024 else None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        return None
    if point.type in INTEGER_TYPES and isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    value = engineering(point, raw)
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, int):  # the contract carries 64-bit integers (bools pass too)
        return -(2**63) <= value < 2**63
    return isinstance(value, bool | int | str) and not (
        isinstance(value, str) and len(value) > 1024
    )
