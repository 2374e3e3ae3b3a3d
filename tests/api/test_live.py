"""Live state applies contract messages and keeps the newest."""

from __future__ import annotations

import orjson
import pytest

from api.alerts.profiles import Profiles
from api.live import LiveState
from api.main import fault_judge
from facmon.contract import EnvelopeError, Topic, TopicKind


def data(ts: int, values: dict[str, object]) -> bytes:
    return orjson.dumps({"ts": ts, "seq": ts, "measurement": "ups", "values": values})


def test_newest_values_win_and_points_accumulate() -> None:
    state = LiveState()
    topic = Topic(TopicKind.DATA, "hq", "gw1", "ups-1")
    state.apply(topic, data(2000, {"v": 2.0}))
    state.apply(topic, data(1000, {"v": 1.0}))
    state.apply(topic, data(3000, {"w": 3.0}))
    device = state.devices["ups-1"]
    assert device.values == {"v": 2.0, "w": 3.0}
    assert device.ts == 3000


def test_state_and_status() -> None:
    state = LiveState()
    state.apply(
        Topic(TopicKind.STATE, "hq", "gw1", "ups-1"),
        b'{"state": "offline", "since": 5, "error": "timeout"}',
    )
    state.apply(Topic(TopicKind.STATUS, "hq", "gw1"), b'{"state": "online", "ts": 5}')
    assert state.devices["ups-1"].state == "offline"
    assert state.gateways[("hq", "gw1")].state == "online"


def test_bad_payloads_raise() -> None:
    with pytest.raises(EnvelopeError):
        LiveState().apply(Topic(TopicKind.DATA, "hq", "gw1", "d"), b'{"ts": "x"}')


def test_the_faults_a_devices_values_show_are_judged_by_its_profile() -> None:
    state = LiveState(judge=fault_judge(Profiles()))
    where = ("hq", "gw1", "ups-1")
    state.apply(
        Topic(TopicKind.STATE, *where), b'{"state": "online", "since": 1, "profile": "ups"}'
    )
    topic = Topic(TopicKind.DATA, *where)
    state.apply(topic, data(1000, {"on_battery": False, "battery_charge_pct": 90.0}))
    assert state.devices["ups-1"].faults == ()
    version = state.version
    state.apply(topic, data(2000, {"on_battery": True, "battery_low": True, "overload": False}))
    names = [(name.en, name.zh) for name in state.devices["ups-1"].faults]
    assert names == [
        ("Battery low", "电池电压低"),
        ("Mains failure, on battery", "市电中断，电池放电"),
    ]
    assert state.version == version + 1  # a status can change
    state.apply(topic, data(3000, {"on_battery": True, "battery_low": True}))
    assert state.version == version + 1  # the same faults: nothing changes
    state.apply(topic, data(4000, {"on_battery": False, "battery_low": False}))
    assert state.devices["ups-1"].faults == ()
    unknown = Topic(TopicKind.DATA, "hq", "gw1", "x-1")
    state.apply(
        Topic(TopicKind.STATE, "hq", "gw1", "x-1"),
        b'{"state": "online", "since": 1, "profile": "nope"}',
    )
    state.apply(unknown, data(1000, {"on_battery": True}))
    assert state.devices["x-1"].faults == ()  # an unknown profile judges nothing
