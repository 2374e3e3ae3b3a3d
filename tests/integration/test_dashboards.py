"""Every query of every dashboard, run against a real InfluxDB filled by the whole pipeline.

The simulator's devices (Modbus and MQTT, in two buildings) → ``facmon gateway`` →
Mosquitto → ``facmon collector`` → InfluxDB, with ``facmon api`` judging the readings
(alerts) and counting hours in use. Then each panel, variable and annotation query of
``dashboards/generated`` is run as Grafana would run it: ``$timeFilter`` and
``$__interval`` expanded, template variables replaced by real values read from InfluxDB.
Each must run without error and return data.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml

from api.registry.tokens import new_token
from bench.harness.influxdb import InfluxDBServer
from bench.harness.mosquitto import MosquittoServer
from dashboards.queries import Query, queries
from facmon.net import free_port
from tests.integration.processes import FacmonProcess, start_api, wait_for

pytestmark = pytest.mark.integration

GENERATED = Path(__file__).resolve().parents[2] / "dashboards" / "generated"
ADMIN = new_token()
HEADERS = {"Authorization": f"Bearer {ADMIN}"}
PREFIX = "facmon-dash"
"""A prefix of its own: what other tests leave retained on the broker is not seen."""
T0 = 8.0
"""Seconds after the simulator starts when the scenario begins."""
MOST_TRIES = 400
"""Combinations of real variable values tried per query before giving up on finding data."""

# Building b1: server room, offices, a meeting room. Building b2: garage and gate (closed).
PLACES = {
    "r1": ("b1", "b1-1f", "server_room", "机房"),
    "o1": ("b1", "b1-2f", "office", "办公室"),
    "m1": ("b1", "b1-2f", "meeting", "会议室"),
    "g1": ("b2", "b2-1f", "garage", "车库"),
    "e1": ("b2", "b2-1f", "entrance", "大门"),
}
MODBUS = [  # device, profile, room, asset category
    ("ups-1", "ups", "r1", "ups"),
    ("crac-1", "crac", "r1", "crac"),
    ("dc-1", "dc-power-48v", "r1", "dc-power"),
    ("th-1", "th-sensor", "r1", "environment"),
    ("pm-1", "power-meter-3ph", "r1", "meter"),
    ("pm-2", "power-meter-3ph", "g1", "meter"),
    ("av-1", "meeting-room-av", "m1", "av"),
    ("ac-1", "office-ac", "o1", "air-conditioner"),
    ("light-1", "lighting-controller", "o1", "lighting"),
    ("th-9", "th-sensor", "o1", "environment"),  # hangs: offline from the start
    ("pm-3", "power-meter-3ph", "r1", "meter"),  # a sub-meter of pm-1
]
SUB_METERS = {"pm-3": "pm-1-a"}
"""Each sub-meter's device and the asset of the meter upstream of it, in the registry."""
MQTT = [
    ("car-1", "vehicle-tracker", "g1", "vehicle"),
    ("car-2", "vehicle-tracker", "g1", "vehicle"),
    ("door-1", "door-controller", "e1", "door"),
    ("door-2", "door-controller", "o1", "door"),
]
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
        {"id": "device-fault", "kind": "fault"},
        {"id": "comm-loss", "kind": "comm_loss", "factor": 3},
        {
            "id": "server-room-hot",
            "kind": "threshold",
            "point": "temperature",
            "above": 27,
            "clear": 25,
            "for": "1s",
            "severity": "critical",
            "match": {"room_kinds": ["server_room"]},
        },
        {
            "id": "idle-equipment",
            "kind": "idle",
            "for": "2s",
            "severity": "info",
            "match": {"equipment": ["office"]},
        },
        {"id": "speeding", "kind": "speeding", "above": 80, "for": "1s"},
        {"id": "door-held-open", "kind": "door_held_open", "for": "2s"},
        {"id": "door-forced", "kind": "door_forced", "severity": "critical"},
        {"id": "after-hours-access", "kind": "access_after_hours"},
        {"id": "denied-swipes", "kind": "denied_burst", "count": 3, "within": "1m", "by": "door"},
        {"id": "tamper", "kind": "tamper", "match": {"profiles": ["door-controller"]}},
    ],
}


def estate() -> list[tuple[str, dict[str, Any]]]:
    """The registry: the site, its buildings, floors and rooms, an asset bound to each device."""
    made: list[tuple[str, dict[str, Any]]] = [("sites", {"id": "hq", "name": "总部"})]
    floors = sorted({(building, floor) for building, floor, _, _ in PLACES.values()})
    for building in sorted({b for b, _ in floors}):
        made.append(("buildings", {"id": building, "site_id": "hq", "name": building}))
    for building, floor in floors:
        made.append(("floors", {"id": floor, "building_id": building, "name": floor}))
    for room, (_, floor, kind, name) in PLACES.items():
        made.append(("rooms", {"id": room, "floor_id": floor, "name": name, "kind": kind}))
    for device, _, room, category in MODBUS + MQTT:
        asset = f"{device}-a"
        entry = {"id": asset, "name": asset, "category": category, "room_id": room}
        made.append(("assets", {**entry, "meter_parent": SUB_METERS.get(device)}))
        binding = {"asset_id": asset, "device": device, "effective_from": "2020-01-01T00:00:00Z"}
        made.append(("bindings", binding))
    return made


def location(room: str) -> dict[str, str]:
    building, floor, _, _ = PLACES[room]
    return {"building": building, "floor": floor, "room": room}


def steps() -> list[dict[str, Any]]:
    def at(t: float, **step: Any) -> dict[str, Any]:
        return {"at": T0 + t, **step}

    return [
        at(0, device="th-1", set={"temperature": 29.0}),
        at(0, device="ups-1", set={"battery_low": True}),
        at(0, device="av-1", set={"power_w": 3.0}),
        at(0, device="ac-1", set={"power_w": 900}),
        at(0, device="car-1", set={"ignition": True, "speed_kmh": 100.0}),
        at(0, device="car-1", event="harsh_brake"),
        at(1, device="car-2", event="ignition_on"),
        at(0, device="door-1", event="access_granted"),
        at(1, device="door-1", set={"door_state": "open"}),
        at(5, device="door-1", set={"door_state": "closed"}),
        at(6, device="door-1", event="door_forced"),
        at(7, device="door-1", event="access_denied"),
        at(7.5, device="door-1", event="access_denied"),
        at(8, device="door-1", event="access_denied"),
        at(9, device="door-1", set={"tamper": True}),
        at(2, device="door-2", event="access_granted"),
        at(2.5, device="door-2", set={"door_state": "open"}),  # and left open
        at(3, device="door-2", event="access_denied"),
    ]


@pytest.fixture
def filled(
    tmp_path: Path, mosquitto: MosquittoServer, influxdb: InfluxDBServer, influx_db: str
) -> Iterator[str]:
    """The whole pipeline running into ``influx_db``; yields the database once data flows."""
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(RULES, allow_unicode=True))
    alerts = {"defaults": False, "rules": [str(tmp_path / "rules.yaml")], "usage_every_s": 1}
    api, base = start_api(tmp_path, mosquitto.url, ADMIN, prefix=PREFIX, alerts=alerts)
    for path, body in estate():
        response = httpx.post(f"{base}/api/v1/{path}", json=body, headers=HEADERS)
        assert response.status_code == 201, response.text
    sim_port = free_port()
    sim = FacmonProcess(
        tmp_path,
        "sim",
        {
            "seed": 11,
            "broker": {"url": mosquitto.url},
            "endpoints": [
                {
                    "port": sim_port,
                    "devices": [
                        {"id": d, "profile": p, "unit": n + 1}
                        for n, (d, p, _, _) in enumerate(MODBUS)
                    ],
                }
            ],
            "mqtt_devices": [{"id": d, "profile": p, "interval_s": 0.5} for d, p, _, _ in MQTT],
            "scenario": [*steps(), {"at": T0, "device": "th-9", "behaviour": "hang"}],
        },
    )
    gateway = FacmonProcess(
        tmp_path,
        "gateway",
        {
            "site": "hq",
            "gateway": "gw-dash",
            "prefix": PREFIX,
            "uplink": {"url": mosquitto.url},
            "spool": {"path": str(tmp_path / "spool.db")},
            "offline_after": 2,
            "health_interval_s": 1,
            "buses": [{"id": "line-1", "host": "127.0.0.1", "port": sim_port, "timeout_s": 0.3}],
            "devices": [
                {
                    "id": d,
                    "profile": p,
                    "bus": "line-1",
                    "unit": n + 1,
                    "interval_s": 0.5,
                    "location": location(room),
                }
                for n, (d, p, room, _) in enumerate(MODBUS)
            ],
            "mqtt_sources": [
                {
                    "broker": {"url": mosquitto.url},
                    "devices": [
                        {"id": d, "profile": p, "location": location(room)}
                        for d, p, room, _ in MQTT
                    ],
                }
            ],
        },
    )
    collector = FacmonProcess(
        tmp_path,
        "collector",
        {
            "id": "c-dash",
            "prefix": PREFIX,
            "broker": {"url": mosquitto.url, "client_id": f"c-{influx_db}"},
            "sink": {"kind": "influxdb", "url": influxdb.url, "database": influx_db},
            "batch_max_delay_s": 0.1,
            "health_interval_s": 1,
        },
    )
    collector.start()
    gateway.start()
    sim.start()
    try:
        yield influx_db
        for process in (sim, gateway, collector):
            process.assert_running()
    finally:
        for process in (sim, gateway, collector):
            process.kill()
        assert api.stop() == 0
        assert "Traceback" not in api.log(100_000), api.log(200)


class Grafana:
    """Runs queries as Grafana's InfluxDB (InfluxQL) data source does, with its macros.

    The time range is the dashboard's own (``now-24h``, ``now-30d``), or a panel's
    ``timeFrom`` (``now/d``: since local midnight); ``$__interval`` is the range over about
    1,000 points, rounded as Grafana rounds it, never below the panel's ``interval``.
    """

    def __init__(self, influxdb: InfluxDBServer, database: str) -> None:
        self.influxdb, self.database = influxdb, database
        self.now = datetime.now(ZONE)

    def window(self, dashboard: dict[str, Any], panel: dict[str, Any] | None = None) -> Window:
        """The time range and interval a panel of ``dashboard`` is queried with."""
        time_range = dashboard.get("time") or {"from": "now-6h", "to": "now"}
        start = self.moment(str((panel or {}).get("timeFrom") or time_range["from"]))
        end = self.moment(str(time_range["to"]))
        minimum = _ms(str((panel or {}).get("interval") or "1ms").lstrip(">"))
        raw = (end - start) / 1000
        interval = next((step for step in STEPS_MS if step >= raw), STEPS_MS[-1])
        return (start, end, max(interval, minimum))

    def moment(self, text: str) -> int:
        """Epoch ms of a Grafana relative time: ``now``, ``now-7d``, ``now/d``, ``now-1d/d``."""
        found = re.fullmatch(r"now(?:-(\d+)([smhdwMy]))?(?:/([dwMy]))?", text)
        assert found, f"a time Grafana would read but this test cannot: {text!r}"
        amount, unit, rounded = found.groups()
        moment = self.now
        if amount:
            moment -= timedelta(seconds=int(amount) * UNITS_S[unit])
        if rounded == "d":
            moment = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        elif rounded:
            raise AssertionError(f"rounding to {rounded!r} is not simulated")
        return int(moment.timestamp() * 1000)

    def expand(self, text: str, values: dict[str, str], window: Window) -> str:
        """Replace the macros and the variables (each value a regex, as Grafana makes it)."""
        start, end, interval = window
        text = text.replace("$timeFilter", f"time >= {start}ms and time <= {end}ms")
        text = text.replace("$__interval_ms", str(interval))
        text = text.replace("$__interval", f"{interval}ms")
        text = text.replace("$__from", str(start)).replace("$__to", str(end))
        for name in sorted(values, key=len, reverse=True):  # $device before $dev
            for form in (f"${{{name}}}", f"[[{name}]]", f"${name}"):
                text = text.replace(form, values[name])
        return text

    def run(self, text: str) -> list[dict[str, Any]]:
        """The series of every statement; raises on any error InfluxDB reports."""
        answer = self.influxdb.query(text, db=self.database, epoch="ms", check=False)
        series: list[dict[str, Any]] = []
        for result in answer.get("results", []):
            if "error" in result:
                raise AssertionError(f"{result['error']}\n  in: {text}")
            series += result.get("series", [])
        if "error" in answer:
            raise AssertionError(f"{answer['error']}\n  in: {text}")
        return series


Window = tuple[int, int, int]
"""From and to (epoch ms), and ``$__interval`` in ms."""
ZONE = ZoneInfo("Asia/Shanghai")
"""The browser's timezone in this test (the sites')."""
UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800, "M": 2_592_000, "y": 31_536_000}
STEPS_MS = [
    step * 1000
    for step in (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800)
]
"""The intervals Grafana rounds ``$__interval`` to (from 1 s to 3 h)."""


def _ms(interval: str) -> int:
    found = re.fullmatch(r"(\d+)(ms|s|m|h|d)", interval)
    assert found, f"an interval Grafana would read but this test cannot: {interval!r}"
    number, unit = found.groups()
    return int(number) * {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}[unit]


def _rows(series: list[dict[str, Any]]) -> int:
    return sum(
        1 for s in series for row in s.get("values", []) if any(v is not None for v in row[1:])
    )


def variable_values(grafana: Grafana, dashboard: dict[str, Any]) -> dict[str, list[str]]:
    """Each template variable's real values: its query run with the variables before it at All."""
    found: dict[str, list[str]] = {}
    at_all: dict[str, str] = {}
    for variable in dashboard.get("templating", {}).get("list", []):
        name = variable["name"]
        if variable.get("type") == "query":
            query = variable["query"]
            text = query if isinstance(query, str) else query.get("query", "")
            series = grafana.run(grafana.expand(text, at_all, grafana.window(dashboard)))
            values = sorted({str(row[-1]) for s in series for row in s.get("values", [])})
            found[name] = [re.escape(v) for v in values]
        elif variable.get("type") == "custom":
            found[name] = [o["value"] for o in variable.get("options", []) if o.get("value")]
        elif variable.get("type") in ("interval", "constant", "textbox"):
            found[name] = [str(variable.get("query", "")).split(",")[0]]
        at_all[name] = variable.get("allValue") or ".*"
    return found


def judge(
    grafana: Grafana, query: Query, choices: dict[str, list[str]], window: Window
) -> str | None:
    """None when the query returns data with real values; else what went wrong."""
    used = [name for name in choices if re.search(rf"\$\{{?{name}\b|\[\[{name}\]\]", query.text)]
    for name in used:
        if not choices[name]:
            return f"variable ${name} has no values"
    combos = itertools.islice(itertools.product(*(choices[n] for n in used)), MOST_TRIES)
    for combo in combos:
        values = dict(zip(used, combo, strict=True))
        if _rows(grafana.run(grafana.expand(query.text, values, window))):
            return None
    return f"no data for any of the real values of {used}" if used else "no data"


def panels(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The dashboard's panels by title, those in rows included."""
    found: dict[str, dict[str, Any]] = {}
    pending = list(dashboard.get("panels", []))
    while pending:
        panel = pending.pop()
        found.setdefault(str(panel.get("title", "")), panel)
        pending += panel.get("panels", [])
    return found


def test_every_dashboard_query_returns_data_from_the_pipeline(
    filled: str, influxdb: InfluxDBServer
) -> None:
    dashboards = [json.loads(path.read_text()) for path in sorted(GENERATED.glob("*.json"))]
    assert len(dashboards) >= 8, "dashboards/generated: run facmon dashboards build"
    everything = [(d, q) for d in dashboards for q in queries(d)]
    grafana = Grafana(influxdb, filled)
    failing: dict[str, str] = {}

    def all_answer() -> bool | None:
        nonlocal grafana
        grafana = Grafana(influxdb, filled)
        failing.clear()
        values: dict[str, dict[str, list[str]]] = {}
        for dashboard in dashboards:
            try:
                values[dashboard["uid"]] = variable_values(grafana, dashboard)
            except AssertionError as exc:
                failing[f"{dashboard['uid']} / variables"] = f"error: {exc}"
                return None
        for dashboard, query in everything:
            if query.kind == "variable":
                continue  # their values are checked below, with the variables' own chain
            where = f"{query.dashboard} / {query.panel} / {query.ref_id}"
            try:
                panel = panels(dashboard).get(query.panel) if query.kind == "panel" else None
                window = grafana.window(dashboard, panel)
                problem = judge(grafana, query, values[dashboard["uid"]], window)
            except AssertionError as exc:  # InfluxDB refused it: no use waiting
                problem = f"error: {exc}"
            if problem is not None:
                failing[where] = problem
        for dashboard in dashboards:
            for name, found in values[dashboard["uid"]].items():
                if not found:
                    failing[f"{dashboard['uid']} / variable ${name}"] = "no values"
        return not failing or None

    try:
        wait_for(all_answer, 150, "every dashboard query to return data")
    except AssertionError:
        raise AssertionError(
            f"{len(failing)} of {len(everything)} queries fail:\n"
            + "\n".join(f"  {where}: {problem}" for where, problem in sorted(failing.items()))
        ) from None
    kinds = {
        kind: sum(q.kind == kind for _, q in everything)
        for kind in ("panel", "variable", "annotation")
    }
    print(
        f"\n{len(everything)} queries of {len(dashboards)} dashboards ran with data "
        f"({kinds['panel']} panel targets, {kinds['variable']} variables, "
        f"{kinds['annotation']} annotations)"
    )
    # The place tags came through: the building variable lists both buildings.
    building = grafana.run('SHOW TAG VALUES FROM "ups", "vehicle" WITH KEY = "building"')
    assert sorted({row[1] for s in building for row in s["values"]}) == ["b1", "b2"]
    # The registry's metering tree came through the API and the collector as a tag.
    parents = grafana.run(
        'SELECT last("import_energy_kwh") FROM "power_meter" WHERE "meter_parent" != \'\' '
        'GROUP BY "device", "meter_parent"'
    )
    assert {s["tags"]["device"]: s["tags"]["meter_parent"] for s in parents} == SUB_METERS


ENERGY_TOTALS = [  # dashboard, panel: each a total over a place's meters
    ("facmon-energy", "Energy in the time range"),
    ("facmon-energy", "Energy per building"),
    ("facmon-energy", "Daily energy per building"),
    ("facmon-site-overview", "Energy today"),
]


def test_energy_totals_count_a_main_meter_and_not_its_sub_meters(
    influxdb: InfluxDBServer, influx_db: str
) -> None:
    # b1's main meter counts 100 kWh; its sub-meters (hvac under main, 201 under hvac) are
    # part of that count, 60 and 40 of it. The collector tags a sub-meter's rows.
    moment = datetime.now(ZONE)
    now = int(moment.timestamp() * 1000)
    midnight = int(moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp() * 1000)
    first = max(now - 600_000, midnight + 1)  # both readings today: "Energy today" sees both
    meters = {"pm-main": ("", 100), "pm-hvac": ("pm-main", 60), "pm-201": ("pm-hvac", 40)}
    lines = []
    for device, (parent, kwh) in meters.items():
        tags = f"site=hq,building=b1,device={device}" + (
            f",meter_parent={parent}" if parent else ""
        )
        for n, at in enumerate((first, now)):
            lines.append(f"power_meter,{tags} import_energy_kwh={1000 + n * kwh} {at}")
    influxdb.write(lines, db=influx_db)
    grafana = Grafana(influxdb, influx_db)
    dashboards = {
        d["uid"]: d for d in (json.loads(p.read_text()) for p in sorted(GENERATED.glob("*.json")))
    }
    for uid, title in ENERGY_TOTALS:
        dashboard = dashboards[uid]
        (query,) = [q for q in queries(dashboard) if q.kind == "panel" and q.panel == title]
        window = grafana.window(dashboard, panels(dashboard)[title])
        series = grafana.run(grafana.expand(query.text, {"site": ".*", "building": ".*"}, window))
        total = sum(row[-1] or 0 for s in series for row in s.get("values", []))
        assert total == pytest.approx(100), f"{uid} / {title}: {total} kWh, not 100"
