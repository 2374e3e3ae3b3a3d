"""Simulated MQTT devices: messages in the device's own format, behaviour by time of day."""

from __future__ import annotations

import calendar

from devices.library import resolve_profile
from devices.sim.model import SimMqttDevice
from devices.sim.mqtt import MqttDeviceSim, working_time

# 2026-11-24 is a Tuesday; times are UTC, the site is UTC+8.
TUESDAY_10H = calendar.timegm((2026, 11, 24, 2, 0, 0)) * 1.0
TUESDAY_22H = calendar.timegm((2026, 11, 24, 14, 0, 0)) * 1.0
SUNDAY_10H = calendar.timegm((2026, 11, 29, 2, 0, 0)) * 1.0


def run(
    sim: MqttDeviceSim, start: float, seconds: int, step: float = 1.0
) -> list[dict[str, object]]:
    messages = []
    for i in range(int(seconds / step)):
        messages += sim.step(start + i * step, step)
    return messages


def test_working_time() -> None:
    assert working_time(TUESDAY_10H, 8)
    assert not working_time(TUESDAY_22H, 8)
    assert not working_time(SUNDAY_10H, 8)


def test_a_vehicle_drives_its_route_in_working_hours() -> None:
    sim = MqttDeviceSim(
        SimMqttDevice(id="car-1", profile="vehicle-tracker", interval_s=5),
        resolve_profile("vehicle-tracker"),
        1,
    )
    assert sim.topic == "fleet/car-1/telemetry"
    messages = run(sim, TUESDAY_10H, 120)
    telemetry = [m for m in messages if "event" not in m]
    assert len(telemetry) == 24
    first, last = telemetry[0], telemetry[-1]
    assert set(first) >= {"gps", "ign", "odo_km", "fuel_pct"}
    assert set(first["gps"]) >= {"lat", "lon", "speed_kmh", "heading"}  # type: ignore[arg-type]
    assert all(m["ign"] is True for m in telemetry)
    assert 20 < last["gps"]["speed_kmh"] < 70  # type: ignore[index]
    moved_km = last["odo_km"] - first["odo_km"]  # type: ignore[operator]
    assert 0.5 < moved_km < 2.5
    assert (first["gps"]["lat"], first["gps"]["lon"]) != (last["gps"]["lat"], last["gps"]["lon"])  # type: ignore[index]


def test_a_vehicle_parks_at_night_and_reports_ignition_changes() -> None:
    sim = MqttDeviceSim(
        SimMqttDevice(id="car-1", profile="vehicle-tracker"), resolve_profile("vehicle-tracker"), 1
    )
    run(sim, TUESDAY_10H, 10)
    night = run(sim, TUESDAY_22H, 60)
    assert [m["event"] for m in night if "event" in m] == ["ignition_off"]
    parked = [m for m in night if "event" not in m]
    assert all(m["ign"] is False and m["gps"]["speed_kmh"] == 0 for m in parked)  # type: ignore[index]


def test_pinned_values_override_behaviour() -> None:
    sim = MqttDeviceSim(
        SimMqttDevice(id="car-1", profile="vehicle-tracker"), resolve_profile("vehicle-tracker"), 1
    )
    sim.pinned["speed_kmh"] = 132.0
    messages = run(sim, TUESDAY_10H, 10)
    assert all(m["gps"]["speed_kmh"] == 132.0 for m in messages)  # type: ignore[index]


def test_door_swipes_in_working_hours_are_mapped_events() -> None:
    profile = resolve_profile("door-controller")
    sim = MqttDeviceSim(SimMqttDevice(id="door-1", profile="door-controller"), profile, 3)
    events = [m for m in run(sim, TUESDAY_10H, 3600, 5) if "event" in m]
    kinds = {m["event"] for m in events}
    assert kinds <= {"granted", "denied"}
    assert 10 < len(events) < 60  # about one a minute... every two minutes
    assert all(isinstance(m["card"], str) and m["reader"] is not None for m in events)
    forced = sim.event("door_forced", TUESDAY_22H)
    assert forced["event"] == "forced"
