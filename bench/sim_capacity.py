"""How many devices one simulator process serves, and at what CPU cost.

Starts ``facmon sim`` with 1,000 Modbus devices (5 TCP endpoints x 200 unit ids, a mix of
library profiles), then polls every device with raw Modbus TCP clients (one request in
flight per connection, as a gateway does) for a fixed time. Reports requests served per
second, the simulator's CPU (from /proc), CPU microseconds per request, and whether every
device answered.

    .venv/bin/python bench/sim_capacity.py [--seconds 10] [--connections 40]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from devices.library import resolve_profile
from devices.modbus.plan import compile_plan
from facmon.net import free_port

PROFILES = ["ups", "th-sensor", "crac", "power-meter-3ph", "dc-power-48v"]
ENDPOINTS, UNITS = 5, 200
FUNCTION = {"coil": 1, "discrete": 2, "holding": 3, "input": 4}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def client(
    port: int, requests: list[tuple[int, bytes]], deadline: float, seen: set[tuple[int, int]]
) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    done, tid = 0, 0
    while time.monotonic() < deadline:
        unit, pdu = requests[done % len(requests)]
        tid = (tid + 1) & 0xFFFF
        writer.write(struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu)
        header = await reader.readexactly(7)
        _, _, length, answered = struct.unpack(">HHHB", header)
        body = await reader.readexactly(length - 1)
        if body[0] & 0x80:
            raise RuntimeError(f"unit {unit} answered exception {body[1]}")
        seen.add((port, answered))
        done += 1
    writer.close()
    return done


async def drive(
    ports: list[int], seconds: float, connections: int
) -> tuple[int, set[tuple[int, int]]]:
    plans = {name: compile_plan(resolve_profile(name)) for name in PROFILES}
    per_unit = []
    for index in range(UNITS):
        first = plans[PROFILES[index % len(PROFILES)]].requests[0]
        per_unit.append(
            (
                index + 1,
                struct.pack(">BHH", FUNCTION[first.table.value], first.address, first.count),
            )
        )
    deadline = time.monotonic() + seconds
    seen: set[tuple[int, int]] = set()
    tasks = []
    for c in range(connections):
        port = ports[c % len(ports)]
        offset = (c // len(ports)) * 7
        rotated = per_unit[offset:] + per_unit[:offset]
        tasks.append(client(port, rotated, deadline, seen))
    counts = await asyncio.gather(*tasks)
    return sum(counts), seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=40)
    args = parser.parse_args()
    ports = [free_port() for _ in range(ENDPOINTS)]
    config = {
        "endpoints": [
            {
                "port": port,
                "devices": [
                    {"id": f"d{e}-{u}", "profile": PROFILES[(u - 1) % len(PROFILES)], "unit": u}
                    for u in range(1, UNITS + 1)
                ],
            }
            for e, port in enumerate(ports)
        ]
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sim.yaml"
        path.write_text(yaml.safe_dump(config))
        sim = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "launcher",
                "--log-level",
                "warning",
                "sim",
                "--config",
                str(path),
            ]
        )
        try:
            for port in ports:
                for _ in range(200):
                    try:
                        with __import__("socket").create_connection(("127.0.0.1", port), 0.1):
                            break
                    except OSError:
                        time.sleep(0.05)
            rss_kib = int(
                next(
                    line
                    for line in Path(f"/proc/{sim.pid}/status").read_text().splitlines()
                    if line.startswith("VmRSS")
                ).split()[1]
            )
            cpu_before, wall_before = cpu_seconds(sim.pid), time.monotonic()
            total, seen = asyncio.run(drive(ports, args.seconds, args.connections))
            cpu = cpu_seconds(sim.pid) - cpu_before
            wall = time.monotonic() - wall_before
        finally:
            sim.terminate()
            sim.wait(10)
    devices = ENDPOINTS * UNITS
    print(
        f"devices simulated      {devices} ({ENDPOINTS} endpoints x {UNITS} units, {len(PROFILES)} profiles)"
    )
    print(f"devices that answered  {len(seen)}")
    print(
        f"requests served        {total} in {wall:.1f} s = {total / wall:,.0f} requests/s over {args.connections} connections"
    )
    print(
        f"simulator CPU          {cpu:.2f} s = {100 * cpu / wall:.0f}% of one core, {1e6 * cpu / max(total, 1):.0f} us per request"
    )
    print(f"simulator RSS at start {rss_kib / 1024:.0f} MiB")
    if len(seen) != devices:
        sys.exit("not every device answered")


if __name__ == "__main__":
    main()
