"""The detection engine, rule kind by rule kind, on the profile library's devices."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from api.alerts.checks import Signal
from api.alerts.config import DEFAULT_RULES, AlertsConfig
from api.alerts.engine import Engine
from api.alerts.manager import Alerting
from api.alerts.rules import RulesError, RuleSet, load_rules
from devices.library import resolve_profile
from facmon.contract import DataEnvelope, Topic, TopicKind

PROFILES = {
    name: resolve_profile(name)
    for name in ("ups", "door-controller", "vehicle-tracker", "meeting-room-av", "th-sensor")
}
SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_10 = int(datetime(2026, 9, 28, 10, 0, tzinfo=SHANGHAI).timestamp() * 1000)
MONDAY_22 = int(datetime(2026, 9, 28, 22, 0, tzinfo=SHANGHAI).timestamp() * 1000)
S = 1000


def engine(*rules: dict[str, Any], **extra: Any) -> Engine:
    return Engine(RuleSet.model_validate({"rules": list(rules), **extra}), PROFILES)


def seen(made: Engine, device: str, profile: str, ts: int = MONDAY_10, every: float = 10) -> None:
    assert made.state("hq", "gw-1", device, ts, "online", None, profile, every) == []


def fired(signals: list[Signal]) -> list[tuple[str, str, bool]]:
    return [(s.rule.id, s.key, s.firing) for s in signals]


def test_threshold_waits_for_its_duration_and_clears_at_its_own_level() -> None:
    made = engine(
        {
            "id": "hot",
            "kind": "threshold",
            "point": "temperature",
            "above": 27,
            "clear": 25,
            "for": "60s",
            "severity": "critical",
        }
    )
    seen(made, "th-1", "th-sensor")
    t = MONDAY_10
    assert made.data("hq", "gw-1", "th-1", t, {"temperature": 28.0}) == []
    assert made.data("hq", "gw-1", "th-1", t + 30 * S, {"temperature": 29.0}) == []
    assert made.data("hq", "gw-1", "th-1", t + 40 * S, {"temperature": 26.0}) == []  # reset
    assert made.data("hq", "gw-1", "th-1", t + 50 * S, {"temperature": 28.0}) == []
    assert made.tick(t + 100 * S) == []
    (signal,) = made.tick(t + 111 * S)  # 60 s after 28.0 at t+50, with no new reading
    assert (signal.rule.id, signal.firing, signal.severity) == ("hot", True, "critical")
    assert signal.values == {"temperature": 28.0}
    assert signal.fingerprint == "hot/th-1/"
    assert made.data("hq", "gw-1", "th-1", t + 120 * S, {"temperature": 26.0}) == []  # > 25
    (cleared,) = made.data("hq", "gw-1", "th-1", t + 130 * S, {"temperature": 25.0})
    assert cleared.firing is False
    assert made.data("hq", "gw-1", "th-1", t + 140 * S, {"humidity": 50.0}) == []


def test_fault_flags_and_fault_values_come_from_the_profile() -> None:
    made = engine({"id": "faults", "kind": "fault"})
    seen(made, "ups-1", "ups")
    on = made.data(
        "hq",
        "gw-1",
        "ups-1",
        MONDAY_10,
        {"battery_low": True, "fan_fault": True, "maintenance_bypass": True},
    )
    assert sorted((s.key, s.severity) for s in on) == [
        ("battery_low", "critical"),
        ("fan_fault", "warning"),
    ]  # maintenance_bypass is severity info: not a fault
    again = made.data("hq", "gw-1", "ups-1", MONDAY_10 + S, {"battery_low": True})
    assert again == []  # once, not at every reading
    off = made.data("hq", "gw-1", "ups-1", MONDAY_10 + 2 * S, {"battery_low": False})
    assert fired(off) == [("faults", "battery_low", False)]
    made.place({"ups-1": {"asset": "ups-a", "room": "r1"}})  # a registry change keeps state
    assert made.data("hq", "gw-1", "ups-1", MONDAY_10 + 3 * S, {"fan_fault": True}) == []


def test_communication_loss_by_state_by_silence_and_by_gateway() -> None:
    made = engine({"id": "comm", "kind": "comm_loss", "factor": 3})
    seen(made, "ups-1", "ups", every=10)
    t = MONDAY_10
    made.data("hq", "gw-1", "ups-1", t, {"load_pct": 40})
    assert made.tick(t + 29 * S) == []
    (silent,) = made.tick(t + 31 * S)
    assert (silent.key, silent.firing, silent.values["silent_s"]) == ("silent", True, 31)
    assert made.tick(t + 60 * S) == []
    (back,) = made.data("hq", "gw-1", "ups-1", t + 61 * S, {"load_pct": 41})
    assert (back.key, back.firing) == ("silent", False)
    (down,) = made.state("hq", "gw-1", "ups-1", t + 62 * S, "offline", "timeout", "ups", 10)
    assert (down.key, down.firing, down.values["error"]) == ("state", True, "timeout")
    assert made.tick(t + 200 * S) == []  # offline already says it
    (gone,) = made.gateway("hq", "gw-1", t + 63 * S, online=False)
    assert (gone.subject, gone.key, gone.firing) == ("hq/gw-1", "gateway", True)
    assert made.gateway("hq", "gw-1", t + 64 * S, online=False) == []
    assert fired(made.gateway("hq", "gw-1", t + 65 * S, online=True)) == [
        ("comm", "gateway", False)
    ]


def test_idle_counts_working_time_not_in_use() -> None:
    made = engine({"id": "idle", "kind": "idle", "for": "1h", "match": {"categories": ["av"]}})
    made.place({"proj-1": {"category": "av"}})
    seen(made, "proj-1", "meeting-room-av")
    t = MONDAY_10
    assert made.data("hq", "gw-1", "proj-1", t, {"power_w": 5.0}) == []
    assert made.data("hq", "gw-1", "proj-1", t + 3000 * S, {"power_w": 4.0}) == []
    (idle,) = made.tick(t + 3600 * S)
    assert (idle.rule.id, idle.firing) == ("idle", True)
    (used,) = made.data("hq", "gw-1", "proj-1", t + 3700 * S, {"power_w": 200.0})
    assert used.firing is False
    # Not in use overnight is not idle: it is not working time.
    assert made.data("hq", "gw-1", "proj-1", MONDAY_22, {"power_w": 3.0}) == []
    assert made.tick(MONDAY_22 + 8 * 3600 * S) == []
    made.data("hq", "gw-1", "proj-1", MONDAY_22 + 20 * S, {"power_w": 250.0})
    made.data("hq", "gw-1", "proj-1", MONDAY_22 + 30 * S, {"power_w": 250.0})
    # Gaps longer than 3 reporting intervals are not counted; 20 s not in use, 10 s in use.
    assert made.usage() == {"proj-1": {datetime(2026, 9, 28).date(): [10.0, 30.0]}}
    assert made.usage() == {}


def test_vehicles() -> None:
    square = [[30.0, 114.0], [30.0, 115.0], [31.0, 115.0], [31.0, 114.0]]
    made = engine(
        {"id": "speed", "kind": "speeding", "above": 80, "for": "10s"},
        {"id": "fence", "kind": "geofence", "name": "Campus", "polygon": square},
        {"id": "night", "kind": "movement"},
        {"id": "idling", "kind": "long_idling", "for": "5m"},
    )
    seen(made, "car-1", "vehicle-tracker")
    t = MONDAY_10
    assert (
        made.data(
            "hq",
            "gw-1",
            "car-1",
            t,
            {"lat": 30.5, "lon": 114.5, "speed_kmh": 90.0, "ignition": True},
        )
        == []
    )
    assert fired(made.data("hq", "gw-1", "car-1", t + 11 * S, {"speed_kmh": 95.0})) == [
        ("speed", "", True)
    ]
    assert fired(made.data("hq", "gw-1", "car-1", t + 12 * S, {"lat": 31.5})) == [
        ("fence", "", True)
    ]
    assert fired(made.data("hq", "gw-1", "car-1", t + 13 * S, {"lat": 30.5, "speed_kmh": 0.0})) == [
        ("speed", "", False),
        ("fence", "", False),
    ]
    assert fired(made.tick(t + 13 * S + 300 * S)) == [("idling", "", True)]
    night = MONDAY_22
    assert made.data("hq", "gw-1", "car-1", night, {"speed_kmh": 30.0}) != []  # idling clears
    assert fired(made.tick(night + 61 * S)) == [("night", "", True)]


def test_doors() -> None:
    made = engine(
        {"id": "held", "kind": "door_held_open", "for": "2m"},
        {"id": "forced", "kind": "door_forced"},
        {"id": "late", "kind": "access_after_hours"},
        {"id": "denied", "kind": "denied_burst", "count": 3, "within": "1m", "by": "card"},
        {"id": "tamper", "kind": "tamper"},
    )
    seen(made, "door-1", "door-controller")
    t = MONDAY_10
    made.data("hq", "gw-1", "door-1", t, {"door_state": "closed", "tamper": False})
    made.event("hq", "gw-1", "door-1", t + S, "access_granted", {"card": "c1"})
    assert made.data("hq", "gw-1", "door-1", t + 2 * S, {"door_state": "open"}) == []  # granted
    assert fired(made.tick(t + 123 * S)) == [("held", "", True)]
    assert fired(made.data("hq", "gw-1", "door-1", t + 130 * S, {"door_state": "closed"})) == [
        ("held", "", False)
    ]
    assert fired(made.data("hq", "gw-1", "door-1", t + 200 * S, {"door_state": "open"})) == [
        ("forced", "", True)
    ]
    assert made.data("hq", "gw-1", "door-1", t + 210 * S, {"door_state": "closed"}) == []
    for n in range(3):
        out = made.event("hq", "gw-1", "door-1", t + (300 + n) * S, "access_denied", {"card": "c9"})
    assert fired(out) == [("denied", "c9", True)]
    assert made.event("hq", "gw-1", "door-1", t + 304 * S, "access_denied", {"card": "c8"}) == []
    assert made.event("hq", "gw-1", "door-1", t + 305 * S, "access_granted", {"card": "c1"}) == []
    late = made.event("hq", "gw-1", "door-1", MONDAY_22, "access_granted", {"card": "c1"})
    assert [(s.rule.id, s.values["card"]) for s in late] == [("late", "c1")]
    assert fired(made.data("hq", "gw-1", "door-1", MONDAY_22 + S, {"tamper": True})) == [
        ("tamper", "", True)
    ]
    resolved = made.tick(MONDAY_22 + 1801 * S)  # instant alerts resolve on their own
    assert ("late", "", False) in fired(resolved) + fired(made.tick(MONDAY_22 + 1802 * S))


def test_matches_overrides_and_working_time() -> None:
    made = engine(
        {"id": "hot", "kind": "threshold", "point": "temperature", "above": 27},
        {
            "id": "hot-lab",
            "kind": "threshold",
            "point": "temperature",
            "above": 35,
            "overrides": "hot",
            "match": {"rooms": ["lab"]},
        },
        {
            "id": "cold-at-work",
            "kind": "threshold",
            "point": "temperature",
            "below": 16,
            "working_time": "only",
        },
    )
    made.place({"th-lab": {"room": "lab"}, "th-1": {"room": "office"}})
    seen(made, "th-lab", "th-sensor")
    seen(made, "th-1", "th-sensor")
    assert fired(made.data("hq", "gw-1", "th-1", MONDAY_10, {"temperature": 30.0})) == [
        ("hot", "", True)
    ]
    assert made.data("hq", "gw-1", "th-lab", MONDAY_10, {"temperature": 30.0}) == []
    assert fired(made.data("hq", "gw-1", "th-lab", MONDAY_10, {"temperature": 36.0})) == [
        ("hot-lab", "", True)
    ]
    assert fired(made.data("hq", "gw-1", "th-1", MONDAY_10 + S, {"temperature": 10.0})) == [
        ("hot", "", False),
        ("cold-at-work", "", True),
    ]
    # Outside working time the rule does not hold: it clears, and does not fire again.
    assert fired(made.data("hq", "gw-1", "th-1", MONDAY_22, {"temperature": 10.0})) == [
        ("cold-at-work", "", False)
    ]
    assert made.data("hq", "gw-1", "th-1", MONDAY_22 + S, {"temperature": 9.0}) == []


def test_open_alerts_survive_a_restart() -> None:
    made = engine({"id": "faults", "kind": "fault"})
    made.restore({"faults/ups-1/battery_low": MONDAY_10})
    seen(made, "ups-1", "ups")
    assert made.data("hq", "gw-1", "ups-1", MONDAY_10 + S, {"battery_low": True}) == []
    assert fired(made.data("hq", "gw-1", "ups-1", MONDAY_10 + 2 * S, {"battery_low": False})) == [
        ("faults", "battery_low", False)
    ]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"id": "x", "kind": "threshold", "point": "t"}, "exactly one of above and below"),
        (
            {"id": "x", "kind": "threshold", "point": "t", "above": 5, "clear": 9},
            "clear 9.0 is above",
        ),
        ({"id": "x", "kind": "nonsense"}, "rules.0"),
        ({"id": "X Y", "kind": "fault"}, "rules.0.fault.id"),
        ({"id": "x", "kind": "speeding", "for": "soon"}, "soon"),
        ({"id": "x", "kind": "geofence", "name": "g", "polygon": [[0, 0], [1, 1]]}, "polygon"),
        (
            {"id": "x", "kind": "geofence", "name": "g", "polygon": [[0, 0], [1, 1], [91, 0]]},
            "corner 2",
        ),
        ({"id": "x", "kind": "fault", "overrides": "y"}, "no such rule"),
    ],
)
def test_bad_rules_are_refused_with_the_reason(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=None) as caught:
        RuleSet.model_validate({"rules": [rule]})
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [{id: x, kind: threshold, point: t}]", "rules.0.threshold: give exactly one"),
        ("rules: {id: x}", "rules: expected a list"),
        ("alerts: []", "alerts: unknown section"),
        ("rules: [{id: x, kind: fault}, {id: x, kind: fault}]", "rule id 'x' is used twice"),
        ("places: {sites: {hq: nightly}}", "no calendar named 'nightly'"),
        ("calendars: {default: {timezone: Mars/Olympus}}", "unknown timezone"),
        ("rules: [{id: x, kind: fault", "not YAML"),
        ("- just a list", "expected a mapping"),
    ],
)
def test_rules_files_are_refused_naming_file_and_field(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "site-rules.yaml"
    path.write_text(text)
    with pytest.raises(RulesError) as caught:
        load_rules(DEFAULT_RULES, path)
    assert str(caught.value).startswith(str(path))
    assert message in str(caught.value)


def test_a_site_file_overrides_a_shipped_rule_and_only_an_existing_one(tmp_path: Path) -> None:
    path = tmp_path / "site-rules.yaml"
    rule = "{id: hot-fast, overrides: server-room-hot, kind: threshold, point: t, above: 1"
    path.write_text(f"rules: [{rule}, for: 5s}}]")
    rules = load_rules(DEFAULT_RULES, path)
    labels = {"room_kind": "server_room", "equipment": "environment"}
    assert "hot-fast" in [r.id for r in rules.for_device(labels)]
    assert "server-room-hot" not in [r.id for r in rules.for_device(labels)]
    path.write_text(f"rules: [{rule.replace('server-room-hot', 'no-such-rule')}}}]")
    with pytest.raises(RulesError, match="overrides 'no-such-rule': no such rule"):
        load_rules(DEFAULT_RULES, path)


def test_the_shipped_rules_load_and_a_missing_file_is_named(tmp_path: Path) -> None:
    assert len(load_rules(DEFAULT_RULES).rules) >= 12
    with pytest.raises(RulesError, match="missing.yaml: cannot be read"):
        load_rules(DEFAULT_RULES, tmp_path / "missing.yaml")


def test_a_rule_that_breaks_does_not_stop_the_live_feed(caplog: pytest.LogCaptureFixture) -> None:
    alerting = Alerting(AlertsConfig(), None, "facmon")  # type: ignore[arg-type]

    def broken(*_: Any) -> list[Signal]:
        raise RuntimeError("a bug in a rule")

    alerting.engine.data = broken  # type: ignore[method-assign]
    reading = DataEnvelope(ts=1, seq=1, measurement="m", values={"v": 1})
    alerting.feed(Topic(TopicKind.DATA, "hq", "gw-1", "d1"), reading)  # no exception
    assert "alert rules failed on a message" in caplog.text
    assert alerting.signals.empty()
