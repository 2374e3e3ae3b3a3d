"""Scenario timelines: durations, ordering and validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from devices.sim.model import SimConfig
from devices.sim.runner import Simulator
from devices.sim.scenario import Change, Scenario, Step, timeline


def test_timeline_orders_changes_and_undoes() -> None:
    scenario = Scenario.model_validate(
        {
            "steps": [
                {"at": "1m", "device": "ups-1", "set": {"on_battery": True}, "for": "30s"},
                {"at": 10, "device": "th-1", "behaviour": "hang", "for": 80},
                {"at": 90, "link": "down", "for": 5},
            ]
        }
    )
    changes = [(c.t, c.undo, c.step.device) for c in timeline(scenario)]
    assert changes == [
        (10, False, "th-1"),
        (60, False, "ups-1"),
        (90, True, "ups-1"),
        (90, True, "th-1"),
        (90, False, None),
        (95, True, None),
    ]


def test_a_step_needs_exactly_one_action() -> None:
    with pytest.raises(ValidationError, match="exactly one of"):
        Scenario.model_validate(
            {"steps": [{"at": 1, "device": "d", "set": {"a": 1}, "behaviour": "hang"}]}
        )
    with pytest.raises(ValidationError, match="needs a device"):
        Scenario.model_validate({"steps": [{"at": 1, "behaviour": "hang"}]})


def test_steps_must_name_simulated_devices() -> None:
    config = {"endpoints": [{"port": 0, "devices": [{"id": "ups-1", "profile": "ups"}]}]}
    with pytest.raises(ValidationError, match="no simulated device 'ghost'"):
        SimConfig.model_validate(
            {**config, "scenario": [{"at": 1, "device": "ghost", "behaviour": "hang"}]}
        )
    with pytest.raises(ValidationError, match="no endpoint 3"):
        SimConfig.model_validate({**config, "scenario": [{"at": 1, "link": "down", "endpoint": 3}]})


def test_applying_and_undoing_steps_on_a_simulator() -> None:
    config = SimConfig.model_validate(
        {"endpoints": [{"port": 0, "devices": [{"id": "ups-1", "profile": "ups"}]}]}
    )
    simulator = Simulator(config, clock=lambda: 1_000.0)
    memory = simulator.modbus["ups-1"]
    flag = next(f.name for f in memory.profile.point("alarm_word").flags.values())
    set_step = Step.model_validate(
        {"at": 0, "device": "ups-1", "set": {flag: True, "input_voltage": 0}, "for": 5}
    )
    simulator.apply(Change(0, set_step, undo=False))
    memory.refresh(1_000.0)
    assert memory.values[flag] is True
    assert memory.values["input_voltage"] == 0
    simulator.apply(Change(5, set_step, undo=True))
    memory.refresh(1_001.0)
    assert memory.values["input_voltage"] != 0  # dynamics move it again
    hang = Step.model_validate({"at": 0, "device": "ups-1", "behaviour": "slow", "delay_s": 3})
    simulator.apply(Change(0, hang, undo=False))
    assert (memory.behaviour.mode, memory.behaviour.delay_s) == ("slow", 3)
    simulator.apply(Change(1, hang, undo=True))
    assert memory.behaviour.mode == "normal"
