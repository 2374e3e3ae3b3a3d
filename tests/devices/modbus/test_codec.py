"""Register encoding and decoding: every type under every byte order."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.modbus.codec import (
    ByteOrder,
    CodecError,
    PointType,
    decode,
    encode,
    normalise_order,
    register_count,
)

RANGES = {
    PointType.INT16: st.integers(-(2**15), 2**15 - 1),
    PointType.UINT16: st.integers(0, 2**16 - 1),
    PointType.INT32: st.integers(-(2**31), 2**31 - 1),
    PointType.UINT32: st.integers(0, 2**32 - 1),
    PointType.INT64: st.integers(-(2**63), 2**63 - 1),
    PointType.UINT64: st.integers(0, 2**64 - 1),
    PointType.FLOAT32: st.floats(width=32, allow_nan=False),
    PointType.FLOAT64: st.floats(allow_nan=False),
}


@pytest.mark.parametrize("point_type", list(RANGES))
@pytest.mark.parametrize("order", list(ByteOrder))
@given(data=st.data())
def test_numbers_round_trip(point_type: PointType, order: ByteOrder, data: st.DataObject) -> None:
    value = data.draw(RANGES[point_type])
    registers = encode(value, point_type, order)
    assert len(registers) == register_count(point_type)
    assert all(0 <= r <= 0xFFFF for r in registers)
    assert decode(registers, point_type, order) == value


@pytest.mark.parametrize("order", list(ByteOrder))
@pytest.mark.parametrize("length", [1, 2])
@given(data=st.data())
def test_bitfields_round_trip(order: ByteOrder, length: int, data: st.DataObject) -> None:
    value = data.draw(st.integers(0, (1 << (16 * length)) - 1))
    registers = encode(value, PointType.BITFIELD, order, length)
    assert len(registers) == register_count(PointType.BITFIELD, length) == length
    assert decode(registers, PointType.BITFIELD, order) == value


@pytest.mark.parametrize("order", list(ByteOrder))
@pytest.mark.parametrize("point_type", [PointType.FLOAT32, PointType.FLOAT64])
def test_nan_survives(order: ByteOrder, point_type: PointType) -> None:
    decoded = decode(encode(math.nan, point_type, order), point_type, order)
    assert isinstance(decoded, float)
    assert math.isnan(decoded)


@pytest.mark.parametrize("order", list(ByteOrder))
@given(text=st.text(st.characters(codec="ascii", exclude_characters="\x00 "), max_size=16))
def test_strings_round_trip(order: ByteOrder, text: str) -> None:
    assert decode(encode(text, PointType.STRING, order, 8), PointType.STRING, order) == text


# Golden vectors: 123.456 as float32 is 0x42F6E979; 0x0102030405060708 as uint64.
@pytest.mark.parametrize(
    ("order", "registers"),
    [
        (ByteOrder.ABCD, [0x42F6, 0xE979]),
        (ByteOrder.CDAB, [0xE979, 0x42F6]),
        (ByteOrder.BADC, [0xF642, 0x79E9]),
        (ByteOrder.DCBA, [0x79E9, 0xF642]),
    ],
)
def test_float32_golden(order: ByteOrder, registers: list[int]) -> None:
    assert (
        decode(registers, PointType.FLOAT32, order) == struct.unpack(">f", b"\x42\xf6\xe9\x79")[0]
    )
    assert (
        encode(struct.unpack(">f", b"\x42\xf6\xe9\x79")[0], PointType.FLOAT32, order) == registers
    )


@pytest.mark.parametrize(
    ("order", "registers"),
    [
        (ByteOrder.ABCD, [0x0102, 0x0304, 0x0506, 0x0708]),
        (ByteOrder.CDAB, [0x0708, 0x0506, 0x0304, 0x0102]),
        (ByteOrder.BADC, [0x0201, 0x0403, 0x0605, 0x0807]),
        (ByteOrder.DCBA, [0x0807, 0x0605, 0x0403, 0x0201]),
    ],
)
def test_uint64_golden(order: ByteOrder, registers: list[int]) -> None:
    assert decode(registers, PointType.UINT64, order) == 0x0102030405060708


def test_int16_sign() -> None:
    assert decode([0xFFFF], PointType.INT16) == -1
    assert decode([0xFFFF], PointType.UINT16) == 0xFFFF
    assert decode([0x0180], PointType.INT16, ByteOrder.BADC) == -32767


@pytest.mark.parametrize(
    ("alias", "order"),
    [
        ("big", ByteOrder.ABCD),
        ("Big_Endian", ByteOrder.ABCD),
        ("word_swapped", ByteOrder.CDAB),
        ("little", ByteOrder.DCBA),
        ("byte-swap", ByteOrder.BADC),
        (" cdab ", ByteOrder.CDAB),
    ],
)
def test_order_aliases(alias: str, order: ByteOrder) -> None:
    assert normalise_order(alias) is order


def test_unknown_order_is_an_error() -> None:
    with pytest.raises(CodecError, match="unknown byte order 'middle'"):
        normalise_order("middle")


def test_wrong_register_count_and_range() -> None:
    with pytest.raises(CodecError, match="float32 needs 2 registers, got 1"):
        decode([1], PointType.FLOAT32)
    with pytest.raises(CodecError, match="0..65535"):
        decode([70000], PointType.UINT16)
    with pytest.raises(CodecError, match="does not fit int16"):
        encode(40000, PointType.INT16)
    with pytest.raises(CodecError, match="does not fit 2 registers"):
        encode("too long", PointType.STRING, length=2)
