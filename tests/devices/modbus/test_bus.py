"""The Modbus bus executes a plan and adapts it: refused blocks are split, the rest kept."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from devices.fieldbus import NORMAL, DeviceException, WriteRefused
from devices.library import resolve_profile
from devices.modbus.answer import answer
from devices.modbus.bus import ModbusBus
from devices.modbus.config import TcpBus
from devices.modbus.memory import DeviceMemory
from devices.modbus.pdu import ILLEGAL_DATA_VALUE, READ_FUNCTIONS, read_answer, read_pdu
from devices.modbus.plan import compile_plan
from devices.modbus.tables import Table


@dataclass(frozen=True)
class Device:
    """A device as a bus addresses it."""

    id: str = "ups-1"
    unit: int = 1


class LoopbackBus(ModbusBus):
    """A bus wired straight to a simulated device's memory (no sockets)."""

    def __init__(self, memory: DeviceMemory, max_block: int | None = None) -> None:
        super().__init__(TcpBus(id="loop", host="127.0.0.1"))
        self.memory = memory
        self.max_block = max_block
        self.asked: list[int] = []

    async def connect(self) -> None:
        """Always connected."""

    async def _read(self, unit: int, table: Table, address: int, count: int) -> bytes | list[bool]:
        self.requests += 1
        self.asked.append(count)
        if self.max_block is not None and not table.is_bits and count > self.max_block:
            raise DeviceException(ILLEGAL_DATA_VALUE, "Modbus")
        response = answer(self.memory, read_pdu(READ_FUNCTIONS[table], address, count))
        if response[0] & 0x80:
            raise DeviceException(response[1], "Modbus")
        return read_answer(response, count, table.is_bits)

    async def _write(
        self, unit: int, table: Table, address: int, values: list[int] | list[bool]
    ) -> None:
        if table is Table.COIL:
            self.memory.write_bits(address, [bool(v) for v in values])
        else:
            self.memory.write_registers(address, [int(v) for v in values])

    def close(self) -> None:
        """Nothing to close."""


DEVICE = Device()


async def test_a_refused_block_is_split_and_the_smaller_plan_kept() -> None:
    profile = resolve_profile("ups")
    memory = DeviceMemory(profile, seed=1)
    bus = LoopbackBus(memory, max_block=2)
    plan = compile_plan(profile)
    result = await bus.execute(DEVICE, plan, NORMAL, lambda: 1.5)
    assert result.ts == 1500
    too_long = {p.name for p in profile.points if p.count > 2}  # one point: cannot split
    assert too_long
    assert set(result.quality) == too_long
    assert set(result.values) == set(memory.values) - too_long
    assert result.failures
    assert all(f.kind == "exception" for f in result.failures)
    assert len(result.plan.requests) > len(plan.requests)
    assert all(r.count <= 2 or r.table.is_bits or len(r.points) == 1 for r in result.plan.requests)
    bus.asked.clear()
    again = await bus.execute(DEVICE, result.plan, NORMAL, lambda: 2.0)
    assert len(again.failures) == len(too_long)  # only the points no block can hold
    assert again.values.keys() == result.values.keys()
    assert len(bus.asked) == len(result.plan.requests)


async def test_a_write_is_encoded_by_the_bus_and_refused_when_it_cannot_be() -> None:
    profile = resolve_profile("crac")
    bus = LoopbackBus(DeviceMemory(profile, seed=1))
    writable = next(p for p in profile.points if p.access == "rw" and p.min is not None)
    await bus.write(DEVICE, writable, writable.min)
    with pytest.raises(WriteRefused, match="below the minimum"):
        await bus.write(DEVICE, writable, writable.min - 1)
    read_only = next(p for p in profile.points if p.table is Table.INPUT)
    with pytest.raises(WriteRefused, match="is not writable"):
        await bus.write(DEVICE, read_only, 1)
