"""``facmon probe``: read a block from a live device and print every interpretation."""

from __future__ import annotations

import orjson
from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException
from rich.console import Console
from rich.table import Table as RichTable

from devices.library import ProfileError, resolve_profile
from devices.modbus.probe import interpretations
from devices.modbus.tables import Table
from devices.profile import Point


def run_probe(
    host: str,
    port: int,
    unit: int,
    address: int,
    count: int,
    table: str,
    profile_ref: str | None,
    timeout: float,
    as_json: bool,
) -> int:
    """Probe the device; return the exit status (0 ok, 1 device error, 2 bad arguments)."""
    console, errors = Console(), Console(stderr=True)
    if table not in ("holding", "input"):
        errors.print(f"--table must be holding or input, not {table!r}")
        return 2
    point: Point | None = None
    if profile_ref is not None:
        try:
            profile = resolve_profile(profile_ref)
        except ProfileError as exc:
            errors.print(str(exc))
            return 2
        point = next(
            (p for p in profile.points if p.table is Table(table) and p.address == address), None
        )
        if point is None:
            errors.print(f"profile {profile.name} has no {table} point at address {address}")
    client = ModbusTcpClient(host, port=port, timeout=timeout, retries=0)
    try:
        if not client.connect():  # type: ignore[no-untyped-call]
            errors.print(f"cannot connect to {host}:{port}")
            return 1
        read = client.read_holding_registers if table == "holding" else client.read_input_registers
        response = read(address, count=count, device_id=unit)
    except ModbusException as exc:
        errors.print(f"{host}:{port} unit {unit}: {exc}")
        return 1
    finally:
        client.close()  # type: ignore[no-untyped-call]
    if response.isError():
        errors.print(
            f"unit {unit} answered Modbus exception {getattr(response, 'exception_code', '?')}"
        )
        return 1
    registers = list(response.registers)
    rows = interpretations(registers, point)
    if as_json:
        console.print_json(
            orjson.dumps(
                {
                    "registers": registers,
                    "point": point.name if point else None,
                    "rows": [
                        {
                            "type": r.type.value,
                            "order": r.order.value,
                            "registers": r.registers,
                            "value": r.value,
                            "scaled": r.scaled,
                            "profile": r.matches_profile,
                        }
                        for r in rows
                    ],
                },
            ).decode()
        )
        return 0
    console.print(f"{table} {address}..{address + count - 1} at {host}:{port} unit {unit}")
    console.print("raw: " + " ".join(f"{r:04X}" for r in registers))
    grid = RichTable("type", "order", "regs", "value", *(["scaled"] if point else []), "")
    for row in rows:
        cells = [row.type.value, row.order.value, str(row.registers), _show(row.value)]
        if point:
            cells.append(_show(row.scaled))
        cells.append(f"← profile {point.name}" if row.matches_profile and point else "")
        grid.add_row(*cells)
    console.print(grid)
    return 0


def _show(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.7g}"
    if isinstance(value, str):
        return repr(value)
    return str(value)
