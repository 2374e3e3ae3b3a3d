"""Assemble a facmon dashboard with grafanalib and turn it into Grafana 11 JSON.

grafanalib 0.7.1 writes schema version 12 and keeps keys that Grafana dropped long ago
(``rows``, ``span``, a table's top-level ``columns``...). :func:`to_json` writes schema
version 39 (Grafana 11) and removes those keys, and pins each panel's ``pluginVersion`` so
that Grafana does not run its old-panel migrations on options already in today's shape.
"""

# InfluxQL for Grafana, built from constants: no input reaches it.
# ruff: noqa: S608

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeAlias

from grafanalib import core as g
from grafanalib._gen import DashboardEncoder

from dashboards.influxql import TIME_FILTER, matches
from dashboards.layout import place
from dashboards.panels import DATASOURCE, GPanel
from dashboards.variables import GTemplate

GDashboard: TypeAlias = Any
"""A grafanalib dashboard (grafanalib has no type hints)."""

SCHEMA_VERSION = 39
"""The dashboard JSON schema of Grafana 11."""
GRAFANA_VERSION = "11.3.0"
"""The Grafana the dashboards are written for (docker-compose.yml's image)."""
TAG = "facmon"
"""The tag of every facmon dashboard (and of the links between them)."""
UID_PREFIX = "facmon-"
"""What every facmon dashboard uid starts with."""
ALERTS_ANNOTATION = "Alerts 告警"
"""The name of the alert annotation every dashboard has."""

_DROPPED_DASHBOARD_KEYS = frozenset(
    {"__inputs", "gnetId", "hideControls", "id", "rows", "sharedCrosshair", "style"}
)
_DROPPED_PANEL_KEYS = frozenset(
    {"columns", "color", "editable", "error", "fontSize", "height", "mappings", "minSpan", "span"}
)
_ROW_KEYS = ("collapsed", "gridPos", "id", "panels", "title", "type")
_DROPPED_VARIABLE_KEYS = frozenset(
    {"auto", "auto_count", "auto_min", "tagValuesQuery", "tagsQuery", "useTags"}
)


def alerts_annotation(where: str) -> dict[str, Any]:
    """Return the annotation that marks every alert transition stored in ``facmon_alerts``.

    Args:
        where: the conditions on the alerts' tags besides the time range.
    """
    query = (
        'SELECT "summary", "severity", "rule", "state" FROM "facmon_alerts" '
        f"WHERE {TIME_FILTER} AND {where}"
    )
    return {
        "name": ALERTS_ANNOTATION,
        "datasource": DATASOURCE,
        "enable": True,
        "hide": False,
        "iconColor": "red",
        "target": {
            "refId": "Alerts",
            "query": query,
            "rawQuery": True,
            "resultFormat": "table",
            "fromAnnotations": True,
            "textColumn": "summary",
            "tagsColumn": "severity,rule,state",
            "titleColumn": "rule",
        },
    }


def facmon_dashboard(
    *,
    name: str,
    title: str,
    description: str,
    variables: Sequence[GTemplate],
    panels: Sequence[GPanel],
    time_from: str = "now-24h",
    refresh: str = "1m",
    alert_filter: str | None = None,
) -> GDashboard:
    """Return a dashboard with what every facmon dashboard has.

    That is: uid ``facmon-<name>``, tag ``facmon``, the alert annotation (filtered by
    ``alert_filter``, by default the selected sites), a menu of the other facmon
    dashboards that keeps the time range and the variables, the browser's timezone, and
    ``panels`` placed on the grid with ids in order.
    """
    return g.Dashboard(
        uid=UID_PREFIX + name,
        title=title,
        description=description,
        tags=[TAG],
        timezone="browser",
        time=g.Time(time_from, "now"),
        refresh=refresh,
        graphTooltip=g.GRAPH_TOOLTIP_MODE_SHARED_CROSSHAIR,
        templating=g.Templating(list=list(variables)),
        annotations=g.Annotations(list=[alerts_annotation(alert_filter or matches("site"))]),
        links=[
            g.DashboardLink(
                title="facmon",
                type="dashboards",
                tags=[TAG],
                asDropdown=True,
                includeVars=True,
                keepTime=True,
            )
        ],
        panels=place(panels),
    )


def to_json(dashboard: GDashboard) -> dict[str, Any]:
    """Return the Grafana 11 JSON model of a grafanalib dashboard."""
    model: dict[str, Any] = json.loads(json.dumps(dashboard.to_json_data(), cls=DashboardEncoder))
    for key in _DROPPED_DASHBOARD_KEYS:
        model.pop(key, None)
    model["schemaVersion"] = SCHEMA_VERSION
    model["panels"] = [_panel(panel) for panel in model["panels"]]
    model["templating"]["list"] = [_variable(v) for v in model["templating"]["list"]]
    return model


def _panel(panel: dict[str, Any]) -> dict[str, Any]:
    if panel["type"] == "row":
        row = {key: panel[key] for key in _ROW_KEYS}
        row["panels"] = [_panel(p) for p in row["panels"]]
        return row
    result = {
        key: value
        for key, value in panel.items()
        if value is not None and key not in _DROPPED_PANEL_KEYS
    }
    defaults = result["fieldConfig"]["defaults"]
    result["fieldConfig"]["defaults"] = {k: v for k, v in defaults.items() if v is not None}
    result["pluginVersion"] = GRAFANA_VERSION
    return result


def _variable(variable: dict[str, Any]) -> dict[str, Any]:
    result = {k: v for k, v in variable.items() if k not in _DROPPED_VARIABLE_KEYS}
    result["definition"] = result["query"]
    if result.get("includeAll"):
        result["current"] = {"selected": True, "text": ["All"], "value": ["$__all"]}
    return result
