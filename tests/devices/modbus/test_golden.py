"""Golden decoding cases under tests/cases/: raw registers in, engineering values out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from devices.library import resolve_profile
from devices.modbus.plan import ReadRequest
from devices.modbus.tables import Table
from devices.profile import Profile

CASES = sorted((Path(__file__).resolve().parents[2] / "cases").glob("*/case.yaml"))


def load(path: Path) -> dict[str, Any]:
    case: dict[str, Any] = yaml.safe_load(path.read_text())
    return case


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.parent.name)
def test_golden_case(path: Path) -> None:
    case = load(path)
    ref = case["profile"]
    profile = resolve_profile(ref) if isinstance(ref, str) else Profile.model_validate(ref)
    memory: dict[tuple[Table, int], int] = {}
    for block in case["blocks"]:
        for offset, word in enumerate(block["registers"]):
            memory[(Table(block["table"]), block["address"] + offset)] = word
    values: dict[str, object] = {}
    bad: set[str] = set()
    for point in profile.points:
        assert point.table is not None
        addresses = range(point.end - point.count, point.end)
        if not all((point.table, a) in memory for a in addresses):
            continue
        request = ReadRequest(point.table, addresses.start, point.count, (point,))
        good, flagged = request.decode([memory[(point.table, a)] for a in addresses])
        values.update(good)
        bad.update(flagged)
    assert {name: values.get(name) for name in case["expected"]} == case["expected"]
    assert bad == set(case.get("bad", []))


def test_there_are_cases() -> None:
    assert len(CASES) >= 5
