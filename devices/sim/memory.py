"""A simulated device's register memory and its dynamics (pure; time is passed in)."""

from __future__ import annotations

import math
import random
from array import array

from devices.codec import PointType, encode
from devices.profile import Point, Profile, Table

TICK_S = 0.5
"""Values are recomputed at most this often, and only when somebody reads."""


class AddressError(LookupError):
    """A request touches addresses the device does not have (Modbus exception 02)."""


class DeviceMemory:
    """The four tables of one simulated device, sized to its profile, with moving values.

    Points with a ``sim`` block move with time; writes by a client to coils or holding
    registers pin the written points, so a test can set a value and keep it.
    """

    def __init__(self, profile: Profile, seed: int) -> None:
        """Allocate the tables to the profile's highest address and set initial values."""
        self.profile = profile
        self._rng = random.Random(seed)
        self._phase = self._rng.uniform(0, 2 * math.pi)
        sizes = dict.fromkeys(Table, 0)
        for point in profile.points:
            sizes[point.table] = max(sizes[point.table], point.end)
        self.bits = {t: bytearray(sizes[t]) for t in (Table.COIL, Table.DISCRETE)}
        self.registers = {t: array("H", bytes(2 * sizes[t])) for t in (Table.INPUT, Table.HOLDING)}
        self._moving = [p for p in profile.points if p.sim is not None]
        self._pinned: set[str] = set()
        self._updated_at = -math.inf
        self._started_at: float | None = None
        for point in self._moving:
            if point.sim is not None:
                self._store(
                    point, point.sim.text if point.type is PointType.STRING else point.sim.base
                )

    def refresh(self, now: float) -> None:
        """Recompute moving points for time ``now`` (seconds) unless done within a tick."""
        if now - self._updated_at < TICK_S:
            return
        self._updated_at = now
        if self._started_at is None:
            self._started_at = now
        for point in self._moving:
            if point.name in self._pinned or point.access == "rw" or point.sim is None:
                continue
            if point.type is PointType.STRING:
                continue
            sim = point.sim
            value = sim.base + sim.drift_per_s * (now - self._started_at)
            if sim.amplitude:
                value += sim.amplitude * math.sin(2 * math.pi * now / sim.period_s + self._phase)
            if sim.noise:
                value += self._rng.gauss(0, sim.noise)
            self._store(point, value)

    def set_point(self, name: str, value: float | int | bool | str) -> None:
        """Set a point's engineering value and pin it (dynamics no longer move it)."""
        point = self.profile.point(name)
        self._store(point, value)
        self._pinned.add(name)

    def _store(self, point: Point, value: float | int | bool | str) -> None:
        if point.table.is_bits:
            self.bits[point.table][point.address] = 1 if value else 0
            return
        if point.type is PointType.STRING:
            raw: int | float | str = str(value) if isinstance(value, str) else ""
        else:
            raw = (float(value) - point.offset) / point.scale
            if point.type not in (PointType.FLOAT32, PointType.FLOAT64):
                raw = _clamp(round(raw), point.type)
        words = encode(raw, point.type, point.order, point.length)
        self.registers[point.table][point.address : point.end] = array("H", words)

    def read_bits(self, table: Table, address: int, count: int) -> list[bool]:
        """Return ``count`` bits from ``address``.

        Raises:
            AddressError: the range is outside the table.
        """
        bits = self.bits[table]
        if address + count > len(bits):
            raise AddressError(address)
        return [bool(b) for b in bits[address : address + count]]

    def read_registers(self, table: Table, address: int, count: int) -> array[int]:
        """Return ``count`` registers from ``address``.

        Raises:
            AddressError: the range is outside the table.
        """
        registers = self.registers[table]
        if address + count > len(registers):
            raise AddressError(address)
        return registers[address : address + count]

    def write_bits(self, address: int, values: list[bool]) -> None:
        """Write coils and pin the points they belong to.

        Raises:
            AddressError: the range is outside the coil table.
        """
        coils = self.bits[Table.COIL]
        if address + len(values) > len(coils):
            raise AddressError(address)
        coils[address : address + len(values)] = bytes(1 if v else 0 for v in values)
        self._pin(Table.COIL, address, address + len(values))

    def write_registers(self, address: int, values: list[int]) -> None:
        """Write holding registers and pin the points they belong to.

        Raises:
            AddressError: the range is outside the holding table.
        """
        holding = self.registers[Table.HOLDING]
        if address + len(values) > len(holding):
            raise AddressError(address)
        holding[address : address + len(values)] = array("H", values)
        self._pin(Table.HOLDING, address, address + len(values))

    def _pin(self, table: Table, start: int, end: int) -> None:
        for point in self.profile.points:
            if point.table is table and point.address < end and start < point.end:
                self._pinned.add(point.name)


_RANGES = {
    PointType.INT16: (-(2**15), 2**15 - 1),
    PointType.UINT16: (0, 2**16 - 1),
    PointType.INT32: (-(2**31), 2**31 - 1),
    PointType.UINT32: (0, 2**32 - 1),
    PointType.INT64: (-(2**63), 2**63 - 1),
    PointType.UINT64: (0, 2**64 - 1),
}


def _clamp(value: int, point_type: PointType) -> int:
    low, high = _RANGES[point_type]
    return min(max(value, low), high)
