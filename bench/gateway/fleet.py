"""What the gateway benchmark polls: a profile of 100 holding registers, fleets of simulated
devices behind simulated endpoints, and facmon's simulator and gateway configurations for them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

FACMON = str(Path(sys.executable).parent / "facmon")
"""The ``facmon`` command of this venv."""
REGISTERS = 100
# The fleet: ENDPOINTS serial servers x UNITS devices, each polled every FLEET_INTERVAL_S, or
# faster (down to the model's minimum) when the gateway keeps up: the fleet run must saturate.
ENDPOINTS, UNITS = 4, 10
# facmon's per-connection maximum: this many devices on one connection, each polled every
# MIN_INTERVAL_S, keep it always busy. Not more: the simulator recomputes each device's
# values twice a second, and with 100 devices that alone took a third of a core here and
# slowed its answers (the C floor talks to one device).
SHARED_UNITS = 20


def _model_minimum_interval() -> float:
    """The smallest ``interval_s`` the gateway's configuration model accepts (ge/gt bound)."""
    from gateway.config import DeviceConfig  # noqa: PLC0415 - the model may change under us

    for bound in DeviceConfig.model_fields["interval_s"].metadata:
        for attr in ("ge", "gt"):
            value = getattr(bound, attr, None)
            if value is not None:
                return float(value) if attr == "ge" else float(value) * 1.001
    return 0.001


MIN_INTERVAL_S = _model_minimum_interval()
# The fleet is polled at 0.05 s (20 polls/s per device), the brief's "enough to saturate".
FLEET_INTERVAL_S = max(0.05, MIN_INTERVAL_S)


def write_profile(workdir: Path) -> Path:
    """A profile of REGISTERS uint16 holding points at 0..REGISTERS-1: one read per poll.

    The values move (non-zero, changing: a realistic payload); the simulator recomputes a
    device's values at most twice a second, so its cost grows with the number of devices.
    """
    name = "bench-100"
    points = [
        {
            "name": f"r{i:03d}",
            "table": "holding",
            "address": i,
            "type": "uint16",
            "sim": {"base": 1000 + i, "amplitude": 500, "period_s": 60, "noise": 2},
        }
        for i in range(REGISTERS)
    ]
    profile = {
        "name": name,
        "vendor": "facmon bench",
        "model": f"{REGISTERS} holding registers",
        "category": "energy",
        "measurement": "bench",
        "points": points,
    }
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(profile, sort_keys=False))
    return path


@dataclass
class Fleet:
    """Simulated endpoints (ports) and the unit ids behind each."""

    ports: list[int]
    units: int

    @property
    def devices(self) -> list[tuple[int, int, int]]:
        """(endpoint index, port, unit) of every device."""
        return [(e, p, u) for e, p in enumerate(self.ports) for u in range(1, self.units + 1)]


def write_sim(workdir: Path, name: str, profile: Path, fleet: Fleet) -> Path:
    """``facmon sim``'s configuration serving ``fleet`` with ``profile``; its path."""
    config = {
        "seed": 1,
        "endpoints": [
            {
                "host": "127.0.0.1",
                "port": port,
                "devices": [
                    {"id": f"e{e}-u{u}", "profile": str(profile), "unit": u}
                    for u in range(1, fleet.units + 1)
                ],
            }
            for e, port in enumerate(fleet.ports)
        ],
    }
    path = workdir / f"sim-{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def write_gateway(
    workdir: Path, name: str, profile: Path, fleet: Fleet, broker_url: str, interval: float
) -> Path:
    """``facmon gateway``'s configuration polling ``fleet`` every ``interval`` s; its path.

    Validated by the gateway's own model, so a change there fails here, clearly.
    """
    config = {
        "site": "bench",
        "gateway": f"gw-{name}",
        "uplink": {"url": broker_url},
        "buses": [
            {"id": f"bus-{e}", "host": "127.0.0.1", "port": port, "timeout_s": 1.0}
            for e, port in enumerate(fleet.ports)
        ],
        "devices": [
            {
                "id": f"e{e}-u{u}",
                "profile": str(profile),
                "bus": f"bus-{e}",
                "unit": u,
                "interval_s": interval,
            }
            for e, _port, u in fleet.devices
        ],
    }
    from gateway.config import GatewayConfig  # noqa: PLC0415

    if "spool" in GatewayConfig.model_fields:  # the default spool file is relative to the cwd
        config["spool"] = {"path": str(workdir / f"spool-{name}.db")}
    GatewayConfig.model_validate(config)  # fail here, clearly, if the model has moved on
    path = workdir / f"gateway-{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
