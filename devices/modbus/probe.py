"""Every reading of a block of raw registers, to match a device's own display (pure)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from devices.modbus.codec import STRUCT_CODES, ByteOrder, PointType, decode, register_count
from devices.modbus.decoding import engineering
from devices.profile import Point

_NUMERIC = list(STRUCT_CODES)  # every numeric type, in declaration order


@dataclass(frozen=True, slots=True)
class Interpretation:
    """One way to read the registers: a type and byte order, the raw and the scaled value."""

    type: PointType
    order: ByteOrder
    registers: int
    value: int | float | str
    scaled: int | float | str | None = None
    matches_profile: bool = False


def interpretations(registers: Sequence[int], point: Point | None = None) -> list[Interpretation]:
    """Decode the start of ``registers`` under every type and byte order.

    Orders that give the same bytes for a type are listed once (a 16-bit value has only
    ``ABCD`` and ``BADC``). A string reads the whole block. With ``point`` (the profile's
    point at this address), each value is also shown scaled, and the profile's own type and
    order are marked.
    """
    rows: list[Interpretation] = []
    for point_type in [*_NUMERIC, PointType.STRING]:
        size = len(registers) if point_type is PointType.STRING else register_count(point_type)
        if size == 0 or size > len(registers):
            continue
        seen: set[object] = set()
        for order in ByteOrder:
            value = decode(list(registers[:size]), point_type, order)
            key = ("nan" if isinstance(value, float) and math.isnan(value) else value, size)
            if point_type is PointType.STRING:
                if order not in (ByteOrder.ABCD, ByteOrder.BADC):
                    continue
            elif key in seen and register_count(point_type) == 1:
                continue
            seen.add(key)
            scaled = None
            if point is not None and point_type is not PointType.STRING:
                scaled = engineering(point, value) if math.isfinite(float(value)) else value
            marked = (
                point is not None
                and point.type is point_type
                and (point.order is order or point_type is PointType.STRING)
            )
            rows.append(Interpretation(point_type, order, size, value, scaled, marked))
    return rows
