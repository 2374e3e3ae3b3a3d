"""Decode one point from its registers or bits into engineering values (pure)."""

from __future__ import annotations

import decimal
import functools
import math
from collections.abc import Sequence

from devices.codec import CodecError, PointType, decode
from devices.profile import Point, Value


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
    return {point.name: engineering(point, value)}


def engineering(point: Point, raw: int | float | str) -> Value:
    """Apply the point's scale and offset; unscaled integers stay integers.

    A scaled integer is rounded to the decimals of its scale and offset (2301 * 0.1 is
    230.1, not 230.10000000000002); a scaled float keeps 9 decimals.
    """
    if isinstance(raw, str):
        return raw
    if point.scale == 1.0 and point.offset == 0.0:
        return raw
    digits = max(_decimals(point.scale), _decimals(point.offset)) if isinstance(raw, int) else 9
    return round(raw * point.scale + point.offset, digits)


@functools.cache
def _decimals(number: float) -> int:
    exponent = decimal.Decimal(repr(number)).normalize().as_tuple().exponent
    return min(max(-int(exponent), 0), 12)
