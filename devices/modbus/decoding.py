"""Decode one point from its registers or bits into engineering values (pure)."""

from __future__ import annotations

import decimal
import functools
import math
from collections.abc import Sequence

from devices.modbus.codec import CodecError, PointType, decode, encode
from devices.profile import Point
from facmon.types import Value

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def decode_point(point: Point, raw: Sequence[int] | Sequence[bool]) -> dict[str, Value]:
    """Return the point's value (and, for a ``bitfield``, one boolean per flag).

    ``raw`` holds exactly the point's registers (or its one bit). Integers stay integers
    unless scaled; float32 values carry their 7 significant digits.

    Raises:
        CodecError: wrong register count, or a value that is not finite.
    """
    if len(raw) != point.count:
        raise CodecError(f"{point.name}: needs {point.count} registers, got {len(raw)}")
    if point.type is PointType.BOOL:
        return {point.name: bool(raw[0])}
    value = decode([int(r) for r in raw], point.type, point.order)
    if point.type is PointType.BITFIELD:
        assert isinstance(value, int)
        result: dict[str, Value] = {point.name: value}
        for bit, flag in point.flags.items():
            result[flag.name] = bool(value >> bit & 1)
        return result
    if isinstance(value, int) and value in point.invalid:
        raise CodecError(f"{point.name}: raw value {value} means no reading")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CodecError(f"{point.name}: {value} is not a finite number")
        if point.type is PointType.FLOAT32:
            value = float(f"{value:.7g}")
    scaled = engineering(point, value)
    if isinstance(scaled, float) and not math.isfinite(scaled):
        raise CodecError(f"{point.name}: {value} scales to {scaled}, not a finite number")
    return {point.name: scaled}


def engineering(point: Point, raw: int | float | str) -> Value:
    """Apply the point's scale and offset; unscaled integers stay integers.

    An unscaled uint64 beyond the int64 range becomes a float. A scaled integer is rounded
    to the decimals of its scale and offset (2301 * 0.1 is
    230.1, not 230.10000000000002); a scaled float keeps 9 decimals.
    """
    if isinstance(raw, str):
        return raw
    if point.scale == 1.0 and point.offset == 0.0:
        if isinstance(raw, int) and not _INT64_MIN <= raw <= _INT64_MAX:
            return float(raw)  # a uint64 beyond int64: the contract and InfluxDB carry int64
        return raw
    digits = max(_decimals(point.scale), _decimals(point.offset)) if isinstance(raw, int) else 9
    return round(raw * point.scale + point.offset, digits)


@functools.cache
def _decimals(number: float) -> int:
    exponent = decimal.Decimal(repr(number)).normalize().as_tuple().exponent
    return min(max(-int(exponent), 0), 12)


def encode_point(point: Point, value: Value) -> list[int] | list[bool]:
    """Return the registers (or the one bit) that make ``point`` read ``value``.

    The inverse of :func:`decode_point` for a write: the value is checked against the
    point's ``min`` and ``max``, unscaled, and encoded in the point's type and byte order.

    Raises:
        CodecError: the value is of the wrong kind, outside the limits, or does not fit.
    """
    if point.type is PointType.BOOL:
        if not isinstance(value, bool):
            raise CodecError(f"{point.name} takes true or false, not {value!r}")
        return [value]
    if point.type is PointType.STRING:
        if not isinstance(value, str):
            raise CodecError(f"{point.name} takes a string, not {value!r}")
        return encode(value, point.type, point.order, point.length)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CodecError(f"{point.name} takes a finite number, not {value!r}")
    if point.min is not None and value < point.min:
        raise CodecError(f"{point.name}: {value} is below the minimum {point.min}")
    if point.max is not None and value > point.max:
        raise CodecError(f"{point.name}: {value} is above the maximum {point.max}")
    if point.enum and value not in point.enum:
        raise CodecError(f"{point.name}: {value} is not one of {sorted(point.enum)}")
    raw = (value - point.offset) / point.scale
    if not math.isfinite(raw):  # a huge value over a small scale: round() would overflow
        raise CodecError(f"{point.name}: {value} does not fit {point.type}")
    if point.type not in (PointType.FLOAT32, PointType.FLOAT64):
        raw = round(raw)
    return encode(raw, point.type, point.order, point.length)
