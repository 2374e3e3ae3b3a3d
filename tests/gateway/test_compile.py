"""Plans are compiled by the protocol of each device's bus; a profile of another is refused."""

from __future__ import annotations

import pytest

from facmon.config import ConfigError
from gateway.config import GatewayConfig
from gateway.main import compile_plans, ingest_profiles

BASE = {"site": "hq", "gateway": "gw-1", "buses": [{"id": "line", "host": "127.0.0.1"}]}


def test_devices_alike_share_one_plan_and_a_different_gap_gets_its_own() -> None:
    config = GatewayConfig.model_validate(
        {
            **BASE,
            "devices": [
                {"id": "ups-1", "profile": "ups", "bus": "line", "unit": 1},
                {"id": "ups-2", "profile": "ups", "bus": "line", "unit": 2},
                {"id": "ups-3", "profile": "ups", "bus": "line", "unit": 3, "max_gap": 0},
            ],
        }
    )
    (_, first), (_, second), (_, third) = compile_plans(config)
    assert first is second
    assert third is not first
    assert third.profile is first.profile


def test_an_mqtt_profile_on_a_modbus_bus_is_a_config_error() -> None:
    config = GatewayConfig.model_validate(
        {**BASE, "devices": [{"id": "car-1", "profile": "vehicle-tracker", "bus": "line"}]}
    )
    with pytest.raises(
        ConfigError, match=r"devices\[0\]\.profile: .* is an MQTT profile, not a Modbus one"
    ):
        compile_plans(config)


def test_a_modbus_profile_on_an_mqtt_source_is_a_config_error() -> None:
    config = GatewayConfig.model_validate(
        {
            **BASE,
            "mqtt_sources": [
                {
                    "broker": {"url": "mqtt://127.0.0.1:1883"},
                    "devices": [{"id": "u", "profile": "ups"}],
                }
            ],
        }
    )
    with pytest.raises(ConfigError, match="ups is a Modbus profile, not an MQTT one"):
        ingest_profiles(config)
