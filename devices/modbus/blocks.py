"""Decode a whole answered block at once (pure): the gateway's hot path.

:class:`BlockDecoder` is compiled once per request. Big-endian (``ABCD``) and little-endian
(``DCBA``) numbers, the common case, are read with one precompiled :class:`struct.Struct`
per byte order; word- or byte-swapped numbers, strings and bitfields are read one by one.
The results are exactly those of :func:`devices.modbus.decoding.decode_point`, point by point
(a property test holds them equal).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from devices.modbus.codec import STRUCT_CODES, ByteOrder, CodecError, PointType
from devices.modbus.decoding import decode_point, engineering
from devices.profile import Point
from facmon.types import Value


@dataclass(frozen=True, slots=True)
class _Run:
    """Points read together by one ``struct`` call."""

    layout: struct.Struct
    points: tuple[Point, ...]


def _direct_order(point: Point) -> str | None:
    """Return the struct byte-order prefix that reads the point directly, if one does."""
    if point.type not in STRUCT_CODES:
        return None
    if point.order is ByteOrder.ABCD:
        return ">"
    if point.order is ByteOrder.DCBA:
        return "<"
    if point.order is ByteOrder.BADC and point.count == 1:
        return "<"  # one register: byte-swapped is little-endian
    if point.order is ByteOrder.CDAB and point.count == 1:
        return ">"  # one register: word order does not apply
    return None


class BlockDecoder:
    """Decodes the block of one read request: registers as big-endian bytes, or bits."""

    def __init__(self, points: Sequence[Point], start: int, count: int, bits: bool) -> None:
        """Compile the reading of ``points`` from a block of ``count`` starting at ``start``."""
        self.start = start
        self.count = count
        self.bits = bits
        self._bit_points = tuple((p.name, (p.address or 0) - start) for p in points) if bits else ()
        self._runs: list[_Run] = []
        self._others: list[Point] = []
        if bits:
            return
        by_order: dict[str, list[Point]] = {">": [], "<": []}
        for point in sorted(points, key=lambda p: p.address or 0):
            prefix = _direct_order(point)
            if prefix is None:
                self._others.append(point)
            else:
                by_order[prefix].append(point)
        for prefix, group in by_order.items():
            if group:
                self._runs.append(_Run(struct.Struct(self._layout(prefix, group)), tuple(group)))

    def _layout(self, prefix: str, points: list[Point]) -> str:
        fmt, at = [prefix], self.start
        for point in points:
            address = point.address or 0
            if address > at:
                fmt.append(f"{2 * (address - at)}x")
            fmt.append(STRUCT_CODES[point.type])
            at = address + point.count
        return "".join(fmt)

    def decode(
        self, block: bytes | Sequence[int] | Sequence[bool]
    ) -> tuple[dict[str, Value], dict[str, str]]:
        """Return the values and ``bad`` flags of every point of the block.

        ``block`` is registers as big-endian bytes or as integers, or the bits of a coil or
        discrete-input block.
        """
        values: dict[str, Value] = {}
        quality: dict[str, str] = {}
        if self.bits:
            for name, offset in self._bit_points:
                if offset < len(block):
                    values[name] = bool(block[offset])
                else:
                    quality[name] = "bad"
            return values, quality
        block = (
            bytes(block)
            if isinstance(block, bytes | bytearray)
            else registers_to_bytes([int(r) for r in block])
        )
        if len(block) < 2 * self.count:  # a short answer: keep every point it holds whole
            self._decode_each([p for run in self._runs for p in run.points], block, values, quality)
        else:
            for run in self._runs:
                for point, raw in zip(run.points, run.layout.unpack_from(block), strict=True):
                    _store(point, raw, values, quality)
        self._decode_each(self._others, block, values, quality)
        return values, quality

    def _decode_each(
        self, points: list[Point], block: bytes, values: dict[str, Value], quality: dict[str, str]
    ) -> None:
        for point in points:
            offset = 2 * ((point.address or 0) - self.start)
            chunk = block[offset : offset + 2 * point.count]
            registers = list(struct.unpack(f">{len(chunk) // 2}H", chunk[: len(chunk) // 2 * 2]))
            try:
                values.update(decode_point(point, registers))
            except CodecError:
                quality[point.name] = "bad"
                quality.update((flag.name, "bad") for flag in point.flags.values())


def _store(
    point: Point, raw: int | float, values: dict[str, Value], quality: dict[str, str]
) -> None:
    if isinstance(raw, float):
        if not math.isfinite(raw):
            quality[point.name] = "bad"
            return
        if point.type is PointType.FLOAT32:
            raw = float(f"{raw:.7g}")
    elif raw in point.invalid:
        quality[point.name] = "bad"
        return
    value = engineering(point, raw)
    if isinstance(value, float) and not math.isfinite(value):  # a huge raw value, scaled
        quality[point.name] = "bad"
        return
    values[point.name] = value


def registers_to_bytes(registers: Sequence[int]) -> bytes:
    """Return registers as the big-endian bytes the wire carries."""
    return struct.pack(f">{len(registers)}H", *registers)
