"""``/healthz`` counts the site's devices as the demo's console does."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import orjson

from api.live import LiveState, live_counts
from api.routes.health import healthz
from facmon.contract import Topic, TopicKind


def site() -> LiveState:
    """Two devices with a state, one with data only, and a gateway's own health readings."""
    live = LiveState()
    for device, state in (("ups-1", "online"), ("crac-1", "offline")):
        live.apply(
            Topic(TopicKind.STATE, "hq", "gw1", device),
            orjson.dumps({"state": state, "since": 1}),
        )
    reading = {"ts": 5, "seq": 1, "measurement": "gateway_health", "values": {"cpu_pct": 3.0}}
    live.apply(Topic(TopicKind.DATA, "hq", "gw1", "gw1"), orjson.dumps(reading))
    reading = {"ts": 5, "seq": 1, "measurement": "th", "values": {"temperature": 21.0}}
    live.apply(Topic(TopicKind.DATA, "hq", "gw1", "th-1"), orjson.dumps(reading))
    return live


def test_devices_are_counted_by_state_without_the_gateways_own_readings() -> None:
    assert live_counts(site()) == {"online": 1, "offline": 1}


async def test_healthz_counts_the_devices_with_a_state() -> None:
    services: Any = SimpleNamespace(feed=SimpleNamespace(connected=True), live=site())
    health = await healthz(services)
    assert health.devices == 2
