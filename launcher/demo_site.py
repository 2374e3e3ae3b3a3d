"""The demo's site as data (pure; no I/O): its estate, its devices and the scenario it plays.

Two buildings of an electric power company's logistics department: an office building and a
dispatch building, each with a server room, offices, meeting rooms and plant rooms; 60 Modbus
devices across the profile library behind three serial lines, 3 vehicles, 8 door controllers
and 4 motion sensors over MQTT, and two gateways. Every device is an asset of the registry,
bound to it and placed in its room.

The scenario raises, within its first minute and a half, a UPS on battery, a server room
overheating (its CRAC tripped), a projector left on after hours, a vehicle speeding outside
its service area at night, a door held open and an after-hours entry, and resolves some.
The site's clock is set to the evening (20:00-21:00 local), wherever the demo runs, so that
the after-hours rules have something to judge.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from typing import Any

from launcher import demo_ledger, demo_meters

SITE = "demo"
SITE_NAME = "示范供电公司 Demo Power Supply Co."
EVENING_HOUR = 20
"""The site's local hour when the demo starts."""
IDLE_AFTER_S = 30
"""How long the idle asset's counter stands still before its idle alert."""


@dataclass(frozen=True)
class Room:
    """A room of the estate: where it is and what it is."""

    id: str
    building: str
    floor: str
    name: str
    kind: str


@dataclass(frozen=True)
class Device:
    """A simulated device, its asset (same id) and where it stands."""

    id: str
    profile: str
    room: str
    name: str
    line: str | None = None
    """Serial line (Modbus); None for an MQTT device."""

    @property
    def mqtt(self) -> bool:
        """Whether the device publishes over MQTT itself (no serial line)."""
        return self.line is None


@dataclass(frozen=True)
class ExpectedAlert:
    """An alert the scenario raises: which rule, on which device, whether it resolves.

    ``severity`` is the worst of the alerts the rule raises on the device.
    """

    rule: str
    device: str
    resolves: bool
    what: str
    severity: str


BUILDINGS = {"b1": "办公楼 Office building", "b2": "调度通信楼 Dispatch building"}
FLOORS = {
    "b1-b1": ("b1", "B1", -1),
    "b1-1f": ("b1", "1F", 1),
    "b1-2f": ("b1", "2F", 2),
    "b1-3f": ("b1", "3F", 3),
    "b2-1f": ("b2", "1F", 1),
    "b2-2f": ("b2", "2F", 2),
    "b2-3f": ("b2", "3F", 3),
}
ROOMS = [
    Room("b1-b01", "b1", "b1-b1", "配电室 Switch room", "power_room"),
    Room("b1-b02", "b1", "b1-b1", "水泵房 Pump room", "plant_room"),
    Room("b1-101", "b1", "b1-1f", "大厅 Lobby", "lobby"),
    Room("b1-102", "b1", "b1-1f", "档案室 Archive", "archive"),
    Room("b1-201", "b1", "b1-2f", "信息机房 Server room", "server_room"),
    Room("b1-203", "b1", "b1-2f", "综合办公室 Office 203", "office"),
    Room("b1-204", "b1", "b1-2f", "财务室 Office 204", "office"),
    Room("b1-301", "b1", "b1-3f", "第一会议室 Meeting room 1", "meeting"),
    Room("b1-302", "b1", "b1-3f", "第二会议室 Meeting room 2", "meeting"),
    Room("b1-303", "b1", "b1-3f", "后勤部 Logistics office", "office"),
    Room("b1-304", "b1", "b1-3f", "经理室 Manager's office", "office"),
    Room("b2-101", "b2", "b2-1f", "车库 Garage", "garage"),
    Room("b2-102", "b2", "b2-1f", "配电室 Switch room", "power_room"),
    Room("b2-201", "b2", "b2-2f", "通信机房 Communication room", "server_room"),
    Room("b2-202", "b2", "b2-2f", "调度大厅 Dispatch hall", "office"),
    Room("b2-301", "b2", "b2-3f", "调度会议室 Dispatch meeting room", "meeting"),
    Room("b2-302", "b2", "b2-3f", "运维班 Maintenance office", "office"),
    Room("b2-303", "b2", "b2-3f", "值班室 Duty room", "office"),
]


def _modbus(line: str, room: str, *specs: tuple[str, str, str]) -> list[Device]:
    return [Device(d, p, room, n, line) for d, p, n in specs]


def _mqtt(room: str, *specs: tuple[str, str, str]) -> list[Device]:
    return [Device(d, p, room, n) for d, p, n in specs]


DEVICES = [
    # Office building, line 1: basement and ground floor.
    *_modbus(
        "b1-line-1",
        "b1-b01",
        ("cab-b1-1", "distribution-cabinet", "低压柜 1 LV cabinet 1"),
        ("cab-b1-2", "distribution-cabinet", "低压柜 2 LV cabinet 2"),
        ("pm-b1-main", "power-meter-3ph", "总表 Main meter"),
        ("pm-b1-hvac", "power-meter-3ph", "空调分表 HVAC meter"),
        ("th-b1-b01", "th-sensor", "温湿度 T/H switch room"),
    ),
    *_modbus(
        "b1-line-1",
        "b1-b02",
        ("pump-b1-1", "water-pump", "生活水泵 1 Water pump 1"),
        ("pump-b1-2", "water-pump", "生活水泵 2 Water pump 2"),
        ("th-b1-b02", "th-sensor", "温湿度 T/H pump room"),
    ),
    *_modbus(
        "b1-line-1",
        "b1-101",
        ("lift-b1-1", "lift-controller", "1号电梯 Lift 1"),
        ("lift-b1-2", "lift-controller", "2号电梯 Lift 2"),
        ("light-b1-1f", "lighting-controller", "1F 照明 Lighting 1F"),
        ("fire-b1", "fire-panel", "火灾报警主机 Fire panel"),
    ),
    *_modbus("b1-line-1", "b1-102", ("th-b1-102", "th-sensor", "温湿度 T/H archive")),
    # Office building, line 2: the server room and the upper floors.
    *_modbus(
        "b1-line-2",
        "b1-201",
        ("ups-b1-1", "ups", "UPS 1"),
        ("ups-b1-2", "ups", "UPS 2"),
        ("crac-b1-1", "crac", "精密空调 1 CRAC 1"),
        ("crac-b1-2", "crac", "精密空调 2 CRAC 2"),
        ("dc-b1-1", "dc-power-48v", "-48V 电源 DC power"),
        ("pm-b1-201", "power-meter-3ph", "机房电表 Server room meter"),
        ("th-b1-201-1", "th-sensor", "温湿度 1 T/H rack row A"),
        ("th-b1-201-2", "th-sensor", "温湿度 2 T/H rack row B"),
        ("th-b1-201-3", "th-sensor", "温湿度 3 T/H cold aisle"),
    ),
    *_modbus(
        "b1-line-2",
        "b1-203",
        ("ac-b1-203", "office-ac", "空调 AC 203"),
        ("th-b1-203", "th-sensor", "温湿度 T/H 203"),
        ("light-b1-2f", "lighting-controller", "2F 照明 Lighting 2F"),
    ),
    *_modbus("b1-line-2", "b1-204", ("ac-b1-204", "office-ac", "空调 AC 204")),
    *_modbus(
        "b1-line-2",
        "b1-301",
        ("av-b1-301", "meeting-room-av", "投影仪 Projector 301"),
        ("ac-b1-301", "office-ac", "空调 AC 301"),
        ("light-b1-3f", "lighting-controller", "3F 照明 Lighting 3F"),
    ),
    *_modbus(
        "b1-line-2",
        "b1-302",
        ("av-b1-302", "meeting-room-av", "投影仪 Projector 302"),
        ("ac-b1-302", "office-ac", "空调 AC 302"),
    ),
    *_modbus("b1-line-2", "b1-303", ("ac-b1-303", "office-ac", "空调 AC 303")),
    *_modbus("b1-line-2", "b1-304", ("ac-b1-304", "office-ac", "空调 AC 304")),
    # Dispatch building, one line.
    *_modbus(
        "b2-line-1",
        "b2-101",
        ("light-b2-1f", "lighting-controller", "车库照明 Garage lighting"),
        ("th-b2-101", "th-sensor", "温湿度 T/H garage"),
        ("fire-b2", "fire-panel", "火灾报警主机 Fire panel"),
        ("lift-b2-1", "lift-controller", "电梯 Lift"),
        ("pump-b2-1", "water-pump", "消防水泵 Fire pump"),
    ),
    *_modbus(
        "b2-line-1",
        "b2-102",
        ("cab-b2-1", "distribution-cabinet", "低压柜 LV cabinet"),
        ("pm-b2-main", "power-meter-3ph", "总表 Main meter"),
        ("pm-b2-light", "power-meter-3ph", "照明分表 Lighting meter"),
        ("th-b2-102", "th-sensor", "温湿度 T/H switch room"),
    ),
    *_modbus(
        "b2-line-1",
        "b2-201",
        ("ups-b2-1", "ups", "UPS 1"),
        ("ups-b2-2", "ups", "UPS 2"),
        ("crac-b2-1", "crac", "精密空调 1 CRAC 1"),
        ("crac-b2-2", "crac", "精密空调 2 CRAC 2"),
        ("dc-b2-1", "dc-power-48v", "-48V 电源 1 DC power 1"),
        ("dc-b2-2", "dc-power-48v", "-48V 电源 2 DC power 2"),
        ("pm-b2-201", "power-meter-3ph", "机房电表 Comm room meter"),
        ("th-b2-201-1", "th-sensor", "温湿度 1 T/H row A"),
        ("th-b2-201-2", "th-sensor", "温湿度 2 T/H row B"),
        ("th-b2-201-3", "th-sensor", "温湿度 3 T/H battery corner"),
    ),
    *_modbus(
        "b2-line-1",
        "b2-202",
        ("ac-b2-202-1", "office-ac", "空调 1 AC 1"),
        ("ac-b2-202-2", "office-ac", "空调 2 AC 2"),
        ("light-b2-2f", "lighting-controller", "2F 照明 Lighting 2F"),
        ("av-b2-202", "meeting-room-av", "大屏 Video wall"),
    ),
    *_modbus(
        "b2-line-1",
        "b2-301",
        ("av-b2-301", "meeting-room-av", "投影仪 Projector"),
        ("ac-b2-301", "office-ac", "空调 AC 301"),
    ),
    *_modbus("b2-line-1", "b2-302", ("ac-b2-302", "office-ac", "空调 AC 302")),
    *_modbus("b2-line-1", "b2-303", ("ac-b2-303", "office-ac", "空调 AC 303")),
    # MQTT: vehicles, doors and motion sensors.
    *_mqtt(
        "b2-101",
        ("car-1", "vehicle-tracker", "鄂A·D1001 调度车 Dispatch car"),
        ("car-2", "vehicle-tracker", "鄂A·D1002 抢修车 Repair truck"),
        ("car-3", "vehicle-tracker", "鄂A·D1003 通勤车 Shuttle bus"),
        ("door-b2-garage", "door-controller", "车库门 Garage door"),
    ),
    *_mqtt("b1-101", ("door-b1-101", "door-controller", "大门 Main entrance")),
    *_mqtt("b1-102", ("door-b1-102", "door-controller", "档案室门 Archive door")),
    *_mqtt("b1-201", ("door-b1-201", "door-controller", "机房门 Server room door")),
    *_mqtt("b1-b01", ("door-b1-b01", "door-controller", "配电室门 Switch room door")),
    *_mqtt("b2-102", ("door-b2-102", "door-controller", "配电室门 Switch room door")),
    *_mqtt("b2-201", ("door-b2-201", "door-controller", "机房门 Comm room door")),
    *_mqtt("b2-202", ("door-b2-202", "door-controller", "调度大厅门 Dispatch hall door")),
    *_mqtt("b1-301", ("pir-b1-301", "motion-sensor", "人体感应 Motion 301")),
    *_mqtt("b1-302", ("pir-b1-302", "motion-sensor", "人体感应 Motion 302")),
    *_mqtt("b1-102", ("pir-b1-102", "motion-sensor", "人体感应 Motion archive")),
    *_mqtt("b2-301", ("pir-b2-301", "motion-sensor", "人体感应 Motion 301")),
]
LINES = {"b1-line-1": "gw-b1", "b1-line-2": "gw-b1", "b2-line-1": "gw-b2"}
"""Each serial line and the gateway that polls it (one gateway per building)."""
CATEGORIES = {
    "ups": "ups",
    "crac": "crac",
    "office-ac": "air-conditioner",
    "dc-power-48v": "dc-power",
    "distribution-cabinet": "power-distribution",
    "power-meter-3ph": "meter",
    "th-sensor": "environment",
    "water-pump": "pump",
    "lift-controller": "lift",
    "lighting-controller": "lighting",
    "fire-panel": "fire",
    "meeting-room-av": "av",
    "vehicle-tracker": "vehicle",
    "door-controller": "door",
    "motion-sensor": "sensor",
}
"""The registry category of each profile's assets (ids of api/categories.yaml)."""
SERVICE_AREA = [(30.47, 114.24), (30.47, 114.40), (30.60, 114.40), (30.60, 114.24)]
"""The vehicles' service area (the default simulated route runs inside it)."""

# The scenario, in seconds after the simulator starts.
SCENARIO: list[dict[str, Any]] = [
    {"at": 0, "device": demo_ledger.IDLE, "set": {"trip_count": 120_346}},
    {"at": 8, "device": "crac-b1-1", "set": {"high_pressure_alarm": True}, "for": 40},
    {"at": 8, "device": "av-b1-301", "set": {"power_w": 236.0, "projector_state": 2}},
    {"at": 10, "device": "th-b1-201-1", "set": {"temperature": 31.5}, "for": 40},
    {
        "at": 10,
        "device": "ups-b1-1",
        "set": {"on_battery": True, "mains_abnormal": True, "input_voltage": 0.0},
        "for": 35,
    },
    {"at": 12.5, "device": "door-b1-201", "event": "access_granted"},
    {"at": 13, "device": "door-b1-201", "set": {"door_state": "open"}, "for": 30},
    {"at": 15, "device": "door-b1-102", "event": "access_granted"},
    {
        "at": 18,
        "device": "car-2",
        "set": {"ignition": True, "speed_kmh": 104.0, "lat": 30.66, "lon": 114.45},
    },
    {"at": 50, "device": "car-2", "set": {"ignition": True, "speed_kmh": 45.0}},
]
EXPECTED = [
    ExpectedAlert("device-fault", "crac-b1-1", True, "CRAC 1 trips on high pressure", "critical"),
    ExpectedAlert("device-fault", "ups-b1-1", True, "UPS 1 on battery (mains lost)", "critical"),
    ExpectedAlert(
        "server-room-hot-demo", "th-b1-201-1", True, "the server room overheats", "critical"
    ),
    ExpectedAlert(
        "projector-left-on", "av-b1-301", False, "a projector left on after hours", "info"
    ),
    ExpectedAlert("speeding-demo", "car-2", True, "the repair truck speeds", "warning"),
    ExpectedAlert("service-area", "car-2", False, "… outside its service area", "warning"),
    ExpectedAlert("after-hours-driving-demo", "car-2", False, "… at night", "warning"),
    ExpectedAlert(
        "door-held-open-demo", "door-b1-201", True, "the server room door held open", "warning"
    ),
    ExpectedAlert(
        "after-hours-access", "door-b1-102", False, "an after-hours entry, archive", "warning"
    ),
    ExpectedAlert("idle-lift-demo", demo_ledger.IDLE, False, "lift 2, marked idle, unused", "info"),
]
"""Every alert the scenario raises, and whether it resolves within the first two minutes."""


def rules(utc_offset_h: int) -> dict[str, Any]:
    """The demo's rules file: the defaults' timings shortened to fit a two-minute show.

    ``utc_offset_h`` is the site's offset from UTC, which the working-hours calendar keeps.
    """
    fast: list[tuple[str, dict[str, Any]]] = [
        ("server-room-hot", {"kind": "threshold", "point": "temperature", "above": 27,
                             "clear": 25, "for": "20s", "severity": "critical",
                             "match": {"room_kinds": ["server_room"],
                                       "equipment": ["environment"]}}),
        ("speeding", {"kind": "speeding", "above": 80, "for": "5s",
                      "match": {"equipment": ["vehicle"]}}),
        ("after-hours-driving", {"kind": "movement", "for": "20s",
                                 "match": {"equipment": ["vehicle"]}}),
        ("door-held-open", {"kind": "door_held_open", "for": "20s",
                            "match": {"profiles": ["door-controller"]}}),
    ]  # fmt: skip
    return {
        "calendars": {"default": {"timezone": calendar_zone(utc_offset_h)}},
        "rules": [
            *({"id": f"{rule}-demo", "overrides": rule, **body} for rule, body in fast),
            {
                "id": "projector-left-on",
                "kind": "threshold",
                "point": "power_w",
                "above": 100,
                "clear": 20,
                "for": "20s",
                "severity": "info",
                "working_time": "outside",
                "match": {"profiles": ["meeting-room-av"]},
                "summary": {
                    "en": "left on after hours, drawing {power_w} W",
                    "zh": "下班后未关闭，功率 {power_w} W",
                },
            },
            {  # a counter that stops: idle after 30 s, working time or not
                "id": "idle-lift-demo",
                "kind": "idle",
                "unchanged_days": round(IDLE_AFTER_S / 86_400, 6),
                "severity": "info",
                "match": {"devices": [demo_ledger.IDLE]},
                "summary": {"en": "no trip since the demo started", "zh": "演示开始以来未运行"},
            },
            {
                "id": "service-area",
                "kind": "geofence",
                "name": "Service area 服务区域",
                "on": "exit",
                "polygon": [list(p) for p in SERVICE_AREA],
                "match": {"equipment": ["vehicle"]},
            },
        ],
    }


def calendar_zone(utc_offset_h: int) -> str:
    """The IANA name of a fixed offset (POSIX signs: UTC+8 is ``Etc/GMT-8``)."""
    if utc_offset_h == 0:
        return "Etc/UTC"
    return f"Etc/GMT{-utc_offset_h:+d}"


def evening_offset(now: float | None = None) -> int:
    """The UTC offset (whole hours, -12..+14) at which it is ``EVENING_HOUR`` o'clock now."""
    hour = time.gmtime(time.time() if now is None else now).tm_hour
    return (EVENING_HOUR - hour + 12) % 24 - 12


def estate(today: date) -> list[tuple[str, dict[str, Any]]]:
    """The registry entries, in creation order: (collection, body) for ``POST /api/v1/...``.

    The ledger's dates are computed from ``today``, the day the demo starts.
    """
    entries: list[tuple[str, dict[str, Any]]] = [
        ("sites", {"id": SITE, "name": SITE_NAME, "address": "武汉 Wuhan"})
    ]
    entries += [("buildings", {"id": b, "site_id": SITE, "name": n}) for b, n in BUILDINGS.items()]
    entries += [
        ("floors", {"id": f, "building_id": b, "name": n, "level": level})
        for f, (b, n, level) in FLOORS.items()
    ]
    entries += [
        ("rooms", {"id": r.id, "floor_id": r.floor, "name": r.name, "kind": r.kind}) for r in ROOMS
    ]
    for number, d in enumerate(DEVICES):
        place = {"category": CATEGORIES[d.profile], "room_id": d.room}
        ledger = demo_ledger.ledger(number, d.id, d.profile, today)
        tree = {"meter_parent": demo_meters.meter_parent(d.id)}
        entries.append(("assets", {"id": d.id, "name": d.name, **place, **ledger, **tree}))
        since = "2024-01-01T00:00:00Z"
        entries.append(("bindings", {"asset_id": d.id, "device": d.id, "effective_from": since}))
    return entries


def _location(device: Device) -> dict[str, str]:
    room = next(r for r in ROOMS if r.id == device.room)
    return {"building": room.building, "floor": room.floor, "room": room.id}


def units() -> dict[str, int]:
    """Each Modbus device's unit id on its line (1, 2, … in order)."""
    numbered: dict[str, int] = {}
    for line in LINES:
        on_line = [d for d in DEVICES if d.line == line]
        numbered.update({d.id: n for n, d in enumerate(on_line, start=1)})
    return numbered


def sim_config(broker_url: str, utc_offset_h: int) -> dict[str, Any]:
    """``facmon sim``'s configuration: an endpoint per line, the MQTT devices, the scenario."""
    unit = units()
    return {
        "seed": 2026,
        "utc_offset_h": utc_offset_h,
        "broker": {"url": broker_url},
        "endpoints": [
            {
                "port": 0,
                "devices": [
                    {"id": d.id, "profile": d.profile, "unit": unit[d.id]}
                    for d in DEVICES
                    if d.line == line
                ],
            }
            for line in LINES
        ],
        "mqtt_devices": [
            {
                "id": d.id,
                "profile": d.profile,
                "interval_s": 2.0 if d.profile == "vehicle-tracker" else 5.0,
            }
            for d in DEVICES
            if d.mqtt
        ],
        "scenario": SCENARIO,
        "sums": demo_meters.sums(),
    }


def gateway_configs(
    broker_url: str, line_ports: dict[str, int], spool_dir: str
) -> list[dict[str, Any]]:
    """One gateway per building: its serial lines (at ``line_ports``) and its MQTT devices."""
    unit = units()
    configs = []
    for gateway in sorted(set(LINES.values())):
        building = gateway.removeprefix("gw-")
        lines = [line for line, owner in LINES.items() if owner == gateway]
        mqtt = [d for d in DEVICES if d.mqtt and _location(d)["building"] == building]
        configs.append(
            {
                "site": SITE,
                "gateway": gateway,
                "uplink": {"url": broker_url},
                "spool": {"path": f"{spool_dir}/{gateway}-spool.db"},
                "buses": [
                    {"id": line, "host": "127.0.0.1", "port": line_ports[line], "timeout_s": 1.0}
                    for line in lines
                ],
                "devices": [
                    {
                        "id": d.id,
                        "profile": d.profile,
                        "bus": d.line,
                        "unit": unit[d.id],
                        "interval_s": 2.0,
                        "location": _location(d),
                    }
                    for d in DEVICES
                    if d.line in lines
                ],
                "mqtt_sources": [
                    {
                        "broker": {"url": broker_url},
                        "devices": [
                            {"id": d.id, "profile": d.profile, "location": _location(d)}
                            for d in mqtt
                        ],
                    }
                ],
            }
        )
    return configs
