"""The demo's site is consistent: every device placed, configured, bound and judged."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from api.alerts.config import DEFAULT_RULES
from api.alerts.rules import load_rules
from devices.library import resolve_profile
from devices.sim.model import SimConfig
from gateway.config import GatewayConfig
from launcher import demo_site


def test_the_site_has_what_the_demo_promises() -> None:
    profiles = Counter(d.profile for d in demo_site.DEVICES)
    assert sum(not d.mqtt for d in demo_site.DEVICES) == 60
    assert profiles["vehicle-tracker"] == 3
    assert profiles["door-controller"] == 8
    modbus_profiles = {d.profile for d in demo_site.DEVICES if not d.mqtt}
    assert len(modbus_profiles) >= 12  # across the profile library
    kinds = Counter(r.kind for r in demo_site.ROOMS)
    assert kinds["server_room"] == 2
    assert kinds["meeting"] >= 2
    assert kinds["office"] >= 2
    ids = [d.id for d in demo_site.DEVICES]
    assert len(ids) == len(set(ids))
    rooms = {r.id for r in demo_site.ROOMS}
    assert {d.room for d in demo_site.DEVICES} <= rooms
    for device in demo_site.DEVICES:
        profile = resolve_profile(device.profile)
        assert (profile.protocol == "mqtt") == device.mqtt, device.id
        assert device.profile in demo_site.CATEGORIES


def test_every_device_is_simulated_polled_and_registered_once() -> None:
    sim = SimConfig.model_validate(demo_site.sim_config("mqtt://127.0.0.1:1883", 8))
    simulated = [d.id for e in sim.endpoints for d in e.devices]
    simulated += [d.id for d in sim.mqtt_devices]
    ports = {line: 5020 + n for n, line in enumerate(demo_site.LINES)}
    gateways = [
        GatewayConfig.model_validate(raw)
        for raw in demo_site.gateway_configs("mqtt://127.0.0.1:1883", ports, "/tmp")
    ]
    polled = [d.id for g in gateways for d in g.devices]
    polled += [d.id for g in gateways for s in g.mqtt_sources for d in s.devices]
    bound = [body["device"] for kind, body in demo_site.estate(date.today()) if kind == "bindings"]
    everything = sorted(d.id for d in demo_site.DEVICES)
    assert sorted(simulated) == sorted(polled) == sorted(bound) == everything
    for gateway in gateways:  # each gateway's devices are in its own building
        for device in gateway.devices:
            assert device.location.building == gateway.gateway.removeprefix("gw-")


def test_the_scenario_names_real_devices_and_points(tmp_path: Path) -> None:
    devices = {d.id: d for d in demo_site.DEVICES}
    for step in demo_site.SCENARIO:
        profile = resolve_profile(devices[step["device"]].profile)
        names = {p.name for p in profile.points}
        names |= {f.name for p in profile.points for f in p.flags.values()}
        assert set(step.get("set", {})) <= names, step
    for expected in demo_site.EXPECTED:
        assert expected.device in devices
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(demo_site.rules(demo_site.evening_offset())))
    rules = load_rules(DEFAULT_RULES, path)
    assert {e.rule for e in demo_site.EXPECTED} <= {r.id for r in rules.rules}


def test_it_is_evening_at_the_site_whenever_the_demo_starts() -> None:
    start = time.time()
    for hour in range(0, 48):
        now = start + hour * 1800
        offset = demo_site.evening_offset(now)
        assert -12 <= offset <= 14
        zone = ZoneInfo(demo_site.calendar_zone(offset))
        assert datetime.fromtimestamp(now, UTC).astimezone(zone).hour == demo_site.EVENING_HOUR


def _severities(profile_name: str, values: dict[str, object]) -> set[str]:
    """The severities of the faults that ``values`` show by the profile (flags, fault values)."""
    profile = resolve_profile(profile_name)
    flags = {f.name: f.severity for p in profile.points for f in p.flags.values()}
    found = {flags[name] for name, value in values.items() if name in flags and value is True}
    found |= {f.severity for f in profile.faults if f.holds(values.get(f.point))}  # type: ignore[arg-type]
    return found & {"warning", "critical"}


def test_the_expected_alerts_say_the_severity_the_rules_and_profiles_give(
    tmp_path: Path,
) -> None:
    devices = {d.id: d for d in demo_site.DEVICES}
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(demo_site.rules(demo_site.evening_offset())))
    by_id = {r.id: r for r in load_rules(DEFAULT_RULES, path).rules}
    rank = ["info", "warning", "critical"]
    for expected in demo_site.EXPECTED:
        if expected.rule == "device-fault":  # the profile says how bad each fault is
            set_values: dict[str, object] = {}
            for step in demo_site.SCENARIO:
                if step["device"] == expected.device:
                    set_values |= step.get("set", {})
            found = _severities(devices[expected.device].profile, set_values)
            worst = max(found, key=rank.index)
        else:
            worst = by_id[expected.rule].severity
        assert expected.severity == worst, expected
    ups = [e for e in demo_site.EXPECTED if e.device == "ups-b1-1"]
    assert [e.severity for e in ups] == ["critical"]  # on battery with mains lost


LEDGER = ("vendor", "model", "serial", "purchase_date", "warranty_end")
LEDGER += ("owner_department", "responsible")


def _assets(today: date) -> list[dict[str, Any]]:
    return [body for kind, body in demo_site.estate(today) if kind == "assets"]


def test_every_asset_has_its_whole_ledger_and_one_warranty_ends_this_month() -> None:
    for today in [date(2026, 12, 2), date(2027, 1, 31), date(2028, 2, 29), date(2026, 7, 1)]:
        assets = _assets(today)
        assert len(assets) == len(demo_site.DEVICES)
        for asset in assets:
            missing = [name for name in LEDGER if not asset.get(name)]
            assert not missing, (asset["id"], missing)
            purchased = date.fromisoformat(asset["purchase_date"])
            ends = date.fromisoformat(asset["warranty_end"])
            assert purchased < today, asset
            assert purchased < ends, asset
        assert len({a["serial"] for a in assets}) == len(assets)
        ending = [
            a["id"]
            for a in assets
            if date.fromisoformat(a["warranty_end"]).timetuple()[:2] == today.timetuple()[:2]
        ]
        assert len(ending) == 1, (today, ending)
        assert any(date.fromisoformat(a["warranty_end"]) < today for a in assets)  # some ended


def test_one_asset_is_idle_and_the_scenario_raises_its_idle_alert(tmp_path: Path) -> None:
    idle = [a["id"] for a in _assets(date(2026, 12, 2)) if a.get("lifecycle") == "idle"]
    assert len(idle) == 1
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(demo_site.rules(demo_site.evening_offset())))
    by_id = {r.id: r for r in load_rules(DEFAULT_RULES, path).rules}
    raised = [e for e in demo_site.EXPECTED if e.device == idle[0]]
    assert [by_id[e.rule].kind for e in raised] == ["idle"]
    assert not raised[0].resolves
