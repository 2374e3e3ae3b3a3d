"""A simulated Modbus device: its four tables, sized to its profile, with moving values (pure).

Time is passed in; the dynamics of each point are :func:`devices.sim.behaviour.sim_value`.
"""

from __future__ import annotations

import contextlib
import math
import random
from array import array

from devices.modbus.codec import CodecError, PointType, encode
from devices.modbus.decoding import decode_point
from devices.modbus.tables import Table
from devices.profile import Point, Profile
from devices.sim.behaviour import Behaviour, SimulatedDevice, sim_value
from facmon.types import Value

TICK_S = 0.5
"""Values are recomputed at most this often, and only when somebody reads."""


class AddressError(LookupError):
    """A request touches addresses the device does not have (Modbus exception 02)."""


class DeviceMemory:
    """The four tables of one simulated device, sized to its profile, with moving values.

    ``values`` holds the engineering value the simulator means to serve for each point (and
    each bitfield flag); the registers hold its encoding. Writes by a client to coils or
    holding registers, and :meth:`set_point`, pin the points they touch so dynamics no
    longer move them.
    """

    def __init__(self, profile: Profile, seed: int, utc_offset_h: float = 8.0) -> None:
        """Allocate the tables to the profile's highest address and set initial values."""
        self.profile = profile
        self.behaviour = Behaviour()
        self.utc_offset_h = utc_offset_h
        self._rng = random.Random(seed)
        self._phase = self._rng.uniform(0, 2 * math.pi)
        self._points = [p for p in profile.points if p.table is not None]
        sizes = dict.fromkeys(Table, 0)
        for point in self._points:
            sizes[point.table or Table.COIL] = max(sizes[point.table or Table.COIL], point.end)
        self.bits = {t: bytearray(sizes[t]) for t in (Table.COIL, Table.DISCRETE)}
        self.registers = {t: array("H", bytes(2 * sizes[t])) for t in (Table.INPUT, Table.HOLDING)}
        self.values: dict[str, Value] = {}
        self._flags = {f.name: (p, bit) for p in self._points for bit, f in p.flags.items()}
        self._pinned: set[str] = set()
        self._before: dict[str, Value] = {}
        """Values of points before :meth:`set_point` pinned them, for :meth:`unpin`."""
        self._updated_at = -math.inf
        self._started_at: float | None = None
        self._parts: list[SimulatedDevice] = []
        self._summed: frozenset[str] = frozenset()
        for point in self._points:
            self._store(point, _initial(point))

    def sum_of(self, parts: list[SimulatedDevice], points: list[str]) -> None:
        """Make ``points`` this device's own value plus those of ``parts`` (a main meter).

        A main meter counts its sub-meters' energy and power with the rest of what it feeds
        (its own simulated value, the remainder): each refresh refreshes ``parts`` at the
        same time first.

        Raises:
            KeyError: a point is not a numeric point of this device or of a part, or has no
                ``sim`` on this device.
        """
        for name in points:
            for memory in (self, *parts):
                point = memory.profile.point(name)
                if point.table is None or point.type in _NOT_ADDITIVE or point.enum:
                    raise KeyError(f"{name} of {memory.profile.name} cannot be summed")
            if self.profile.point(name).sim is None:
                raise KeyError(f"{name} of {self.profile.name} has no sim: no remainder")
        self._parts, self._summed = list(parts), frozenset(points)
        self._updated_at = -math.inf

    def refresh(self, now: float) -> None:
        """Recompute moving points for time ``now`` (epoch seconds) unless done within a tick."""
        for part in self._parts:
            part.refresh(now)
        if now - self._updated_at < TICK_S:
            return
        self._updated_at = now
        if self._started_at is None:
            self._started_at = now
        for point in self._points:
            sim = point.sim
            if sim is None or point.name in self._pinned or point.access == "rw":
                continue
            discrete = point.type in (PointType.BOOL, PointType.BITFIELD) or bool(point.enum)
            if point.type is PointType.STRING or (discrete and sim.shape != "office"):
                continue
            value = sim_value(sim, now, self._started_at, self._phase, self._rng, self.utc_offset_h)
            if point.name in self._summed:
                value += sum(float(part.values[point.name]) for part in self._parts)
            self._store(point, round(value) if discrete else value)

    def set_point(self, name: str, value: Value) -> None:
        """Set a point's (or a bitfield flag's) engineering value and pin it.

        Raises:
            KeyError: the profile has no such point or flag.
        """
        if name in self._flags:
            point, bit = self._flags[name]
            raw = int(self.values[point.name])
            self._before.setdefault(point.name, raw)
            raw = raw | 1 << bit if value else raw & ~(1 << bit)
            self._store(point, raw)
            self._pinned.add(point.name)
            return
        point = self.profile.point(name)
        if point.table is None:
            raise KeyError(name)
        self._before.setdefault(name, self.values[name])
        self._store(point, value)
        self._pinned.add(name)

    def unpin(self, name: str) -> None:
        """Undo :meth:`set_point` on point ``name`` (or flag ``name``).

        The value (or bit) goes back to what it was, and dynamics move it again.
        """
        if name in self._flags:
            point, bit = self._flags[name]
            before = self._before.get(point.name)
            if before is not None:
                raw = int(self.values[point.name]) & ~(1 << bit) | int(before) & (1 << bit)
                self._store(point, raw)
                if raw == before:
                    del self._before[point.name]
            name = point.name
        elif name in self._before:
            self._store(self.profile.point(name), self._before.pop(name))
        self._pinned.discard(name)
        self._updated_at = -math.inf

    def _store(self, point: Point, value: Value) -> None:
        table = point.table or Table.HOLDING
        address = point.address or 0
        if table.is_bits:
            self.bits[table][address] = 1 if value else 0
            self.values[point.name] = bool(value)
            return
        if point.type is PointType.STRING:
            text = str(value)
            words = encode(text, point.type, point.order, point.length)
            self.values[point.name] = text
        elif point.type is PointType.BITFIELD:
            raw = int(value) & ((1 << (16 * point.length)) - 1)
            words = encode(raw, point.type, point.order, point.length)
            self.values[point.name] = raw
            for bit, flag in point.flags.items():
                self.values[flag.name] = bool(raw >> bit & 1)
        else:
            raw_value = (float(value) - point.offset) / point.scale
            if point.type in (PointType.FLOAT32, PointType.FLOAT64):
                words = encode(raw_value, point.type, point.order)
            else:
                raw_int = round(raw_value)
                clamped = _clamp(raw_int, point.type)
                if clamped != raw_int:  # the register cannot hold it: the device shows its limit
                    value = clamped * point.scale + point.offset
                words = encode(clamped, point.type, point.order)
            self.values[point.name] = value
        self.registers[table][address : point.end] = array("H", words)

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
        self._written(Table.COIL, address, address + len(values))

    def write_registers(self, address: int, values: list[int]) -> None:
        """Write holding registers and pin the points they belong to.

        Raises:
            AddressError: the range is outside the holding table.
        """
        holding = self.registers[Table.HOLDING]
        if address + len(values) > len(holding):
            raise AddressError(address)
        holding[address : address + len(values)] = array("H", values)
        self._written(Table.HOLDING, address, address + len(values))

    def _written(self, table: Table, start: int, end: int) -> None:
        for point in self._points:
            address = point.address or 0
            if point.table is table and address < end and start < point.end:
                self._pinned.add(point.name)
                block: list[int] | list[bool] = (
                    self.read_bits(table, address, point.count)
                    if table.is_bits
                    else list(self.read_registers(table, address, point.count))
                )
                with contextlib.suppress(
                    CodecError
                ):  # a client may write a NaN; keep the registers
                    self.values.update(decode_point(point, block))


def _initial(point: Point) -> Value:
    sim = point.sim
    if point.type is PointType.STRING:
        return sim.text if sim else ""
    if point.type is PointType.BOOL:
        return bool(sim.base) if sim else False
    if point.type is PointType.BITFIELD or point.enum:
        return int(sim.base) if sim else 0
    return sim.base if sim else point.offset


_NOT_ADDITIVE = (PointType.BOOL, PointType.BITFIELD, PointType.STRING)

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
