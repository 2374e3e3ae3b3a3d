"""Decoding blocks into values with quality flags."""

from __future__ import annotations

import math

from devices.library import resolve_profile
from devices.modbus.codec import ByteOrder, PointType, encode
from devices.modbus.plan import compile_plan
from devices.modbus.tables import Table


def test_scaled_and_word_swapped_values() -> None:
    plan = compile_plan(resolve_profile("ups"))
    request = next(r for r in plan.requests if r.address == 30)
    block = (
        encode(408.25, PointType.FLOAT32, ByteOrder.CDAB)
        + encode(97.5, PointType.FLOAT32, ByteOrder.CDAB)
        + encode(46, PointType.UINT32)
        + encode(1_234_567, PointType.UINT32)
    )
    values, quality = request.decode(block)
    assert values == {
        "battery_voltage": 408.25,
        "battery_charge_pct": 97.5,
        "runtime_remaining_min": 46,
        "output_energy_kwh": 123456.7,
    }
    assert quality == {}


def test_nan_and_short_blocks_are_flagged_bad_and_others_kept() -> None:
    plan = compile_plan(resolve_profile("ups"))
    request = next(r for r in plan.requests if r.address == 30)
    block = (
        encode(math.nan, PointType.FLOAT32, ByteOrder.CDAB)
        + encode(math.inf, PointType.FLOAT32, ByteOrder.CDAB)
        + [0, 7]
    )
    values, quality = request.decode(block)
    assert values == {"runtime_remaining_min": 7}
    assert quality == {
        "battery_voltage": "bad",
        "battery_charge_pct": "bad",
        "output_energy_kwh": "bad",
    }


def test_bits_and_integers_keep_their_types() -> None:
    plan = compile_plan(resolve_profile("ups"))
    bits = next(r for r in plan.requests if r.table.is_bits)
    values, _ = bits.decode([True, False, True])
    assert values == {"on_battery": True, "bypass_active": False, "fault": True}
    inputs = next(r for r in plan.requests if r.address == 0 and r.table is Table.INPUT)
    values, _ = inputs.decode([2301, 5000, 2200, 180, 42, 0xFFF6])
    assert values["load_pct"] == 42
    assert isinstance(values["load_pct"], int)
    assert values["inverter_temp"] == -1.0
    assert values["input_voltage"] == 230.1
