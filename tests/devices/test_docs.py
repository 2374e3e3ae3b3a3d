"""The examples in docs/devices.md are valid: the worked profile and the simulator config."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from devices.profile import Profile
from devices.sim.model import SimConfig
from devices.sim.runner import Simulator

DOC = Path(__file__).resolve().parents[2] / "docs" / "devices.md"


def blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.DOTALL)


def test_the_worked_profile_is_valid(tmp_path: Path) -> None:
    (profile_text,) = [b for b in blocks() if b.startswith("# Archive-room")]
    profile = Profile.model_validate(yaml.safe_load(profile_text))
    assert profile.point("status").flags[0].name == "sensor_fault"
    assert profile.faults[0].point == "co2_ppm"


def test_the_simulator_example_is_valid() -> None:
    (sim_text,) = [b for b in blocks() if b.startswith("seed:")]
    config = SimConfig.model_validate(yaml.safe_load(sim_text))
    simulator = Simulator(config)
    assert set(simulator.modbus) == {"ups-1", "crac-1"}
    assert set(simulator.mqtt) == {"car-1", "door-1"}
    assert [step.at for step in config.scenario] == [30, 45, 60, 90, 120]
