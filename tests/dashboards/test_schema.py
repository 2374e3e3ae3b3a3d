"""Every generated dashboard is valid for Grafana 11 and follows facmon's conventions.

``problems()`` lists what is wrong with a dashboard JSON model; the generated dashboards
must have none, and each broken copy below must be caught, so that the check can fail.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dashboards.catalog import models
from dashboards.queries import queries
from devices.library import load_profile
from devices.profile import PROFILE_DIR

DATASOURCE = {"type": "influxdb", "uid": "facmon-influxdb"}
PANEL_TYPES = {
    "stat",
    "timeseries",
    "table",
    "geomap",
    "barchart",
    "bargauge",
    "piechart",
    "state-timeline",
    "text",
}
MACROS = {"timeFilter", "__interval"}
MODELS = {model["uid"]: model for model in models()}


def walk(node: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair of every object in ``node``, at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def all_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


def problems(model: dict[str, Any]) -> list[str]:
    """What is wrong with a dashboard model (empty: nothing)."""
    found: list[str] = []
    if model.get("schemaVersion") != 39:
        found.append(f"schemaVersion {model.get('schemaVersion')}")
    if not str(model.get("uid", "")).startswith("facmon-"):
        found.append(f"uid {model.get('uid')!r}")
    if model.get("tags") != ["facmon"]:
        found.append(f"tags {model.get('tags')}")
    found += [
        f"datasource {value}"
        for key, value in walk(model)
        if key == "datasource" and value != DATASOURCE
    ]
    panels = list(all_panels(model.get("panels", [])))
    ids = [panel.get("id") for panel in panels]
    if len(set(ids)) != len(ids) or None in ids:
        found.append(f"panel ids {ids}")
    for panel in panels:
        found += panel_problems(panel)
    variables = {v["name"]: v for v in model.get("templating", {}).get("list", [])}
    for variable in variables.values():
        if variable.get("datasource") != DATASOURCE or variable.get("type") != "query":
            found.append(f"variable {variable['name']}: not a query on the InfluxDB data source")
        if not (variable.get("multi") and variable.get("includeAll")):
            found.append(f"variable {variable['name']}: not multi-value with All")
        if variable.get("allValue") != ".*":
            found.append(f"variable {variable['name']}: allValue {variable.get('allValue')!r}")
        if not str(variable.get("query", "")).startswith("SHOW TAG VALUES"):
            found.append(f"variable {variable['name']}: query {variable.get('query')!r}")
    annotations = model.get("annotations", {}).get("list", [])
    alerts = [
        a
        for a in annotations
        if a.get("datasource") == DATASOURCE
        and a.get("enable")
        and '"facmon_alerts"' in a.get("target", {}).get("query", "")
        and a["target"].get("rawQuery") is True
        and a["target"].get("textColumn") == "summary"
    ]
    if not alerts:
        found.append("no alert annotation")
    found += reference_problems(model, list(variables))
    return found


def panel_problems(panel: dict[str, Any]) -> list[str]:
    title = panel.get("title")
    if not title:
        return [f"panel {panel.get('id')} has no title"]
    found = []
    kind = panel.get("type")
    grid = panel.get("gridPos", {})
    if not (grid.get("w", 0) > 0 and grid.get("h", 0) > 0 and grid.get("x", -1) >= 0):
        found.append(f"{title}: gridPos {grid}")
    elif grid["x"] + grid["w"] > 24:
        found.append(f"{title}: gridPos {grid} wider than 24 columns")
    if kind == "row":
        return found
    if kind not in PANEL_TYPES:
        found.append(f"{title}: panel type {kind!r}")
    if panel.get("datasource") != DATASOURCE:
        found.append(f"{title}: datasource {panel.get('datasource')}")
    targets = panel.get("targets", [])
    if not targets:
        found.append(f"{title}: no targets")
    ref_ids = [t.get("refId") for t in targets]
    if len(set(ref_ids)) != len(ref_ids) or not all(ref_ids):
        found.append(f"{title}: refIds {ref_ids}")
    for target in targets:
        query = target.get("query")
        if target.get("rawQuery") is not True or not isinstance(query, str) or not query.strip():
            found.append(f"{title}: target {target.get('refId')} is not raw InfluxQL")
        elif "$timeFilter" not in query and "now() - " not in query:
            found.append(f"{title}: {target.get('refId')} has no time range")
        if target.get("datasource") != DATASOURCE:
            found.append(f"{title}: target datasource {target.get('datasource')}")
    return found


def reference_problems(model: dict[str, Any], variables: list[str]) -> list[str]:
    """Each ``$name`` is a macro or a variable defined earlier (for a variable's query)."""
    found = []
    try:
        found_queries = queries(model)
    except ValueError as exc:
        return [str(exc)]
    for query in found_queries:
        known = set(variables)
        if query.kind == "variable":
            known = set(variables[: variables.index(query.panel)])
        for name in re.findall(r"\$(\w+)", query.text):
            if name not in MACROS | known:
                found.append(f"{query.panel} {query.ref_id}: ${name} is not defined")
        for name in re.findall(r"=~ /\^\$(\w+)\$/", query.text):
            if not re.search(rf'"\w+" =~ /\^\${name}\$/', query.text):
                found.append(f"{query.panel}: ${name} is not matched as a regex")
    return found


@pytest.mark.parametrize("uid", sorted(MODELS))
def test_the_dashboard_has_no_problems(uid: str) -> None:
    assert problems(MODELS[uid]) == []


def test_the_eight_dashboards_have_stable_uids() -> None:
    assert set(MODELS) == {
        "facmon-site-overview",
        "facmon-building",
        "facmon-server-room",
        "facmon-energy",
        "facmon-fleet",
        "facmon-security",
        "facmon-utilization",
        "facmon-system-health",
    }


def test_the_building_variables_are_chained() -> None:
    variables = {v["name"]: v["query"] for v in MODELS["facmon-building"]["templating"]["list"]}
    assert list(variables) == ["site", "building", "room", "device"]
    assert '"site" =~ /^$site$/' in variables["building"]
    assert '"building" =~ /^$building$/' in variables["room"]
    assert '"room" =~ /^$room$/' in variables["device"]


def test_panel_ids_follow_the_layout_order() -> None:
    for model in MODELS.values():
        ids = [panel["id"] for panel in model["panels"]]
        assert ids == list(range(1, len(ids) + 1))
        positions = [(p["gridPos"]["y"], p["gridPos"]["x"]) for p in model["panels"]]
        assert positions == sorted(positions)


def first_panel(model: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(p for p in model["panels"] if p["type"] == kind)


BREAKAGES: dict[str, Callable[[dict[str, Any]], None]] = {
    "old schema": lambda m: m.update(schemaVersion=27),
    "legacy graph panel": lambda m: first_panel(m, "timeseries").update(type="graph"),
    "singlestat": lambda m: first_panel(m, "stat").update(type="singlestat"),
    "datasource by name": lambda m: first_panel(m, "stat").update(datasource="facmon InfluxDB"),
    "target datasource by name": lambda m: first_panel(m, "stat")["targets"][0].update(
        datasource="InfluxDB"
    ),
    "duplicate panel id": lambda m: m["panels"][2].update(id=m["panels"][1]["id"]),
    "query built in the editor": lambda m: first_panel(m, "stat")["targets"][0].update(
        rawQuery=False
    ),
    "empty query": lambda m: first_panel(m, "timeseries")["targets"][0].update(query=" "),
    "no time range": lambda m: first_panel(m, "timeseries")["targets"][0].update(
        query='SELECT last("x") FROM "y"'
    ),
    "no title": lambda m: first_panel(m, "timeseries").update(title=""),
    "too wide": lambda m: first_panel(m, "stat")["gridPos"].update(x=22, w=4),
    "no alert annotation": lambda m: m["annotations"].update(list=[]),
    "undefined variable": lambda m: first_panel(m, "stat")["targets"][0].update(
        query='SELECT last("x") FROM "y" WHERE $timeFilter AND "room" =~ /^$nowhere$/'
    ),
    "variable not a regex": lambda m: m["templating"]["list"][0].update(allValue=None),
    "variable by name": lambda m: m["templating"]["list"][0].update(datasource="InfluxDB"),
    "variable chained backwards": lambda m: m["templating"]["list"][0].update(
        query='SHOW TAG VALUES WITH KEY = "site" WHERE "building" =~ /^$building$/'
    ),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_a_broken_dashboard_is_caught(breakage: str) -> None:
    model = copy.deepcopy(MODELS["facmon-site-overview"])
    model["templating"]["list"].append(copy.deepcopy(model["templating"]["list"][0]))
    model["templating"]["list"][-1].update(name="building")
    assert problems(model) == []
    BREAKAGES[breakage](model)
    assert problems(model), breakage


def profile_points() -> dict[str, set[str]]:
    """The points (and flags) of each equipment measurement of the shipped profiles."""
    points: dict[str, set[str]] = {}
    for path in sorted(PROFILE_DIR.glob("*.yaml")):
        profile = load_profile(path)
        names = points.setdefault(profile.measurement, set())
        for point in profile.points:
            names.add(point.name)
            names.update(flag.name for flag in point.flags.values())
    return points


def test_every_field_read_from_equipment_is_a_point_of_its_profiles() -> None:
    points = profile_points()
    tags = {"site", "gateway", "device", "building", "floor", "room"}
    innermost = re.compile(r'SELECT ((?:(?!SELECT).)*?) FROM ("\w+"(?:, "\w+")*)', re.DOTALL)
    checked = 0
    for model in MODELS.values():
        for query in queries(model):
            for select, source in innermost.findall(query.text):
                measurements = re.findall(r'"(\w+)"', source)
                if not set(measurements) <= set(points):
                    continue  # facmon_* and gateway_health: not from a profile
                names = set(re.findall(r'"(\w+)"', re.sub(r'AS "\w+"', "", select))) - tags
                for measurement in measurements:
                    assert names <= points[measurement], (query.panel, measurement, names)
                checked += 1
    assert checked > 40
