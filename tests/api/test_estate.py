"""An alert's points at firing and now: which values are points, and how they are said."""

from __future__ import annotations

from api.estate import alert_readings, readings_text
from api.live import LiveDevice
from devices.library import resolve_profile


def test_an_alert_says_its_value_at_firing_and_the_value_now() -> None:
    car = LiveDevice("car-2", "hq", "gw-1", ts=5000, values={"speed_kmh": 45.0, "lat": 30.5})
    found = alert_readings({"speed_kmh": 104.0}, car, resolve_profile("vehicle-tracker"))
    assert [r.model_dump() for r in found] == [
        {"point": "speed_kmh", "unit": "km/h", "at_firing": 104.0, "now": 45.0, "now_ts": 5000}
    ]
    assert readings_text(found, "en") == "at firing 104 km/h · now 45 km/h"
    assert readings_text(found, "zh") == "触发时 104 km/h · 当前 45 km/h"


def test_only_points_have_a_now_and_several_are_named() -> None:
    car = LiveDevice("car-2", "hq", "gw-1", ts=5000, values={"lat": 30.5, "lon": 114.3})
    values = {"lat": 30.66, "lon": 114.45, "silent_s": 83.0, "card": "C-17"}
    found = alert_readings(values, car, None)  # no profile: the device's own values tell
    assert [r.point for r in found] == ["lat", "lon"]
    assert readings_text(found, "en") == (
        "lat: at firing 30.66 · now 30.5; lon: at firing 114.45 · now 114.3"
    )
    assert readings_text(found, "zh") == (
        "lat：触发时 30.66 · 当前 30.5，lon：触发时 114.45 · 当前 114.3"
    )


def test_a_device_not_heard_yet_and_a_flag() -> None:
    ups = resolve_profile("ups")
    (unheard,) = alert_readings({"on_battery": True}, None, ups)
    assert (unheard.at_firing, unheard.now, unheard.now_ts) == (True, None, None)
    assert readings_text([unheard], "en") == "at firing yes · now no reading yet"
    assert readings_text([unheard], "zh") == "触发时 是 · 当前 暂无读数"
    back = LiveDevice("ups-1", "hq", "gw-1", ts=9, values={"on_battery": False})
    assert readings_text(alert_readings({"on_battery": True}, back, ups), "en") == (
        "at firing yes · now no"
    )
    assert alert_readings({"silent_s": 83.0, "error": "timeout"}, back, ups) == []
    assert readings_text([], "en") == ""
