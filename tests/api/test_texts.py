"""What alerts say: every kind's text, in both languages, as facmon has always said it.

The golden data in ``tests/api/cases/texts.json`` was captured from the code before each
rule kind brought its own texts; a change to a text shows up here as a diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from api.alerts import texts
from api.alerts.kinds.registry import KINDS
from api.alerts.rules import RuleSet
from devices.library import resolve_profile

GOLDEN = Path(__file__).parent / "cases" / "texts.json"
WRITE = os.environ.get("FACMON_WRITE_GOLDEN") == "1"

LABELS = {"site": "hq", "device": "d1", "gateway": "gw-1", "asset_name": "UPS 1"}
FLAG = {
    "code": "E12",
    "name_en": "Battery low",
    "name_zh": "电池电压低",
    "description_en": "Battery near end of discharge",
    "description_zh": "电池即将放电终止",
}
EMPTY = dict.fromkeys(FLAG, "")

# (rule, key, values, flag)
CASES: list[tuple[dict[str, Any], str, dict[str, Any], dict[str, str] | None]] = [
    ({"kind": "threshold", "point": "temperature", "above": 27}, "", {"temperature": 28.25}, None),
    ({"kind": "threshold", "point": "temperature", "below": 5.5}, "", {"temperature": 1}, None),
    ({"kind": "threshold", "point": "temperature", "above": 27}, "", {}, None),
    ({"kind": "threshold", "point": "energy", "above": 2e6}, "", {"energy": 3456789.5}, None),
    ({"kind": "fault"}, "battery_low", {"battery_low": True}, FLAG),
    ({"kind": "fault"}, "battery_low", {"battery_low": True}, EMPTY),
    ({"kind": "fault"}, "status==3", {"status": 3}, None),
    ({"kind": "comm_loss"}, "state", {"error": "timeout"}, None),
    ({"kind": "comm_loss"}, "state", {"error": ""}, None),
    ({"kind": "comm_loss"}, "silent", {"silent_s": 1800}, None),
    ({"kind": "comm_loss"}, "gateway", {}, None),
    ({"kind": "comm_loss"}, "", {}, None),
    ({"kind": "idle"}, "", {"idle_h": 4.5}, None),
    ({"kind": "speeding"}, "", {"speed_kmh": 91.5}, None),
    ({"kind": "speeding", "point": "v", "above": 60}, "", {"speed_kmh": 91.5}, None),
    ({"kind": "geofence", "name": "园区", "polygon": [[0, 0], [0, 1], [1, 1]]}, "", {}, None),
    (
        {"kind": "geofence", "name": "yard", "polygon": [[0, 0], [0, 1], [1, 1]], "on": "entry"},
        "",
        {"lat": 0.5, "lon": 0.25},
        None,
    ),
    ({"kind": "movement"}, "", {"speed_kmh": 12}, None),
    ({"kind": "long_idling", "for": "15m"}, "", {"speed_kmh": 0}, None),
    ({"kind": "long_idling", "for": "100s"}, "", {}, None),
    ({"kind": "door_held_open", "for": "2m"}, "", {}, None),
    ({"kind": "door_held_open", "for": "90.5s"}, "", {}, None),
    ({"kind": "door_forced"}, "", {"door": "north"}, None),
    ({"kind": "access_after_hours"}, "", {"card": "C-17"}, None),
    ({"kind": "access_after_hours"}, "", {}, None),
    ({"kind": "denied_burst", "within": "5m"}, "C-9", {"count": 5}, None),
    ({"kind": "denied_burst", "within": "90s"}, "", {"count": 3, "card": "C-1"}, None),
    ({"kind": "denied_burst"}, "", {"count": 5}, None),
    ({"kind": "tamper"}, "", {"tamper": True}, None),
    ({"kind": "tamper"}, "event", {}, None),
    (
        {
            "kind": "tamper",
            "summary": {"en": "{device} opened at {key} ({nope})", "zh": "{device} 被打开"},
        },
        "event",
        {"x": 1.5},
        None,
    ),
]


def _render() -> dict[str, Any]:
    out: dict[str, Any] = {"summaries": [], "titles": [], "places": []}
    for number, (rule, key, values, flag) in enumerate(CASES):
        model = RuleSet.model_validate({"rules": [{"id": f"r{number}", **rule}]}).rules[0]
        said = {
            language: texts.summary(model, key, values, LABELS, language, flag)
            for language in ("en", "zh")
        }
        out["summaries"].append([rule, key, said])
    for language in ("en", "zh"):
        for severity in ("critical", "warning", "info", "other"):
            for resolved, reason in (
                (False, ""),
                (True, ""),
                (False, "reminder"),
                (False, "escalation"),
                (False, "x"),
            ):
                out["titles"].append(
                    texts.title(
                        severity, "1号楼 机房", "what", language, resolved=resolved, reason=reason
                    )
                )
    for labels in (
        {"building_name": "B1", "room_name": "R1", "asset_name": "A1", "device": "d"},
        {"device": "d"},
        {"gateway": "gw-1"},
        {},
    ):
        out["places"].append(texts.place(labels))
    return out


def test_every_kind_says_what_it_always_said() -> None:
    rendered = _render()
    if WRITE:
        GOLDEN.write_text(json.dumps(rendered, ensure_ascii=False, indent=1) + "\n")
    golden = json.loads(GOLDEN.read_text())
    assert rendered == golden


def test_a_fault_says_the_profiles_names_in_the_readers_language() -> None:
    rule = RuleSet.model_validate({"rules": [{"id": "f", "kind": "fault"}]}).rules[0]
    ups, crac = resolve_profile("ups"), resolve_profile("crac")

    def said(profile: Any, key: str, language: texts.Language) -> str:
        flag = KINDS["fault"].detail(profile, key)
        return texts.summary(rule, key, {}, LABELS, language, flag)

    assert said(ups, "on_battery==True", "zh") == "市电中断，电池放电：UPS 由电池供电（市电中断）"
    assert said(ups, "on_battery==True", "en") == (
        "Mains failure, on battery: UPS on battery (mains failure)"
    )
    assert said(crac, "high_pressure_alarm", "zh") == "高压告警（A05）：高压开关动作，压缩机锁定"
    assert said(crac, "high_pressure_alarm", "en") == (
        "High pressure (A05): High-pressure switch tripped; compressor locked out"
    )
    for profile, key in [(ups, "on_battery==True"), (ups, "no_such==1"), (None, "on_battery==1")]:
        for language in ("en", "zh"):
            assert "==" not in said(profile, key, language)
    assert said(ups, "no_such==1", "zh") == "no such异常"
