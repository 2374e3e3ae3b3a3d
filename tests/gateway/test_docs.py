"""The configuration shown in docs/gateway.md is valid, profiles included."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from gateway.config import GatewayConfig
from gateway.main import compile_plans, ingest_profiles

DOC = Path(__file__).resolve().parents[2] / "docs" / "gateway.md"


def test_the_documented_configuration_is_valid() -> None:
    (text,) = [
        b
        for b in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.DOTALL)
        if b.startswith("site:")
    ]
    config = GatewayConfig.model_validate(yaml.safe_load(text))
    plans = compile_plans(config)
    assert len(plans) == 2 + 16
    assert plans[-1][0].id == "meter-3f-16"
    assert [sorted(source) for source in ingest_profiles(config)] == [["car-1", "door-lobby"]]
