"""Modbus as a field protocol: its bus kinds, its planner and its simulator, in one entry."""

from __future__ import annotations

from typing import Protocol

from devices.fieldbus import BusKind, FieldProtocol
from devices.modbus.bus import ModbusTcpBus, PymodbusBus, rtu_over_tcp_client, serial_client
from devices.modbus.config import RtuOverTcpBus, SerialBus, TcpBus
from devices.modbus.plan import ReadPlan, compile_plan
from devices.modbus.server import simulate_endpoint
from devices.profile import Profile


class PlannedDevice(Protocol):
    """What of a device's settings the Modbus planner reads."""

    @property
    def max_gap(self) -> int:
        """Registers the planner may read across to merge two requests into one."""


def plan_device(profile: Profile, device: PlannedDevice) -> ReadPlan:
    """Compile ``profile`` into the read plan of ``device`` (its ``max_gap``)."""
    return compile_plan(profile, device.max_gap)


def plan_key(device: PlannedDevice) -> object:
    """Devices with the same ``max_gap`` (and profile) share one compiled plan."""
    return device.max_gap


MODBUS = FieldProtocol(
    name="modbus",
    title="Modbus",
    buses=(
        BusKind("tcp", TcpBus, ModbusTcpBus),
        BusKind("rtu-over-tcp", RtuOverTcpBus, lambda c: PymodbusBus(c, rtu_over_tcp_client)),
        BusKind("rtu", SerialBus, lambda c: PymodbusBus(c, serial_client)),
    ),
    compile_plan=plan_device,
    plan_key=plan_key,
    simulators={"tcp": simulate_endpoint, "rtu": simulate_endpoint},
)
"""Modbus TCP, RTU over TCP and RTU on a serial line; simulated over TCP and RTU framing."""
