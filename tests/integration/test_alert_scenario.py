"""Every rule kind end to end: the simulator's timeline → gateway → Mosquitto → facmon api →
a webhook receiver and an SMTP server on loopback.

Every expected alert fires once, nothing else fires, conditions that clear resolve, and
silenced and inhibited alerts are recorded but not notified.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Iterator
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from api.registry.tokens import new_token
from bench.harness.influxdb import InfluxDBServer
from bench.harness.mosquitto import MosquittoServer
from facmon.net import free_port
from tests.integration.processes import FacmonProcess, start_api, wait_for
from tests.integration.receivers import Received

pytestmark = pytest.mark.integration

ADMIN = new_token()
PREFIX = "facmon-scenario"
"""A prefix of its own: what other tests leave retained on the broker is not seen."""
HEADERS = {"Authorization": f"Bearer {ADMIN}"}
ALL_DAY = ["00:00-24:00"]
RULES = {
    "calendars": {
        "default": {
            "week": dict.fromkeys(["mon", "tue", "wed", "thu", "fri", "sat", "sun"], ALL_DAY)
        },
        "closed": {"week": {}},
    },
    "places": {"buildings": {"b2": "closed"}},
    "rules": [
        {
            "id": "hot",
            "kind": "threshold",
            "point": "temperature",
            "above": 27,
            "clear": 25,
            "for": "2s",
            "severity": "critical",
            "match": {"room_kinds": ["server_room"]},
        },
        {"id": "ups-fault", "kind": "fault", "match": {"profiles": ["ups"]}},
        {"id": "comm", "kind": "comm_loss", "factor": 3},
        {
            "id": "idle",
            "kind": "idle",
            "for": "3s",
            "severity": "info",
            "match": {"categories": ["av"]},
        },
        {"id": "speeding", "kind": "speeding", "above": 80, "for": "2s"},
        {
            "id": "fence",
            "kind": "geofence",
            "name": "Campus",
            "on": "exit",
            "polygon": [[30.40, 114.20], [30.40, 114.45], [30.70, 114.45], [30.70, 114.20]],
        },
        {"id": "night-driving", "kind": "movement", "above": 5, "for": "2s"},
        {"id": "idling", "kind": "long_idling", "for": "3s", "severity": "info"},
        {"id": "held", "kind": "door_held_open", "for": "3s"},
        {"id": "forced", "kind": "door_forced", "severity": "critical"},
        {"id": "late", "kind": "access_after_hours"},
        {"id": "denied", "kind": "denied_burst", "count": 3, "within": "1m", "by": "door"},
        {"id": "tamper", "kind": "tamper", "match": {"profiles": ["door-controller"]}},
    ],
    "inhibit": [
        {
            "source": {"rule": "comm", "key": "gateway"},
            "target": {"rule": "comm"},
            "equal": ["gateway"],
        }
    ],
}
MODBUS = [
    ("th-1", "th-sensor"),
    ("ups-1", "ups"),
    ("ups-2", "ups"),
    ("av-1", "meeting-room-av"),
    ("pm-1", "power-meter-3ph"),
]
MQTT = [("car-1", "vehicle-tracker"), ("door-1", "door-controller")]
ESTATE = [
    ("sites", {"id": "hq", "name": "总部"}),
    ("buildings", {"id": "b1", "site_id": "hq", "name": "1号楼"}),
    ("buildings", {"id": "b2", "site_id": "hq", "name": "车库楼"}),
    ("floors", {"id": "b1-1f", "building_id": "b1", "name": "1F"}),
    ("floors", {"id": "b2-1f", "building_id": "b2", "name": "1F"}),
    ("rooms", {"id": "r1", "floor_id": "b1-1f", "name": "机房", "kind": "server_room"}),
    ("rooms", {"id": "m1", "floor_id": "b1-1f", "name": "会议室", "kind": "meeting"}),
    ("rooms", {"id": "g1", "floor_id": "b2-1f", "name": "车库", "kind": "garage"}),
    ("assets", {"id": "th-a", "name": "温湿度", "category": "environment", "room_id": "r1"}),
    ("assets", {"id": "ups-a", "name": "UPS A", "category": "ups", "room_id": "r1"}),
    ("assets", {"id": "ups-b", "name": "UPS B", "category": "ups", "room_id": "r1"}),
    ("assets", {"id": "pm-a", "name": "电表", "category": "meter", "room_id": "r1"}),
    ("assets", {"id": "av-a", "name": "投影仪", "category": "av", "room_id": "m1"}),
    ("assets", {"id": "car-a", "name": "鄂A·12345", "category": "vehicle", "room_id": "g1"}),
    ("assets", {"id": "door-a", "name": "车库门", "category": "door", "room_id": "g1"}),
    *(
        ("bindings", {"asset_id": a, "device": d, "effective_from": "2020-01-01T00:00:00Z"})
        for a, d in (
            ("th-a", "th-1"),
            ("ups-a", "ups-1"),
            ("ups-b", "ups-2"),
            ("pm-a", "pm-1"),
            ("av-a", "av-1"),
            ("car-a", "car-1"),
            ("door-a", "door-1"),
        )
    ),
]
T0 = 10.0
"""Seconds after the simulator starts when the scenario begins (everything is up by then)."""


def steps() -> list[dict[str, Any]]:
    def at(t: float, **step: Any) -> dict[str, Any]:
        return {"at": T0 + t, **step}

    return [
        at(0, device="th-1", set={"temperature": 29.0}),
        at(6, device="th-1", set={"temperature": 22.0}),
        at(0, device="ups-1", set={"battery_low": True}),
        at(6, device="ups-1", set={"battery_low": False}),
        at(0, device="ups-2", set={"battery_low": True}),  # silenced: recorded, not told
        at(0, device="pm-1", behaviour="hang", **{"for": 6}),
        at(0, device="av-1", set={"power_w": 3.0}),
        at(8, device="av-1", set={"power_w": 200.0}),
        at(0, device="car-1", set={"ignition": True, "speed_kmh": 100.0}),
        at(5, device="car-1", set={"ignition": True, "speed_kmh": 0.0}),
        at(12, device="car-1", set={"ignition": False, "speed_kmh": 0.0}),
        at(14, device="car-1", set={"lat": 31.5}),
        at(18, device="car-1", set={"lat": 30.53}),
        at(0, device="door-1", event="access_granted"),
        at(0.5, device="door-1", set={"door_state": "open"}),
        at(6, device="door-1", set={"door_state": "closed"}),
        at(8, device="door-1", event="door_forced"),
        at(9, device="door-1", event="access_denied"),
        at(9.5, device="door-1", event="access_denied"),
        at(10, device="door-1", event="access_denied"),
        at(11, device="door-1", set={"tamper": True}),
        at(16, device="door-1", set={"tamper": False}),
    ]


EXPECTED = {
    # (rule, asset): resolves during the scenario
    ("hot", "th-a"): True,
    ("ups-fault", "ups-a"): True,
    ("comm", "pm-a"): True,
    ("idle", "av-a"): True,
    ("speeding", "car-a"): True,
    ("night-driving", "car-a"): True,
    ("idling", "car-a"): True,
    ("fence", "car-a"): True,
    ("held", "door-a"): True,
    ("late", "door-a"): False,  # instant alerts resolve after resolve_after (30 min)
    ("forced", "door-a"): False,
    ("denied", "door-a"): False,
    ("tamper", "door-a"): True,
}
QUIET = {("ups-fault", "ups-b"): "silenced by silence #1"}


def night_offset() -> float:
    """A UTC offset that makes it 02:00 at the simulated site: nobody drives or swipes."""
    hour = time.gmtime().tm_hour
    return float((2 - hour + 12) % 24 - 12)


@pytest.fixture
def scenario(
    tmp_path: Path,
    mosquitto: MosquittoServer,
    received: tuple[Received, int, int],
    influxdb: InfluxDBServer,
    influx_db: str,
) -> Iterator[dict[str, Any]]:
    got, http_port, smtp_port = received
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(RULES, allow_unicode=True))
    hook = f"http://127.0.0.1:{http_port}/hook"
    alerts = {
        "defaults": False,
        "rules": [str(tmp_path / "rules.yaml")],
        "smtp": {
            "host": "127.0.0.1",
            "port": smtp_port,
            "security": "none",
            "sender": "alerts@example.com",
        },
        "routes": [
            {"name": "all", "language": "en", "group_interval_s": 0, "targets": [hook]},
            {
                "name": "duty",
                "match": {"severities": ["critical"]},
                "language": "zh",
                "group_interval_s": 0,
                "targets": ["mailto:duty@example.com"],
            },
        ],
    }
    api, base = start_api(tmp_path, mosquitto.url, ADMIN, prefix=PREFIX, alerts=alerts)
    for path, body in ESTATE:
        response = httpx.post(f"{base}/api/v1/{path}", json=body, headers=HEADERS)
        assert response.status_code == 201, response.text
    silence = {"matchers": {"asset": "ups-b"}, "ends_at": "2099-01-01T00:00:00Z"}
    assert httpx.post(f"{base}/api/v1/silences", json=silence, headers=HEADERS).status_code == 201
    sim_port = free_port()
    sim = FacmonProcess(
        tmp_path,
        "sim",
        {
            "seed": 7,
            "utc_offset_h": night_offset(),
            "broker": {"url": mosquitto.url},
            "endpoints": [
                {
                    "port": sim_port,
                    "devices": [
                        {"id": d, "profile": p, "unit": n + 1} for n, (d, p) in enumerate(MODBUS)
                    ],
                }
            ],
            "mqtt_devices": [{"id": d, "profile": p, "interval_s": 0.5} for d, p in MQTT],
            "scenario": steps(),
        },
    )
    gateway = FacmonProcess(
        tmp_path,
        "gateway",
        {
            "site": "hq",
            "gateway": "gw-s",
            "prefix": PREFIX,
            "uplink": {"url": mosquitto.url},
            "spool": {"path": str(tmp_path / "spool.db")},
            "offline_after": 2,
            "buses": [{"id": "line-1", "host": "127.0.0.1", "port": sim_port, "timeout_s": 0.3}],
            "devices": [
                {"id": d, "profile": p, "bus": "line-1", "unit": n + 1, "interval_s": 0.5}
                for n, (d, p) in enumerate(MODBUS)
            ],
            "mqtt_sources": [
                {
                    "broker": {"url": mosquitto.url},
                    "devices": [{"id": d, "profile": p} for d, p in MQTT],
                }
            ],
        },
    )
    collector = FacmonProcess(  # stores the alerts' lifecycle: Grafana's annotations
        tmp_path,
        "collector",
        {
            "id": "c-scenario",
            "prefix": PREFIX,
            "broker": {"url": mosquitto.url, "client_id": f"c-{influx_db}"},
            "sink": {"kind": "influxdb", "url": influxdb.url, "database": influx_db},
            "batch_max_delay_s": 0.1,
        },
    )
    collector.start()
    gateway.start()
    sim.start()
    try:
        yield {
            "base": base,
            "got": got,
            "api": api,
            "gateway": gateway,
            "sim": sim,
            "influxdb": influxdb,
            "db": influx_db,
        }
    finally:
        for process in (sim, gateway, collector):
            process.kill()
        assert api.stop() == 0
        assert "Traceback" not in api.log(100_000), api.log(200)


def all_alerts(base: str) -> list[dict[str, Any]]:
    return httpx.get(f"{base}/api/v1/alerts?limit=1000", headers=HEADERS).json()["items"]  # type: ignore[no-any-return]


def test_every_rule_kind_from_the_simulator_to_the_teams(scenario: dict[str, Any]) -> None:
    base, got = scenario["base"], scenario["got"]
    procs = [scenario["api"], scenario["gateway"], scenario["sim"]]
    before = len(got.hooks())

    def fired() -> dict[tuple[str, str], dict[str, Any]] | None:
        found = {(a["rule"], a["labels"].get("asset", "")): a for a in all_alerts(base)}
        return found if set(EXPECTED) | set(QUIET) <= set(found) else None

    wait_for(fired, T0 + 40, "every expected alert", procs)

    def settled() -> list[dict[str, Any]] | None:
        found = all_alerts(base)
        open_ones = {
            (a["rule"], a["labels"].get("asset", "")) for a in found if a["state"] != "resolved"
        }
        done = all(key not in open_ones for key, resolves in EXPECTED.items() if resolves)
        return found if done else None

    found = wait_for(settled, 30, "the conditions that cleared to resolve", procs)
    counted = Counter((a["rule"], a["labels"].get("asset", "")) for a in found)
    assert counted == Counter(set(EXPECTED) | set(QUIET)), counted  # once each, nothing else
    for alert in found:
        key = (alert["rule"], alert["labels"].get("asset", ""))
        assert alert["quiet"] == QUIET.get(key, ""), alert

    time.sleep(1)
    told = Counter(
        (a["rule"], a["labels"].get("asset", ""), h["what"])
        for h in got.hooks()[before:]
        for a in h["alerts"]
    )
    expected_told = Counter({(r, a, "firing"): 1 for r, a in EXPECTED})
    expected_told.update(
        {(r, a, "resolved"): 1 for (r, a), resolves in EXPECTED.items() if resolves}
    )
    assert told == expected_told
    # The duty route takes the critical ones by e-mail, in Chinese.
    subjects = sorted(
        str(make_header(decode_header(message_from_bytes(m.content)["Subject"])))
        for m in got.mails
        if m.rcpt_tos == ["duty@example.com"]
    )
    critical = [a for a in found if a["severity"] == "critical" and not a["quiet"]]
    assert len(critical) >= 3  # hot, the UPS's battery_low, the forced door
    heads = Counter(subject.split("]")[0] + "]" for subject in subjects)
    assert heads == Counter(
        {"[严重]": len(critical), "[已恢复]": sum(a["state"] == "resolved" for a in critical)}
    ), subjects

    # Every change of every alert reached InfluxDB through the collector (annotations).
    def stored() -> list[Any] | None:
        result = scenario["influxdb"].query(
            'SELECT count("summary") FROM "facmon_alerts" GROUP BY "state"', db=scenario["db"]
        )
        series = result["results"][0].get("series") or []
        counts = {s["tags"]["state"]: s["values"][0][1] for s in series}
        resolved = sum(a["state"] == "resolved" for a in found)
        return series if counts == {"firing": len(found), "resolved": resolved} else None

    wait_for(stored, 20, "the alerts in InfluxDB", procs)

    # The gateway dies: its will says so; its devices fall silent, and that is inhibited.
    scenario["gateway"].stop(signal.SIGKILL)

    def gone() -> list[dict[str, Any]] | None:
        found = all_alerts(base)
        gateway = [a for a in found if a["rule"] == "comm" and a["labels"]["key"] == "gateway"]
        silent = [a for a in found if a["rule"] == "comm" and a["labels"]["key"] == "silent"]
        return found if gateway and len(silent) == len(MODBUS) else None

    found = wait_for(gone, 30, "the gateway's and its devices' alerts", procs[:1])
    (gateway,) = [a for a in found if a["labels"].get("key") == "gateway"]
    assert gateway["quiet"] == ""
    silent = [a for a in found if a["labels"].get("key") == "silent"]
    quiet = {a["labels"]["device"]: a["quiet"] for a in silent}
    inhibited = f"inhibited by alert {gateway['id']}"
    assert quiet == {
        device: "silenced by silence #1" if device == "ups-2" else inhibited for device, _ in MODBUS
    }
    time.sleep(1)
    late = [(a["rule"], a["labels"].get("key")) for h in got.hooks()[before:] for a in h["alerts"]]
    assert late.count(("comm", "silent")) == 0
    assert late.count(("comm", "gateway")) == 1
