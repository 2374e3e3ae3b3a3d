"""The read planner: fewest requests, within protocol limits, exact coverage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from devices.library import load_profile, resolve_profile
from devices.modbus.pdu import MAX_BITS, MAX_REGISTERS
from devices.modbus.plan import compile_plan, split
from devices.modbus.tables import Table
from devices.profile import Profile


def profile(points: list[dict[str, Any]]) -> Profile:
    return Profile.model_validate(
        {
            "name": "p",
            "vendor": "v",
            "model": "m",
            "category": "energy",
            "measurement": "m",
            "points": points,
        }
    )


def reg(name: str, address: int, kind: str = "uint16", table: str = "holding") -> dict[str, Any]:
    return {"name": name, "table": table, "address": address, "type": kind}


def test_neighbours_merge_and_gaps_split() -> None:
    p = profile([reg("a", 0), reg("b", 1, "float32"), reg("c", 10), reg("d", 40)])
    assert [(r.address, r.count) for r in compile_plan(p, max_gap=7).requests] == [(0, 11), (40, 1)]
    plan = compile_plan(p, max_gap=6)  # c starts 7 registers after b ends
    assert [(r.table, r.address, r.count) for r in plan.requests] == [
        (Table.HOLDING, 0, 3),
        (Table.HOLDING, 10, 1),
        (Table.HOLDING, 40, 1),
    ]
    wide = compile_plan(p, max_gap=30)
    assert [(r.address, r.count) for r in wide.requests] == [(0, 41)]


def test_tables_are_never_merged() -> None:
    p = profile(
        [
            reg("a", 0),
            reg("b", 1, table="input"),
            {"name": "c", "table": "coil", "address": 0, "type": "bool"},
        ]
    )
    plan = compile_plan(p)
    assert sorted(r.table for r in plan.requests) == sorted(
        [Table.HOLDING, Table.INPUT, Table.COIL]
    )


def test_register_limit_splits_at_125() -> None:
    p = profile([reg(f"p{i}", i * 2, "float32") for i in range(100)])  # 200 contiguous registers
    plan = compile_plan(p)
    assert [r.count for r in plan.requests] == [124, 76]
    assert all(r.count <= MAX_REGISTERS for r in plan.requests)


def test_bit_limit_splits_at_2000() -> None:
    p = profile(
        [{"name": f"b{i}", "table": "discrete", "address": i, "type": "bool"} for i in range(2500)]
    )
    assert [r.count for r in compile_plan(p).requests] == [MAX_BITS, 500]


def test_library_ups_profile_reads_in_minimal_requests() -> None:
    plan = compile_plan(resolve_profile("ups"))
    # inputs 0-5 and 30-37 (gap 24 > 8), holding 90-97 and 100 (gap 2), discrete 0-2
    assert [(r.table.value, r.address, r.count) for r in plan.requests] == [
        ("discrete", 0, 3),
        ("input", 0, 6),
        ("input", 30, 8),
        ("holding", 90, 11),
    ]


@given(
    st.lists(
        st.tuples(st.integers(0, 3000), st.sampled_from(["uint16", "float32", "float64"])),
        min_size=1,
        max_size=60,
    ),
    st.integers(0, 20),
)
def test_every_point_is_read_exactly_once(specs: list[tuple[int, str]], gap: int) -> None:
    points, used = [], set()
    for address, kind in specs:
        size = {"uint16": 1, "float32": 2, "float64": 4}[kind]
        span = set(range(address, address + size))
        if span & used:
            continue
        used |= span
        points.append(reg(f"p{address}", address, kind))
    plan = compile_plan(profile(points), max_gap=gap)
    names = [p.name for r in plan.requests for p in r.points]
    assert sorted(names) == sorted(p["name"] for p in points)
    for request in plan.requests:
        assert request.count <= MAX_REGISTERS
        for point in request.points:
            assert request.address <= point.address
            assert point.end <= request.address + request.count


@pytest.mark.parametrize("gap", [0, 8])
def test_plan_is_deterministic(gap: int) -> None:
    p = resolve_profile("ups")
    assert compile_plan(p, gap) == compile_plan(p, gap)


def test_split_halves_at_point_boundaries() -> None:
    request = compile_plan(
        profile([reg("a", 0), reg("b", 1, "float32"), reg("c", 3), reg("d", 4)])
    ).requests[0]
    left, right = split(request)
    assert [(r.address, r.count, [p.name for p in r.points]) for r in (left, right)] == [
        (0, 3, ["a", "b"]),
        (3, 2, ["c", "d"]),
    ]
    assert split(split(left)[0]) == [split(left)[0]]


def test_golden_40_point_profile_reads_in_the_fewest_requests() -> None:
    case = Path(__file__).resolve().parents[2] / "cases" / "planner-40-points"
    profile_40 = load_profile(case / "profile.yaml")
    expected = yaml.safe_load((case / "expected.yaml").read_text())
    assert len(profile_40.points) == 40
    plan = compile_plan(profile_40, expected["max_gap"])
    assert [[r.table.value, r.address, r.count] for r in plan.requests] == expected["requests"]
    # Minimal: one request per table region whose gaps exceed max_gap, and none can merge.
    assert len(plan.requests) == len({(r.table, r.address) for r in plan.requests}) == 3
