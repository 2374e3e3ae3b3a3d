"""The simulator's memory and PDU answers (no sockets)."""

from __future__ import annotations

import struct

import pytest

from devices.library import resolve_profile
from devices.modbus.answer import answer
from devices.modbus.codec import ByteOrder, PointType, decode
from devices.modbus.memory import DeviceMemory
from devices.modbus.tables import Table
from devices.sim.model import SimConfig


def memory() -> DeviceMemory:
    return DeviceMemory(resolve_profile("ups"), seed=7)


def test_values_move_deterministically_per_seed() -> None:
    a, b = memory(), memory()
    a.refresh(1000.0)
    b.refresh(1000.0)
    assert a.registers[Table.INPUT] == b.registers[Table.INPUT]
    voltage = a.registers[Table.INPUT][0] / 10
    assert 215 < voltage < 245
    a.refresh(1010.0)
    assert a.registers[Table.INPUT][0:6] != b.registers[Table.INPUT][0:6]


def test_served_values_decode_to_what_the_profile_declares() -> None:
    m = memory()
    m.refresh(0.0)
    battery = decode(list(m.read_registers(Table.INPUT, 30, 2)), PointType.FLOAT32, ByteOrder.CDAB)
    assert abs(float(battery) - 408) < 5
    serial = decode(list(m.read_registers(Table.HOLDING, 90, 8)), PointType.STRING)
    assert serial == "UPS2024A0173"


def test_read_registers_pdu() -> None:
    m = memory()
    m.set_point("low_battery_alarm_v", 355.0)
    response = answer(m, struct.pack(">BHH", 0x03, 100, 1))
    assert response == bytes([0x03, 2]) + struct.pack(">H", 3550)


def test_read_bits_pdu_packs_lsb_first() -> None:
    m = memory()
    m.set_point("fault", True)
    assert answer(m, struct.pack(">BHH", 0x02, 0, 3)) == bytes([0x02, 1, 0b100])


def test_writes_pin_values_against_dynamics() -> None:
    m = memory()
    m.refresh(0.0)
    assert answer(m, struct.pack(">BHHB", 0x10, 90, 1, 2) + b"AB")[0] == 0x10
    assert answer(m, struct.pack(">BHH", 0x06, 100, 3333)) == struct.pack(">BHH", 0x06, 100, 3333)
    m.refresh(100.0)
    assert m.read_registers(Table.HOLDING, 90, 1)[0] == 0x4142
    assert m.read_registers(Table.HOLDING, 100, 1)[0] == 3333


def test_exceptions() -> None:
    m = memory()
    assert answer(m, struct.pack(">BHH", 0x03, 500, 1)) == bytes([0x83, 0x02])
    assert answer(m, struct.pack(">BHH", 0x04, 0, 126)) == bytes([0x84, 0x03])
    assert answer(m, struct.pack(">BHH", 0x04, 0, 0)) == bytes([0x84, 0x03])
    assert answer(m, bytes([0x2B, 0x0E])) == bytes([0xAB, 0x01])
    assert answer(m, bytes([0x03, 0x00])) == bytes([0x83, 0x03])
    assert answer(m, struct.pack(">BHH", 0x05, 0, 0x1234)) == bytes([0x85, 0x03])
    assert answer(m, b"") == bytes([0x80, 0x01])


def test_undoing_a_set_restores_points_dynamics_do_not_move() -> None:
    m = memory()
    m.refresh(0.0)
    m.set_point("on_battery", True)  # a discrete input without dynamics
    m.set_point("mains_abnormal", True)  # a flag of the alarm word
    m.set_point("overload", True)
    m.set_point("input_voltage", 0.0)
    m.refresh(10.0)
    assert m.values["on_battery"] is True
    assert m.values["input_voltage"] == 0.0
    m.unpin("on_battery")
    m.unpin("mains_abnormal")
    m.refresh(20.0)
    assert m.values["on_battery"] is False
    assert m.values["alarm_word"] == 1 << 3  # overload is still set
    m.unpin("overload")
    m.unpin("input_voltage")
    m.refresh(30.0)
    assert m.values["alarm_word"] == 0
    assert 215 < float(m.values["input_voltage"]) < 245  # moving again


def test_a_main_meter_counts_its_sub_meters_and_its_own_remainder_at_one_instant() -> None:
    meter = resolve_profile("power-meter-3ph")
    hvac, office = DeviceMemory(meter, seed=1), DeviceMemory(meter, seed=2)
    main, alone = DeviceMemory(meter, seed=3), DeviceMemory(meter, seed=3)  # alone: no parts
    summed = ["import_energy_kwh", "active_power_kw"]
    main.sum_of([hvac, office], summed)
    for now in (1000.0, 4600.0, 90_000.0):
        main.refresh(now)
        alone.refresh(now)
        for name in summed:
            parts = float(hvac.values[name]) + float(office.values[name])
            assert float(main.values[name]) == pytest.approx(
                parts + float(alone.values[name]), rel=1e-6
            ), name
    assert hvac.values["import_energy_kwh"] != main.values["import_energy_kwh"]
    with pytest.raises(KeyError, match="cannot be summed"):
        main.sum_of([hvac], ["meter_model"])


def test_a_sum_names_served_devices_each_part_once_and_no_cycle() -> None:
    devices = [{"id": d, "profile": "power-meter-3ph", "unit": n + 1} for n, d in enumerate("abc")]
    base = {"endpoints": [{"port": 0, "devices": devices}]}
    points = ["import_energy_kwh"]
    SimConfig.model_validate({**base, "sums": [{"device": "a", "parts": ["b"], "points": points}]})
    for sums, problem in [
        ([{"device": "a", "parts": ["zz"], "points": points}], "no simulated field device 'zz'"),
        (
            [
                {"device": "a", "parts": ["b"], "points": points},
                {"device": "c", "parts": ["b"], "points": points},
            ],
            "'b' is a part of 'a' already",
        ),
        (
            [
                {"device": "a", "parts": ["b"], "points": points},
                {"device": "b", "parts": ["a"], "points": points},
            ],
            "sums into itself",
        ),
    ]:
        with pytest.raises(ValueError, match=problem):
            SimConfig.model_validate({**base, "sums": sums})
