"""Line protocol formatting and escaping."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from facmon.contract import (
    AlertEnvelope,
    DataEnvelope,
    EventEnvelope,
    StateEnvelope,
    UsageEnvelope,
)
from storage.lineprotocol import escape_key, field_value, fields, tags, to_line
from storage.records import (
    AlertRecord,
    EventRecord,
    HealthRecord,
    Record,
    StateRecord,
    UsageRecord,
)

NS = 1_000_000


def record(values: dict[str, object], quality: dict[str, str] | None = None) -> Record:
    envelope = DataEnvelope.model_validate(
        {
            "ts": 1_700_000_000_123,
            "seq": 42,
            "measurement": "ups",
            "values": values,
            "quality": quality or {},
        }
    )
    return Record("hq", "gw-1", "ups_1", envelope)


def test_types_and_tag_order() -> None:
    line = to_line(record({"v": 230.5, "n": 3, "on": True, "s": "ok"}))
    assert line == (
        "ups,device=ups_1,gateway=gw-1,site=hq "
        'v=230.5,n=3i,on=true,s="ok",facmon_seq=42i 1700000000123000042'
    )


def test_bad_points_are_recorded() -> None:
    line = to_line(record({"v": 1.0}, {"b": "bad", "a": "bad", "v": "uncertain"}))
    assert 'facmon_bad="a,b"' in line


def test_escaping() -> None:
    assert escape_key("a b,c=d\\e") == "a\\ b\\,c\\=d\\\\e"
    assert field_value('say "hi" \\ there') == '"say \\"hi\\" \\\\ there"'
    assert field_value("line\nbreak") == '"line\nbreak"'
    assert field_value(1e21) == "1e+21"
    assert field_value(-0.0) == "-0.0"
    assert field_value(False) == "false"
    assert tags({"room": "2F, east=1", "b": "", "a": "x"}) == ",a=x,room=2F\\,\\ east\\=1"


scalars = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)


@given(st.dictionaries(st.from_regex(r"[a-z0-9_-]{1,8}", fullmatch=True), scalars, max_size=8))
def test_batched_number_formatting_equals_formatting_one_by_one(values: dict[str, Any]) -> None:
    assert fields(values) == [f"{escape_key(k)}={field_value(v)}" for k, v in values.items()]


def test_floats_read_back_exactly() -> None:
    for value in (0.1, 1e16, 1e-7, 5e-324, 1.7976931348623157e308, -2.5, 123456789.0):
        assert float(fields({"x": value})[0].removeprefix("x=")) == value


def test_events_keep_same_millisecond_events_apart_by_seq() -> None:
    def event(seq: int) -> str:
        envelope = EventEnvelope.model_validate(
            {"ts": 1_000, "seq": seq, "type": "card_denied", "attrs": {"card": "A 1", "n": 2}}
        )
        return to_line(EventRecord("hq", "gw-1", "door-1", envelope))

    first, second = event(7), event(8)
    assert first == (
        "facmon_events,device=door-1,gateway=gw-1,site=hq,type=card_denied "
        f'card="A 1",n=2i,facmon_seq=7i {1_000 * NS + 7}'
    )
    assert second.rsplit(" ", 1)[1] == str(1_000 * NS + 8)
    assert event(7) == first  # a replay lands on the same point


def test_readings_in_one_millisecond_stay_apart_and_replays_overwrite() -> None:
    def reading(seq: int) -> str:
        envelope = DataEnvelope.model_validate(
            {"ts": 1_000, "seq": seq, "measurement": "ups", "values": {"v": 1.0}}
        )
        return to_line(Record("hq", "gw-1", "ups-1", envelope)).rsplit(" ", 1)[1]

    # A gateway whose clock was set back reports again over time it already reported.
    assert reading(7) != reading(8)
    assert reading(7) == reading(7) == str(1_000 * NS + 7)


def test_alert_lines() -> None:
    envelope = AlertEnvelope.model_validate(
        {
            "id": "a-1",
            "ts": 5,
            "state": "firing",
            "severity": "critical",
            "rule": "ups_on_battery",
            "summary": 'UPS "1" on battery',
            "device": "ups-1",
        }
    )
    assert to_line(AlertRecord("hq", envelope)) == (
        "facmon_alerts,device=ups-1,id=a-1,rule=ups_on_battery,severity=critical,site=hq,"
        f'state=firing summary="UPS \\"1\\" on battery" {5 * NS}'
    )
    placed = envelope.model_copy(update={"rule_kind": "fault", "building": "b1", "room": "r1"})
    assert to_line(AlertRecord("hq", placed)).startswith(
        "facmon_alerts,building=b1,device=ups-1,id=a-1,kind=fault,room=r1,rule=ups_on_battery,"
    )


def test_a_placed_device_carries_its_building_floor_and_room_in_key_order() -> None:
    placed = Record("hq", "gw-1", "ups_1", record({"v": 1.0}).envelope, ("b1", "", "b1-101"))
    assert to_line(placed).startswith(
        "ups,building=b1,device=ups_1,gateway=gw-1,room=b1-101,site=hq "
    )
    everywhere = Record("hq", "gw-1", "d", record({"v": 1.0}).envelope, ("b1", "b1-2f", "r"))
    assert ",building=b1,device=d,floor=b1-2f,gateway=gw-1,room=r,site=hq " in to_line(everywhere)
    event = EventEnvelope.model_validate({"ts": 1, "seq": 2, "type": "door_forced"})
    line = to_line(EventRecord("hq", "gw-1", "door-1", event, ("b1", "", "r1")))
    assert line.startswith(
        "facmon_events,building=b1,device=door-1,gateway=gw-1,room=r1,site=hq,type=door_forced "
    )


def test_state_usage_and_health_lines() -> None:
    state = StateEnvelope.model_validate(
        {
            "state": "offline",
            "since": 7,
            "error": 'timeout: "unit 3"',
            "profile": "ups",
            "building": "b1",
            "room": "r1",
        }
    )
    assert to_line(StateRecord("hq", "gw-1", "ups-1", state)) == (
        "facmon_states,building=b1,device=ups-1,gateway=gw-1,room=r1,site=hq "
        f'state="offline",error="timeout: \\"unit 3\\"",profile="ups" {7 * NS}'
    )
    usage = UsageEnvelope.model_validate(
        {
            "ts": 9,
            "day": "2026-11-27",
            "asset": "pj-1",
            "device": "av-1",
            "category": "office",
            "in_use_s": 5400,
            "observed_s": 7200,
        }
    )
    assert to_line(UsageRecord("hq", usage)) == (
        "facmon_usage,asset=pj-1,category=office,device=av-1,site=hq "
        f"in_use_h=1.5,observed_h=2.0 {9 * NS}"
    )
    health = HealthRecord("c1", 3, {"received": 10, "lag_s": 0.25})
    assert to_line(health) == f"facmon_collector,collector=c1 received=10i,lag_s=0.25 {3 * NS}"
