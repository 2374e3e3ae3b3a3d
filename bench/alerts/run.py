"""Alerting benchmark: how fast the rules judge readings, and how soon a change is told.

1. **Evaluation**: the detection engine judging full readings of 1,000 devices of five
   profiles (UPS, CRAC, -48 V power, temperature/humidity, meeting-room AV) under the
   shipped rules plus two thresholds, on one core; against the floor of the same loop
   doing only the engine's own bookkeeping (a dictionary update per reading).
2. **Latency**: real Mosquitto, ``facmon sim`` with 180 -48 V power systems (56 points each,
   polled every second: about 10,000 points/s of background load) and one CRAC,
   ``facmon gateway`` and ``facmon api``. The benchmark writes the CRAC's setpoint over
   Modbus (above the rule's level, then below it), and a webhook receiver on loopback
   notes when each notification arrives: from the write to the webhook, against the poll
   interval.

    .venv/bin/python bench/alerts/run.py [--toggles 30] [--no-doc]

Writes the "Alerts" section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from pymodbus.client import ModbusTcpClient

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from api.alerts.config import DEFAULT_RULES  # noqa: E402
from api.alerts.engine import Engine  # noqa: E402
from api.alerts.rules import RuleSet, load_rules  # noqa: E402
from api.registry.tokens import new_token  # noqa: E402
from bench.harness.mosquitto import MosquittoServer  # noqa: E402
from bench.sections import head_commit, write_section  # noqa: E402
from devices.library import resolve_profile  # noqa: E402
from facmon.net import free_port  # noqa: E402

PROFILES = ["ups", "crac", "dc-power-48v", "th-sensor", "meeting-room-av"]
POWER_DEVICES = 180
CRAC_UNIT = 200
INTERVAL_S = 1.0
SETPOINT_REGISTER = 100  # crac temp_setpoint, int16 x 0.1 degC
ROUNDS = 5


def evaluation(seconds: float = 1.5) -> dict[str, Any]:
    """Readings judged per second on one core, and the floor of the loop around them."""
    profiles = {name: resolve_profile(name) for name in PROFILES}
    defaults = load_rules(DEFAULT_RULES)
    extra = RuleSet.model_validate(
        {
            "rules": [
                {
                    "id": "hot",
                    "kind": "threshold",
                    "point": "temperature",
                    "above": 27,
                    "clear": 25,
                    "for": "1m",
                },
                {"id": "load", "kind": "threshold", "point": "load_pct", "above": 90, "for": "1m"},
            ]
        }
    )
    rules = RuleSet.model_validate(
        {"rules": [*defaults.rules, *extra.rules], "inhibit": defaults.inhibit}
    )
    engine = Engine(rules, profiles)
    readings = []
    for n in range(1000):
        profile = profiles[PROFILES[n % len(PROFILES)]]
        device = f"d{n}"
        engine.state("hq", "gw", device, 0, "online", None, profile.name, 1.0)
        values: dict[str, Any] = {}
        for point in profile.points:
            if point.type.value == "bitfield":
                values.update({flag.name: False for flag in point.flags.values()})
            elif point.type.value == "bool":
                values[point.name] = False
            elif point.type.value == "string":
                values[point.name] = "x"
            else:  # a normal value: the simulator's base
                values[point.name] = float(point.sim.base) if point.sim else 0.0
        values.update({"temperature": 23.0, "load_pct": 40.0})
        readings.append((device, values))

    def run(judge: Any) -> float:
        done, ts, started = 0, 1_000, time.process_time()
        while time.process_time() - started < seconds:
            for device, values in readings:
                judge("hq", "gw", device, ts, values)
                ts += 1
            done += len(readings)
        return done / (time.process_time() - started)

    floor_state: dict[str, dict[str, Any]] = {}

    def bookkeeping(site: str, gateway: str, device: str, ts: int, values: dict[str, Any]) -> None:
        floor_state.setdefault(device, {}).update(values)

    points = statistics.mean(len(v) for _, v in readings)
    # Alternated, so that the machine's drift falls on both alike; the medians are reported.
    rates, floors = [], []
    for _ in range(ROUNDS):
        rates.append(run(engine.data))
        floors.append(run(bookkeeping))
    return {
        "rate": statistics.median(rates),
        "floor": statistics.median(floors),
        "points": points,
        "rounds": rates,
    }


class Hooks(BaseHTTPRequestHandler):
    """Notes when each notification arrives."""

    arrivals: list[tuple[float, str]] = []  # noqa: RUF012 - one receiver per run

    def do_POST(self) -> None:
        arrived = time.time()
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Hooks.arrivals.append((arrived, body["what"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def latency(toggles: int) -> dict[str, Any]:
    """Write the setpoint over Modbus; time until the webhook hears of it."""
    token = new_token()
    hooks = ThreadingHTTPServer(("127.0.0.1", 0), Hooks)
    threading.Thread(target=hooks.serve_forever, daemon=True).start()
    processes: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="facmon-bench-alerts-") as tmp:
        work = Path(tmp)
        (work / "mq").mkdir()
        with MosquittoServer(work / "mq") as broker:
            sim_port, api_port = free_port(), free_port()
            rules = {
                "rules": [
                    {
                        "id": "setpoint-high",
                        "kind": "threshold",
                        "point": "temp_setpoint",
                        "above": 27,
                        "clear": 25,
                        "severity": "critical",
                    }
                ]
            }
            (work / "rules.yaml").write_text(yaml.safe_dump(rules))
            configs = {
                "sim": {
                    "seed": 1,
                    "endpoints": [
                        {
                            "port": sim_port,
                            "devices": [
                                *(
                                    {"id": f"p{n}", "profile": "dc-power-48v", "unit": n + 1}
                                    for n in range(POWER_DEVICES)
                                ),
                                {"id": "crac-1", "profile": "crac", "unit": CRAC_UNIT},
                            ],
                        }
                    ],
                },
                "gateway": {
                    "site": "hq",
                    "gateway": "gw-bench",
                    "uplink": {"url": broker.url},
                    "spool": {"path": str(work / "spool.db")},
                    "buses": [
                        {"id": "bus", "host": "127.0.0.1", "port": sim_port, "connections": 4}
                    ],
                    "devices": [
                        *(
                            {
                                "id": f"p{n}",
                                "profile": "dc-power-48v",
                                "bus": "bus",
                                "unit": n + 1,
                                "interval_s": INTERVAL_S,
                            }
                            for n in range(POWER_DEVICES)
                        ),
                        {
                            "id": "crac-1",
                            "profile": "crac",
                            "bus": "bus",
                            "unit": CRAC_UNIT,
                            "interval_s": INTERVAL_S,
                        },
                    ],
                },
                "api": {
                    "port": api_port,
                    "broker": {"url": broker.url},
                    "store": {"kind": "sqlite", "path": str(work / "telemetry.db")},
                    "database": f"sqlite:///{work / 'registry.db'}",
                    "bootstrap_token": token,
                    "alerts": {
                        "defaults": False,
                        "rules": [str(work / "rules.yaml")],
                        "routes": [
                            {
                                "name": "bench",
                                "group_interval_s": 0,
                                "targets": [f"http://127.0.0.1:{hooks.server_address[1]}/hook"],
                            }
                        ],
                    },
                },
            }
            for name, config in configs.items():
                (work / f"{name}.yaml").write_text(yaml.safe_dump(config))
            try:
                for name in ("api", "sim", "gateway"):
                    processes.append(
                        subprocess.Popen(
                            [
                                sys.executable,
                                "-m",
                                "launcher",
                                "--log-level",
                                "warning",
                                name,
                                "--config",
                                str(work / f"{name}.yaml"),
                            ],
                            stderr=subprocess.DEVNULL,
                        )
                    )
                _wait(f"http://127.0.0.1:{api_port}/healthz")
                points = _count_points(broker, 5.0)  # background load, before the toggles
                samples = _toggle(sim_port, toggles)
                deadline = time.time() + 10
                while len(Hooks.arrivals) < len(samples) and time.time() < deadline:
                    time.sleep(0.1)
            finally:
                for process in processes:
                    process.terminate()
                for process in processes:
                    process.wait(20)
    hooks.shutdown()
    arrivals = sorted(Hooks.arrivals)
    delays = []
    for written, what in samples:
        after = [t for t, w in arrivals if t >= written and w == what]
        if after:
            delays.append((after[0] - written) * 1000)
            arrivals.remove((after[0], what))
    return {"points_per_s": points, "delays_ms": delays, "sent": len(samples)}


def _wait(url: str) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                time.sleep(3)  # the gateway's first polls, the API's first messages
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not answer")


def _count_points(broker: MosquittoServer, seconds: float) -> float:
    counted = [0]

    def on_message(_client: Any, _userdata: Any, message: Any) -> None:
        counted[0] += len(json.loads(message.payload)["values"])

    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_message = on_message
    client.connect("127.0.0.1", broker.port)
    client.subscribe("facmon/v1/hq/gw-bench/+/data", qos=0)
    client.loop_start()
    time.sleep(1)
    counted[0] = 0
    time.sleep(seconds)
    client.loop_stop()
    client.disconnect()
    return counted[0] / seconds


def _toggle(sim_port: int, toggles: int) -> list[tuple[float, str]]:
    """Write the setpoint high, then low, ``toggles`` times; note when each write was made."""
    client = ModbusTcpClient("127.0.0.1", port=sim_port)
    client.connect()
    samples = []
    try:
        for n in range(toggles):
            value, what = (290, "firing") if n % 2 == 0 else (220, "resolved")
            written = time.time()
            client.write_register(SETPOINT_REGISTER, value, device_id=CRAC_UNIT)
            samples.append((written, what))
            time.sleep(2.0 + (n % 3) * 0.37)  # not in step with the poll grid
    finally:
        client.close()
    return samples


def report(judged: dict[str, Any], timed: dict[str, Any]) -> str:
    """The Markdown section."""
    delays = sorted(timed["delays_ms"])
    p50 = statistics.median(delays) if delays else float("nan")
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))] if delays else float("nan")
    limit = INTERVAL_S * 1000 + 50
    rate = judged["rate"]
    return f"""## Alerts

Measured in one run of `bench/alerts/run.py` (`make bench`).

### Method

- **Evaluation**: the detection engine judging full readings ({judged["points"]:.0f} points on average, normal values) of 1,000 devices of {len(PROFILES)} profiles under the shipped rules and two thresholds, CPU time on one core; the floor is the same loop doing only a dictionary update per reading. {ROUNDS} alternated rounds, medians (engine rounds: {", ".join(f"{r:,.0f}" for r in judged["rounds"])}).
- **Latency**: real Mosquitto, `facmon sim` with {POWER_DEVICES} -48 V power systems and a CRAC, `facmon gateway` polling every {INTERVAL_S:g} s, `facmon api` with a threshold on the CRAC's setpoint and a webhook route to a receiver on loopback. The benchmark writes the setpoint over Modbus {timed["sent"]} times (above, then below the level) at intervals out of step with the polls, and takes the time from each write to its notification (firing or resolved).
- Background load while it ran: {timed["points_per_s"]:,.0f} points/s through the gateway and the broker to the API.

### Machine

{os.cpu_count()} cores; facmon at {head_commit()}; run {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}.

### Results

| measure | figure | reference |
|---|---|---|
| readings judged per second, one core | {rate:,.0f} | floor of the loop: {judged["floor"]:,.0f} ({rate / judged["floor"]:.2f}x of it) |
| write → webhook, p50 | {p50:.0f} ms | poll interval {INTERVAL_S * 1000:.0f} ms |
| write → webhook, p99 | {p99:.0f} ms | poll interval + 50 ms = {limit:.0f} ms |
| notifications received | {len(delays)} of {timed["sent"]} | |

### Targets

- **Rule evaluation** ≥ 100,000 readings/s on one core: **{rate:,.0f}**: **{"met" if rate >= 100_000 else "NOT met"}**.
- **Latency p99** ≤ poll interval + 50 ms ({limit:.0f} ms) under ≥ 10,000 points/s: **{p99:.0f} ms** at {timed["points_per_s"]:,.0f} points/s: **{"met" if p99 <= limit and timed["points_per_s"] >= 10_000 and len(delays) == timed["sent"] else "NOT met"}**.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--toggles", type=int, default=30)
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()
    judged = evaluation()
    print(f"evaluation: {judged['rate']:,.0f} readings/s (floor {judged['floor']:,.0f})")
    timed = latency(args.toggles)
    section = report(judged, timed)
    print(section)
    if not args.no_doc:
        write_section("Alerts", section)


if __name__ == "__main__":
    main()
