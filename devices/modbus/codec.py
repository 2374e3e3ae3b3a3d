"""Pure encoding and decoding of Modbus register blocks (no I/O).

Registers are 16-bit words as the Modbus PDU carries them (big-endian on the wire, Modbus
Application Protocol v1.1b3 §4.2). Multi-register values follow one of four byte orders,
named by where the bytes of the big-endian value ``ABCD`` (``ABCDEFGH`` for 64 bits) land:

- ``ABCD`` big-endian, high word first (the Modbus default);
- ``CDAB`` words swapped, bytes in each word big-endian (64 bit: ``GHEFCDAB``);
- ``BADC`` words in order, bytes swapped in each word (64 bit: ``BADCFEHG``);
- ``DCBA`` little-endian (64 bit: ``HGFEDCBA``).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from enum import StrEnum


class CodecError(ValueError):
    """A value cannot be decoded from, or encoded into, registers."""


class PointType(StrEnum):
    """The data type of a point."""

    BOOL = "bool"
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    INT64 = "int64"
    UINT64 = "uint64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    STRING = "string"
    BITFIELD = "bitfield"


class ByteOrder(StrEnum):
    """Where the bytes of a multi-register value land (see the module docstring)."""

    ABCD = "ABCD"
    CDAB = "CDAB"
    BADC = "BADC"
    DCBA = "DCBA"


BYTE_ORDER_ALIASES: dict[str, ByteOrder] = {
    "abcd": ByteOrder.ABCD,
    "big": ByteOrder.ABCD,
    "big-endian": ByteOrder.ABCD,
    "be": ByteOrder.ABCD,
    "cdab": ByteOrder.CDAB,
    "word-swapped": ByteOrder.CDAB,
    "word-swap": ByteOrder.CDAB,
    "little-word": ByteOrder.CDAB,
    "mid-little": ByteOrder.CDAB,
    "badc": ByteOrder.BADC,
    "byte-swapped": ByteOrder.BADC,
    "byte-swap": ByteOrder.BADC,
    "mid-big": ByteOrder.BADC,
    "dcba": ByteOrder.DCBA,
    "little": ByteOrder.DCBA,
    "little-endian": ByteOrder.DCBA,
    "le": ByteOrder.DCBA,
}
"""Accepted spellings (lower case, ``_`` read as ``-``) of each byte order."""


def normalise_order(name: str) -> ByteOrder:
    """Return the byte order that ``name`` (or an alias of it) means.

    Raises:
        CodecError: ``name`` is not a known byte order or alias.
    """
    key = name.strip().lower().replace("_", "-")
    try:
        return BYTE_ORDER_ALIASES[key]
    except KeyError:
        known = ", ".join(o.value for o in ByteOrder)
        raise CodecError(f"unknown byte order {name!r}; use one of {known}") from None


STRUCT_CODES: dict[PointType, str] = {
    PointType.INT16: "h",
    PointType.UINT16: "H",
    PointType.INT32: "i",
    PointType.UINT32: "I",
    PointType.INT64: "q",
    PointType.UINT64: "Q",
    PointType.FLOAT32: "f",
    PointType.FLOAT64: "d",
}
"""The :mod:`struct` code of each numeric type (big-endian layouts are built from these)."""

INTEGER_TYPES = frozenset(t for t, code in STRUCT_CODES.items() if code not in "fd")
"""The integer types: the ones that take ``enum`` labels and ``invalid`` raw values."""


def register_count(point_type: PointType, length: int = 1) -> int:
    """Return how many 16-bit registers a value occupies (``length`` counts string registers).

    A ``bool`` occupies one coil or discrete input.
    """
    if point_type in (PointType.STRING, PointType.BITFIELD):
        return length
    if point_type is PointType.BOOL:
        return 1
    return struct.calcsize(STRUCT_CODES[point_type]) // 2


def _to_big_endian(raw: bytes, order: ByteOrder) -> bytes:
    """Reorder ``raw`` (register bytes as read) into big-endian; the mapping is an involution."""
    if order is ByteOrder.ABCD:
        return raw
    if order is ByteOrder.DCBA:
        return raw[::-1]
    swapped = bytearray(len(raw))
    swapped[0::2] = raw[1::2]
    swapped[1::2] = raw[0::2]
    if order is ByteOrder.BADC:
        return bytes(swapped)
    return bytes(swapped[::-1])  # CDAB: words reversed = all bytes reversed, then bytes swapped


def decode(
    registers: Sequence[int], point_type: PointType, order: ByteOrder = ByteOrder.ABCD
) -> int | float | str:
    """Decode one value from exactly its registers.

    A ``bitfield`` is the unsigned integer of its registers (bit 0 is the least significant).
    Strings read two characters per register, high byte first under ``ABCD``/``CDAB`` and
    low byte first under ``BADC``/``DCBA``; trailing NULs and spaces are stripped.

    Raises:
        CodecError: the register count does not fit the type, or a register is not 0..65535.
    """
    try:
        raw = struct.pack(f">{len(registers)}H", *registers)
    except struct.error:
        raise CodecError(f"registers must be 0..65535: {list(registers)[:8]}") from None
    if point_type is PointType.STRING:
        if order in (ByteOrder.BADC, ByteOrder.DCBA):
            raw = _to_big_endian(raw, ByteOrder.BADC)
        return raw.rstrip(b"\x00 ").decode("utf-8", errors="replace")
    if point_type is PointType.BITFIELD:
        return int.from_bytes(_to_big_endian(raw, order), "big")
    fmt = STRUCT_CODES.get(point_type)
    if fmt is None:
        raise CodecError(f"{point_type} is not a register type")
    if len(raw) != struct.calcsize(fmt):
        raise CodecError(
            f"{point_type} needs {struct.calcsize(fmt) // 2} registers, got {len(registers)}"
        )
    value: int | float = struct.unpack(">" + fmt, _to_big_endian(raw, order))[0]
    return value


def encode(
    value: int | float | str,
    point_type: PointType,
    order: ByteOrder = ByteOrder.ABCD,
    length: int = 1,
) -> list[int]:
    """Encode ``value`` into registers; the inverse of :func:`decode`.

    Raises:
        CodecError: the value does not fit the type (range, string length).
    """
    if point_type is PointType.STRING:
        data = str(value).encode("utf-8")
        if len(data) > 2 * length:
            raise CodecError(f"string of {len(data)} bytes does not fit {length} registers")
        raw = data.ljust(2 * length, b"\x00")
        if order in (ByteOrder.BADC, ByteOrder.DCBA):
            raw = _to_big_endian(raw, ByteOrder.BADC)
        return list(struct.unpack(f">{length}H", raw))
    if point_type is PointType.BITFIELD:
        if not isinstance(value, int) or not 0 <= value < 1 << (16 * length):
            raise CodecError(f"{value!r} does not fit a {16 * length}-bit bitfield")
        raw = _to_big_endian(value.to_bytes(2 * length, "big"), order)
        return list(struct.unpack(f">{length}H", raw))
    fmt = STRUCT_CODES.get(point_type)
    if fmt is None:
        raise CodecError(f"{point_type} is not a register type")
    if fmt not in "fd" and not isinstance(value, int):
        value = round(float(value))
    try:
        raw = struct.pack(">" + fmt, value)
    except (struct.error, OverflowError):
        raise CodecError(f"{value!r} does not fit {point_type}") from None
    return list(struct.unpack(f">{len(raw) // 2}H", _to_big_endian(raw, order)))
