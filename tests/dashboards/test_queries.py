"""queries() finds every InfluxQL query of a dashboard: targets, variables, annotations."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from dashboards.catalog import models
from dashboards.influxql import MAIN_METERS
from dashboards.queries import Query, queries

MODELS = {model["uid"]: model for model in models()}


def raw_queries(node: Any) -> list[str]:
    """Independently: the ``query`` of every object anywhere that says ``rawQuery``."""
    if isinstance(node, dict):
        own = [node["query"]] if "rawQuery" in node else []
        return own + [q for value in node.values() for q in raw_queries(value)]
    if isinstance(node, list):
        return [q for item in node for q in raw_queries(item)]
    return []


@pytest.mark.parametrize("uid", sorted(MODELS))
def test_every_target_variable_and_annotation_is_found(uid: str) -> None:
    model = MODELS[uid]
    found = queries(model)
    variables = [v["query"] for v in model["templating"]["list"] if v["type"] == "query"]
    expected = Counter(raw_queries(model["panels"]) + raw_queries(model["annotations"]) + variables)
    assert Counter(q.text for q in found) == expected
    assert all(q.dashboard == uid for q in found)
    kinds = Counter(q.kind for q in found)
    assert kinds["variable"] == len(variables)
    assert kinds["annotation"] == 1
    assert kinds["panel"] == sum(len(p.get("targets", [])) for p in model["panels"])


@pytest.mark.parametrize("uid", sorted(MODELS))
def test_title_and_ref_id_name_each_query_of_a_dashboard(uid: str) -> None:
    keys = [(q.kind, q.panel, q.ref_id) for q in queries(MODELS[uid])]
    assert [k for k, n in Counter(keys).items() if n > 1] == []


def target(ref_id: str, query: str) -> dict[str, Any]:
    return {"refId": ref_id, "query": query, "rawQuery": True}


def test_panels_in_collapsed_rows_and_older_layouts_are_found() -> None:
    dashboard = {
        "uid": "x",
        "panels": [
            {"type": "stat", "title": "A", "targets": [target("A", "SELECT 1")]},
            {
                "type": "row",
                "title": "Folded",
                "collapsed": True,
                "panels": [
                    {"type": "timeseries", "title": "B", "targets": [target("A", "SELECT 2")]},
                    {"type": "text", "title": "notes"},
                ],
            },
        ],
        "templating": {
            "list": [
                {"type": "query", "name": "site", "query": "SHOW TAG VALUES 1"},
                {"type": "query", "name": "room", "query": {"query": "SHOW TAG VALUES 2"}},
                {"type": "custom", "name": "unit", "query": "a,b"},
            ]
        },
        "annotations": {
            "list": [
                {"name": "builtin", "builtIn": 1, "target": {"limit": 100, "type": "dashboard"}},
                {"name": "old", "query": "SELECT 3"},
                {"name": "new", "target": target("Alerts", "SELECT 4")},
            ]
        },
    }
    assert queries(dashboard) == [
        Query("x", "A", "A", "SELECT 1", "panel"),
        Query("x", "B", "A", "SELECT 2", "panel"),
        Query("x", "site", "site", "SHOW TAG VALUES 1", "variable"),
        Query("x", "room", "room", "SHOW TAG VALUES 2", "variable"),
        Query("x", "old", "old", "SELECT 3", "annotation"),
        Query("x", "new", "Alerts", "SELECT 4", "annotation"),
    ]


@pytest.mark.parametrize(
    "dashboard",
    [
        {"panels": [{"title": "editor", "targets": [{"refId": "A", "measurement": "ups"}]}]},
        {"templating": {"list": [{"type": "query", "name": "site", "query": ""}]}},
        {"annotations": {"list": [{"name": "a", "target": {"query": None}}]}},
    ],
)
def test_a_query_without_influxql_text_is_an_error(dashboard: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="no InfluxQL query text"):
        queries(dashboard)


def test_every_total_over_meters_counts_only_main_meters() -> None:
    totals = [
        q
        for model in MODELS.values()
        for q in queries(model)
        if '"power_meter"' in q.text and "sum(" in q.text
    ]
    assert len(totals) >= 7
    assert [(q.dashboard, q.panel) for q in totals if MAIN_METERS not in q.text] == []
