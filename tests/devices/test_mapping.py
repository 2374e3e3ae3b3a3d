"""MQTT device messages map to values and events; writes encode within limits."""

from __future__ import annotations

import orjson
import pytest

from devices.library import resolve_profile
from devices.mapping import MappingError, map_message
from devices.modbus.codec import CodecError
from devices.modbus.decoding import decode_point, encode_point


def test_vehicle_message_maps_to_points_and_events() -> None:
    profile = resolve_profile("vehicle-tracker")
    payload = {
        "gps": {"lat": 30.52, "lon": 114.31, "speed_kmh": 42.5, "heading": 270},
        "ign": True,
        "odo_km": 12345.6,
        "fuel_pct": 63,
        "event": "ignition_on",
    }
    mapped = map_message(profile, orjson.dumps(payload))
    assert mapped.values["speed_kmh"] == 42.5
    assert mapped.values["ignition"] is True
    assert mapped.values["heading"] == 270
    assert mapped.quality == {}
    assert [kind for kind, _ in mapped.events] == ["ignition_on"]


def test_wrong_forms_are_bad_missing_are_absent() -> None:
    profile = resolve_profile("vehicle-tracker")
    mapped = map_message(
        profile,
        orjson.dumps({"gps": {"speed_kmh": "fast", "lat": None}, "ign": "yes", "fuel_pct": 50}),
    )
    assert mapped.quality == {"speed_kmh": "bad", "ignition": "bad"}
    assert "lat" not in mapped.values
    assert "lat" not in mapped.quality
    assert mapped.values == {"fuel_pct": 50}


def test_door_events_carry_their_attributes() -> None:
    mapped = map_message(
        resolve_profile("door-controller"),
        b'{"door": "open", "event": "forced", "card": "", "reader": 2}',
    )
    assert mapped.events == [("door_forced", {"card": "", "reader": 2})]


@pytest.mark.parametrize("payload", [b"[1]", b"{", b"\xff", b'"text"'])
def test_non_objects_are_refused(payload: bytes) -> None:
    with pytest.raises(MappingError):
        map_message(resolve_profile("motion-sensor"), payload)


def test_writes_encode_within_limits_and_round_trip() -> None:
    point = resolve_profile("ups").point("low_battery_alarm_v")
    assert point.access == "rw"
    assert point.min is not None
    assert point.max is not None
    value = round((point.min + point.max) / 2, 1)
    assert decode_point(point, encode_point(point, value))[point.name] == value
    with pytest.raises(CodecError, match="above the maximum"):
        encode_point(point, point.max + 1)
    with pytest.raises(CodecError, match="below the minimum"):
        encode_point(point, point.min - 1)
    with pytest.raises(CodecError, match="takes a finite number"):
        encode_point(point, True)
