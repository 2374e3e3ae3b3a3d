"""The probe lists every interpretation, the right one among them."""

from __future__ import annotations

from devices.library import resolve_profile
from devices.modbus.codec import ByteOrder, PointType, encode
from devices.modbus.probe import interpretations


def test_the_true_reading_is_among_the_rows_and_marked() -> None:
    point = resolve_profile("ups").point("battery_voltage")
    rows = interpretations(encode(407.25, PointType.FLOAT32, ByteOrder.CDAB), point)
    marked = [r for r in rows if r.matches_profile]
    assert len(marked) == 1
    assert (marked[0].type, marked[0].order, marked[0].value) == (
        PointType.FLOAT32,
        ByteOrder.CDAB,
        407.25,
    )
    assert {(r.type, r.order) for r in rows} >= {
        (t, o) for t in (PointType.FLOAT32, PointType.UINT32) for o in ByteOrder
    }


def test_scaled_column_uses_the_profile_scale() -> None:
    point = resolve_profile("ups").point("input_voltage")
    rows = interpretations([2301, 0, 0, 0], point)
    row = next(r for r in rows if r.type is PointType.UINT16 and r.order is ByteOrder.ABCD)
    assert row.scaled == 230.1
    assert row.matches_profile
    # 16-bit values have two distinct orders; 64-bit ones four.
    assert len([r for r in rows if r.type is PointType.UINT16]) == 2
    assert len([r for r in rows if r.type is PointType.FLOAT64]) == 4
