"""The simulators on the wire: an independent client (Debian's mbpoll) reads what they mean to serve."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.framer import FramerType

from devices.library import load_profile
from devices.modbus.codec import PointType
from devices.modbus.plan import compile_plan
from devices.modbus.tables import Table
from devices.profile import PROFILE_DIR, Profile
from devices.sim.behaviour import Behaviour
from facmon.net import free_port
from tests.integration.simthread import SimThread

pytestmark = pytest.mark.integration

MODBUS_PROFILES = [
    p for p in sorted(PROFILE_DIR.glob("*.yaml")) if load_profile(p).protocol == "modbus"
]
FROZEN = 1_790_000_000.0  # a Tuesday, 21:33 at UTC+8
MBPOLL_TYPE = {Table.COIL: "0", Table.DISCRETE: "1", Table.INPUT: "3:hex", Table.HOLDING: "4:hex"}


def mbpoll(port: int, unit: int, table: Table, address: int, count: int) -> list[int]:
    binary = shutil.which("mbpoll")
    assert binary, "mbpoll is missing: run tests/setup-services.sh"
    result = subprocess.run(
        [
            binary,
            "-m",
            "tcp",
            "-p",
            str(port),
            "-a",
            str(unit),
            "-0",
            "-r",
            str(address),
            "-c",
            str(count),
            "-t",
            MBPOLL_TYPE[table],
            "-1",
            "-o",
            "5",
            "127.0.0.1",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    values = re.findall(r"^\[(\d+)\]:\s+(\S+)", result.stdout, re.MULTILINE)
    assert [int(a) for a, _ in values] == list(range(address, address + count)), result.stdout
    return [int(v, 16) if v.startswith("0x") else int(v) for _, v in values]


def no_answer(read: Callable[[], Any]) -> bool:
    """Whether a read got no answer (pymodbus raises, or returns an error for a timeout)."""
    try:
        response = read()
    except ModbusException:
        return True
    return bool(response.isError()) and getattr(response, "exception_code", None) is None


def close_enough(point_name: str, profile: Profile, meant: object, got: object) -> bool:
    if isinstance(meant, bool | str) or isinstance(got, str):
        return meant == got
    point = next((p for p in profile.points if p.name == point_name), None)
    assert isinstance(meant, int | float)
    assert isinstance(got, int | float)
    if point is None or point.type is PointType.BITFIELD or point.enum:
        return meant == got
    if point.type is PointType.FLOAT32:
        return math.isclose(float(got), float(meant), rel_tol=1e-6, abs_tol=1e-6)
    if point.type is PointType.FLOAT64:
        return math.isclose(float(got), float(meant), rel_tol=1e-12, abs_tol=1e-9)
    return abs(float(got) - float(meant)) <= abs(point.scale) / 2 + 1e-9


@pytest.mark.parametrize("path", MODBUS_PROFILES, ids=lambda p: p.stem)
def test_mbpoll_reads_what_the_simulator_means(path: Path) -> None:
    profile = load_profile(path)
    config = {
        "endpoints": [
            {"port": free_port(), "devices": [{"id": "dev", "profile": str(path), "unit": 7}]}
        ]
    }
    with SimThread(config, clock=lambda: FROZEN) as sim:
        memory = sim.simulator.modbus["dev"]
        sim.call(lambda: memory.refresh(FROZEN))
        meant = dict(memory.values)
        decoded: dict[str, object] = {}
        for request in compile_plan(profile, max_gap=0).requests:
            block: list[int] = []
            for start in range(request.address, request.address + request.count, 125):
                count = min(125, request.address + request.count - start)
                block += mbpoll(sim.port(), 7, request.table, start, count)
            raw = [bool(b) for b in block] if request.table.is_bits else block
            values, quality = request.decode(raw)
            assert quality == {}, quality
            decoded.update(values)
    assert set(decoded) == set(meant)
    wrong = {
        n: (meant[n], decoded[n])
        for n in meant
        if not close_enough(n, profile, meant[n], decoded[n])
    }
    assert wrong == {}


def test_rtu_framing_over_tcp() -> None:
    config = {
        "endpoints": [
            {
                "port": free_port(),
                "framing": "rtu",
                "devices": [
                    {"id": "a", "profile": "ups", "unit": 1},
                    {"id": "b", "profile": "th-sensor", "unit": 2},
                ],
            }
        ]
    }
    with SimThread(config) as sim:
        sim.call(lambda: sim.simulator.modbus["b"].set_point("temperature", 21.5))
        client = ModbusTcpClient(
            "127.0.0.1", port=sim.port(), framer=FramerType.RTU, timeout=1, retries=0
        )
        assert client.connect()
        assert client.read_holding_registers(0, count=1, device_id=2).registers == [215]
        assert client.write_register(256, 9, device_id=2).isError() is False
        assert client.read_holding_registers(256, count=1, device_id=2).registers == [9]
        assert client.read_input_registers(500, count=1, device_id=1).exception_code == 2
        client.close()
        # A unit nobody answers to stays silent on a serial line.
        silent = ModbusTcpClient(
            "127.0.0.1", port=sim.port(), framer=FramerType.RTU, timeout=0.5, retries=0
        )
        assert silent.connect()
        assert no_answer(lambda: silent.read_holding_registers(0, count=1, device_id=9))
        silent.close()


def test_fault_modes_and_link_loss() -> None:
    config = {
        "endpoints": [
            {
                "port": free_port(),
                "devices": [
                    {"id": "good", "profile": "th-sensor", "unit": 1},
                    {"id": "bad", "profile": "th-sensor", "unit": 2},
                ],
            }
        ],
        "scenario": [
            {"at": 0, "device": "bad", "behaviour": "exception"},
        ],
    }
    with SimThread(config) as sim:
        client = ModbusTcpClient("127.0.0.1", port=sim.port(), timeout=0.5, retries=0)
        assert client.connect()
        deadline = time.monotonic() + 5
        while (
            client.read_holding_registers(0, count=1, device_id=2).isError() is False
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        assert client.read_holding_registers(0, count=1, device_id=2).exception_code == 4
        assert not client.read_holding_registers(0, count=1, device_id=1).isError()
        memory = sim.simulator.modbus["bad"]
        sim.call(lambda: setattr(memory, "behaviour", Behaviour("slow", 0.3)))
        started = time.monotonic()
        assert not client.read_holding_registers(0, count=1, device_id=2).isError()
        assert time.monotonic() - started >= 0.3
        sim.call(lambda: setattr(memory, "behaviour", Behaviour("hang")))
        assert no_answer(lambda: client.read_holding_registers(0, count=1, device_id=2))
        client.close()
        sim.call(lambda: sim.simulator.endpoints[0].set_link(up=False))
        time.sleep(0.3)
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", sim.port()), timeout=1).close()
        sim.call(lambda: sim.simulator.endpoints[0].set_link(up=True))
        time.sleep(0.3)
        socket.create_connection(("127.0.0.1", sim.port()), timeout=1).close()


def probe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "launcher", "probe", "--host", "127.0.0.1", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_probe_lists_the_right_decoding() -> None:
    config = {
        "endpoints": [{"port": free_port(), "devices": [{"id": "u", "profile": "ups", "unit": 5}]}]
    }
    with SimThread(config) as sim:
        sim.call(lambda: sim.simulator.modbus["u"].set_point("battery_voltage", 398.25))
        where = [
            "--port",
            str(sim.port()),
            "--unit",
            "5",
            "--address",
            "30",
            "--table",
            "input",
            "--profile",
            "ups",
        ]
        result = probe(*where, "--count", "4", "--json")
        assert result.returncode == 0, result.stderr
        rows = json.loads(result.stdout)["rows"]
        expected = {
            "type": "float32",
            "order": "CDAB",
            "registers": 2,
            "value": 398.25,
            "scaled": 398.25,
            "profile": True,
        }
        assert expected in rows
        assert len(rows) > 20
        table = probe(*where, "--count", "2")
        assert "398.25" in table.stdout
        assert "profile battery_voltage" in table.stdout
    dead = probe("--port", str(free_port()), "--timeout", "1")
    assert dead.returncode == 1
    assert "cannot connect" in dead.stderr
