"""A meter's place in its metering tree: checked against the others when it is written."""

from __future__ import annotations

import orjson
import pytest

from api.alerts.config import AlertsConfig
from api.alerts.manager import Alerting
from api.alerts.places import RegistryView
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


def test_the_api_publishes_each_sites_sub_meters_retained_when_they_change() -> None:
    sent: list[tuple[str, dict[str, object], bool]] = []
    alerting = Alerting(
        AlertsConfig(),
        None,  # type: ignore[arg-type]
        "facmon",
        publish=lambda topic, payload, retain=False: sent.append(
            (topic, orjson.loads(payload), retain)
        ),
    )
    places = {
        "pm-1": {"asset": "pm-main", "registered_site": "hq"},
        "pm-2": {"asset": "pm-hvac", "registered_site": "hq", "meter_parent": "pm-main"},
        "pm-9": {"asset": "pm-9", "registered_site": "b2"},
    }
    alerting.registry = RegistryView(places=places)
    alerting._publish_meters()
    assert [(t, p["sub_meters"], r) for t, p, r in sent] == [
        ("facmon/v1/meters/b2", {}, True),
        ("facmon/v1/meters/hq", {"pm-2": "pm-main"}, True),
    ]
    alerting._publish_meters()  # nothing changed: nothing sent
    assert len(sent) == 2
    del places["pm-2"]["meter_parent"]
    alerting._publish_meters()
    assert [(t, p["sub_meters"]) for t, p, _ in sent[2:]] == [("facmon/v1/meters/hq", {})]
