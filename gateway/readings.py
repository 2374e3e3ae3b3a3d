"""Turn raw register blocks into engineering values with quality flags (pure)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from devices.codec import CodecError, PointType, decode
from devices.profile import Point
from gateway.plan import ReadRequest

Value = bool | int | float | str


def decode_block(
    request: ReadRequest, block: Sequence[int] | Sequence[bool]
) -> tuple[dict[str, Value], dict[str, str]]:
    """Decode every point of ``request`` from the block the device answered.

    A point that cannot be decoded (short block, NaN or infinite float) gets quality ``bad``
    instead of a value; the other points are unaffected.
    """
    values: dict[str, Value] = {}
    quality: dict[str, str] = {}
    for point in request.points:
        offset = point.address - request.address
        raw = block[offset : offset + point.count]
        if len(raw) != point.count:
            quality[point.name] = "bad"
            continue
        if point.type is PointType.BOOL:
            values[point.name] = bool(raw[0])
            continue
        try:
            value = decode([int(r) for r in raw], point.type, point.order)
        except CodecError:
            quality[point.name] = "bad"
            continue
        if isinstance(value, float) and point.type is PointType.FLOAT32 and math.isfinite(value):
            value = float(f"{value:.7g}")  # float32 carries about 7 significant digits
        scaled = engineering(point, value)
        if isinstance(scaled, float) and not math.isfinite(scaled):
            quality[point.name] = "bad"
            continue
        values[point.name] = scaled
    return values, quality


def engineering(point: Point, raw: int | float | str) -> Value:
    """Apply the point's scale and offset; unscaled integers stay integers."""
    if isinstance(raw, str):
        return raw
    if point.scale == 1.0 and point.offset == 0.0:
        return raw
    return round(raw * point.scale + point.offset, 9)
