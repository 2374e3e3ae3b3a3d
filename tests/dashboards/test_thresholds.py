"""Panel colours follow the device profiles' fault values."""

from __future__ import annotations

import pytest

from dashboards.thresholds import BLUE, GREEN, ORANGE, RED, Step, fault_steps, steps


def test_upper_limits_turn_orange_then_red() -> None:
    # crac: return_air_temp > 32 warning, > 35 critical
    assert fault_steps("crac", "return_air_temp") == [
        Step(color=GREEN, value=None),
        Step(color=ORANGE, value=32.0),
        Step(color=RED, value=35.0),
    ]


def test_lower_limits_are_red_below_orange_between() -> None:
    # dc-power-48v: bus_voltage < 47 warning, < 45 critical
    assert fault_steps("dc-power-48v", "bus_voltage") == [
        Step(color=RED, value=None),
        Step(color=ORANGE, value=45.0),
        Step(color=GREEN, value=47.0),
    ]


def test_a_band_is_green_inside_and_coloured_on_both_sides() -> None:
    # th-sensor: humidity > 80 warning, < 20 warning
    assert fault_steps("th-sensor", "humidity") == [
        Step(color=ORANGE, value=None),
        Step(color=GREEN, value=20.0),
        Step(color=ORANGE, value=80.0),
    ]


def test_a_point_without_a_numeric_fault_value_is_an_error() -> None:
    with pytest.raises(LookupError, match="tamper"):
        fault_steps("door-controller", "tamper")  # tamper == true: not a number
    with pytest.raises(LookupError):
        fault_steps("crac", "no_such_point")


def test_explicit_steps_must_increase() -> None:
    assert steps(BLUE, (18, GREEN), (27, RED))[1] == Step(color=GREEN, value=18)
    with pytest.raises(ValueError, match="increase"):
        steps(GREEN, (27, RED), (18, ORANGE))
