"""A meter's place in its metering tree: checked against the others when it is written."""

from __future__ import annotations

import pytest

from api.records import AssetIn, MeterTree, meter_tree_problem

TREE: MeterTree = {
    "pm-main": ("meter", None),
    "pm-hvac": ("meter", "pm-main"),
    "pm-201": ("meter", "pm-hvac"),
    "ups-1": ("ups", None),
}


def test_a_main_meter_and_sub_meters_of_a_meter_are_taken() -> None:
    assert meter_tree_problem("pm-new", "meter", None, TREE) is None
    assert meter_tree_problem("pm-new", "meter", "pm-201", TREE) is None
    assert meter_tree_problem("pm-201", "meter", "pm-main", TREE) is None
    assert AssetIn(id="pm-x", name="x", category="meter", meter_parent="pm-main").meter_parent


@pytest.mark.parametrize(
    ("asset", "category", "parent", "problem"),
    [
        ("pm-new", "meter", "pm-gone", "no asset 'pm-gone'"),
        ("pm-new", "meter", "ups-1", "'ups-1' is a 'ups', not a 'meter'"),
        ("ups-2", "ups", "pm-main", "only a 'meter' has a meter parent, not a 'ups'"),
        ("pm-main", "meter", "pm-main", "makes a cycle: pm-main → pm-main"),
        ("pm-main", "meter", "pm-201", "makes a cycle: pm-main → pm-201 → pm-hvac → pm-main"),
        ("pm-hvac", "ups", None, "'pm-hvac' is upstream of pm-201: it stays a 'meter'"),
    ],
)
def test_a_parent_that_is_no_meter_or_makes_a_cycle_is_refused(
    asset: str, category: str, parent: str | None, problem: str
) -> None:
    assert meter_tree_problem(asset, category, parent, TREE) == problem
