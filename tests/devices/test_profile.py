"""Profiles: the shipped library validates; broken profiles are refused with file, line, field."""

from __future__ import annotations

from pathlib import Path

import pytest

from devices.library import ProfileError, load_profile, resolve_profile
from devices.modbus.codec import ByteOrder
from devices.profile import PROFILE_DIR, Profile


@pytest.mark.parametrize("path", sorted(PROFILE_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_library_profiles_are_valid(path: Path) -> None:
    profile = load_profile(path)
    assert profile.name == path.stem
    assert profile.points


def test_aliases_are_normalised() -> None:
    assert resolve_profile("ups").point("battery_voltage").order is ByteOrder.CDAB


BASE = """\
name: broken
vendor: x
model: y
category: energy
measurement: m
points:
  - {name: a, table: holding, address: 0, type: uint16}
"""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("  - {name: b, table: holding, address: 0, type: uint16}\n", "overlap at address 0"),
        ("  - {name: a, table: holding, address: 5, type: uint16}\n", "'a' is used twice"),
        (
            "  - {name: b, table: holding, address: 3, type: bool}\n",
            "bool point must be in the coil",
        ),
        ("  - {name: b, table: coil, address: 3, type: int16}\n", "must be of type bool"),
        (
            "  - {name: b, table: input, address: 3, type: float32, order: middle}\n",
            "unknown byte order",
        ),
        ("  - {name: b, table: input, address: 65535, type: float32}\n", "run past 65535"),
        ("  - {name: b, table: input, address: 9, type: uint16, access: rw}\n", "read-only"),
        ("  - {name: B, table: input, address: 9, type: uint16}\n", "should match pattern"),
        ("  - {name: b, table: input, address: 9, type: uint16, colour: red}\n", "Extra inputs"),
        ("  - {name: facmon_seq, table: input, address: 9, type: uint16}\n", "is reserved"),
    ],
)
def test_broken_profiles_name_file_line_and_field(tmp_path: Path, extra: str, message: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BASE + extra)
    with pytest.raises(ProfileError, match=message) as caught:
        load_profile(path)
    text = str(caught.value)
    assert text.startswith(f"{path}:8: points[1]")


def test_unknown_profile_name() -> None:
    with pytest.raises(ProfileError, match="no profile named 'nope'"):
        resolve_profile("nope")


def test_a_reserved_measurement_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BASE.replace("measurement: m", "measurement: facmon_events"))
    with pytest.raises(ProfileError, match="broken.yaml:5: measurement: .*reserved"):
        load_profile(path)


def test_a_plain_string_is_english_and_a_fault_without_a_name_is_its_point_abnormal() -> None:
    profile = Profile.model_validate(
        {
            "name": "site-ahu",
            "vendor": "x",
            "model": "y",
            "category": "building",
            "measurement": "ahu",
            "description": "Air handling unit",
            "points": [
                {
                    "name": "supply_temp",
                    "label": {"en": "Supply temperature", "zh": "送风温度"},
                    "table": "input",
                    "address": 0,
                    "type": "int16",
                    "enum": {0: "off"},
                },
                {"name": "filter_dp", "table": "input", "address": 1, "type": "uint16"},
            ],
            "faults": [
                {"point": "supply_temp", "op": ">", "value": 30},
                {"point": "filter_dp", "op": ">", "value": 250},
            ],
        }
    )
    assert (profile.description.en, profile.description.zh) == ("Air handling unit", "")
    assert profile.description.say("zh") == "Air handling unit"  # the English, not nothing
    assert profile.point("supply_temp").enum[0].en == "off"
    named = profile.name_of("supply_temp>30")
    assert (named.en, named.zh) == ("Supply temperature abnormal", "送风温度异常")
    named = profile.name_of("filter_dp>250")
    assert (named.en, named.zh) == ("filter dp abnormal", "filter dp异常")
    found = profile.faults_in({"supply_temp": 31, "filter_dp": 100})
    assert [name.zh for name in found] == ["送风温度异常"]


def test_a_ups_on_battery_is_critical() -> None:
    """Mains lost, the load on battery: a finite runtime, so critical (a battery test is the
    exception, and silences or maintenance cover it)."""
    ups = resolve_profile("ups")
    (on_battery,) = [f for f in ups.faults if f.point == "on_battery"]
    assert on_battery.holds(True)
    assert on_battery.severity == "critical"
