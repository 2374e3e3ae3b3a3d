"""Report by exception: deadbands, heartbeats, quality changes."""

from __future__ import annotations

from devices.library import resolve_profile
from gateway.reporting import ChangeFilter


def test_deadband_heartbeat_and_quality() -> None:
    profile = resolve_profile("th-sensor")
    deadband = profile.point("temperature").deadband or 0.0
    changes = ChangeFilter(profile, max_age_s=60)
    assert changes.select({"temperature": 20.0, "humidity": 40.0}, {}, 0) == (
        {"temperature": 20.0, "humidity": 40.0},
        {},
    )
    assert changes.select({"temperature": 20.0 + deadband / 2, "humidity": 40.0}, {}, 1) == ({}, {})
    assert changes.select({"temperature": 20.0 + deadband * 2, "humidity": 40.0}, {}, 2) == (
        {"temperature": 20.0 + deadband * 2},
        {},
    )
    assert changes.select({"temperature": 20.0 + deadband * 2}, {"humidity": "bad"}, 3) == (
        {},
        {"humidity": "bad"},
    )
    assert changes.select({"temperature": 20.0 + deadband * 2}, {"humidity": "bad"}, 4) == ({}, {})
    assert changes.select({"temperature": 20.0 + deadband * 2, "humidity": 40.0}, {}, 5) == (
        {"humidity": 40.0},
        {},
    )
    heartbeat = changes.select({"temperature": 20.0 + deadband * 2, "humidity": 40.0}, {}, 200)
    assert set(heartbeat[0]) == {"temperature", "humidity"}


def test_booleans_and_strings_report_any_change() -> None:
    changes = ChangeFilter(resolve_profile("ups"), max_age_s=600)
    changes.select({"on_battery": False, "serial": "A"}, {}, 0)
    assert changes.select({"on_battery": True, "serial": "A"}, {}, 1) == ({"on_battery": True}, {})
    assert changes.select({"on_battery": True, "serial": "B"}, {}, 2) == ({"serial": "B"}, {})
