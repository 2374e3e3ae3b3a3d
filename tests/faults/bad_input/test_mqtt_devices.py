"""Hostile messages of MQTT devices: mapped to contract values or refused with MappingError."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from devices.mapping import MappingError, map_message
from facmon.contract import (
    DataEnvelope,
    EventEnvelope,
)
from tests.faults.bad_input.corpus import (
    JSON_FRAGMENTS,
    QUICK,
    TS,
    corrupted,
    mutants,
    outcome,
    serialise,
    shipped_profiles,
)

MQTT_PROFILES = sorted(n for n, p in shipped_profiles().items() if p.protocol == "mqtt")
MQTT_MESSAGES = {
    "door-controller.yaml": {
        "door": "open",
        "reader": 2,
        "tamper": False,
        "event": "granted",
        "card": "12345",
    },
    "motion-sensor.yaml": {"motion": True, "tamper": True, "battery_pct": 97, "temp_c": 21.5},
    "vehicle-tracker.yaml": {
        "gps": {"lat": 31.2, "lon": 121.5, "speed_kmh": 42.0, "heading": 90},
        "ign": 1,
        "odo_km": 12345.6,
        "fuel_pct": 55,
        "event": "sos",
    },
}


@QUICK
@given(name=st.sampled_from(MQTT_PROFILES), data=st.data())
@example(  # an event attribute past 64 bits made the gateway's ingest raise ValidationError
    name="door-controller.yaml", data=b'{"event": "granted", "reader": 9223372036854775808}'
)
def test_an_mqtt_device_message_maps_to_contract_values_or_raises_mapping_error(
    name: str, data: st.DataObject | bytes
) -> None:
    profile = shipped_profiles()[name]
    good = serialise(MQTT_MESSAGES[name], "json")
    payload = (
        data
        if isinstance(data, bytes)
        else data.draw(
            st.builds(serialise, mutants(MQTT_MESSAGES[name]), st.just("json"))
            | corrupted(good, JSON_FRAGMENTS)
        )
    )
    mapped = outcome(lambda: map_message(profile, payload), MappingError)
    if isinstance(mapped, MappingError):
        assert str(mapped)
        return
    if mapped.values or mapped.quality:
        DataEnvelope.model_validate(
            {
                "ts": TS,
                "seq": 1,
                "measurement": profile.measurement,
                "values": mapped.values,
                "quality": mapped.quality,
            }
        )
    for kind, attrs in mapped.events:
        EventEnvelope.model_validate({"ts": TS, "seq": 1, "type": kind, "attrs": attrs})
