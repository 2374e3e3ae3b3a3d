"""Every InfluxQL query of a dashboard's JSON model: panels, template variables, annotations.

The integration tests run each query against a real InfluxDB (after replacing Grafana's
macros and variables) to prove that it is valid and finds data; this module finds them,
walking the JSON rather than the code, so that what is checked is what Grafana loads.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["panel", "variable", "annotation"]
"""Where in the dashboard a query comes from."""


@dataclass(frozen=True, slots=True)
class Query:
    """One InfluxQL query of a dashboard.

    Attributes:
        dashboard: the dashboard's uid.
        panel: the panel's title, the variable's name or the annotation's name.
        ref_id: the target's ``refId`` (a variable's name for a variable).
        text: the InfluxQL, with Grafana's macros and ``$variables`` as written.
        kind: ``panel``, ``variable`` or ``annotation``.
    """

    dashboard: str
    panel: str
    ref_id: str
    text: str
    kind: Kind


def queries(dashboard: Mapping[str, Any]) -> list[Query]:
    """Return every InfluxQL query of a dashboard JSON model, in document order.

    That is each target of each panel (panels inside rows, collapsed or not, included),
    each query variable, and each annotation with a query.

    Raises:
        ValueError: a panel target, query variable or annotation has no query text (a
            query built in Grafana's editor rather than written as raw InfluxQL).
    """
    uid = str(dashboard.get("uid", ""))
    return [
        *_panel_queries(uid, dashboard.get("panels", [])),
        *_variable_queries(uid, dashboard.get("templating", {}).get("list", [])),
        *_annotation_queries(uid, dashboard.get("annotations", {}).get("list", [])),
    ]


def _panel_queries(uid: str, panels: list[Mapping[str, Any]]) -> Iterator[Query]:
    for panel in _panels(panels):
        title = str(panel.get("title", ""))
        for target in panel.get("targets", []):
            text = _text(target, f"panel {title!r}")
            yield Query(uid, title, str(target.get("refId", "")), text, "panel")


def _variable_queries(uid: str, variables: list[Mapping[str, Any]]) -> Iterator[Query]:
    for variable in variables:
        if variable.get("type") != "query":
            continue  # custom, interval, constant... variables hold no query
        name = str(variable.get("name", ""))
        query = variable.get("query")
        holder = query if isinstance(query, Mapping) else {"query": query}
        yield Query(uid, name, name, _text(holder, f"variable {name!r}"), "variable")


def _annotation_queries(uid: str, annotations: list[Mapping[str, Any]]) -> Iterator[Query]:
    for annotation in annotations:
        target = annotation.get("target")
        if isinstance(target, Mapping) and "query" in target:
            holder: Mapping[str, Any] = target
        elif "query" in annotation:
            holder = annotation  # the shape before Grafana 10
        else:
            continue  # Grafana's built-in annotation: no query
        name = str(annotation.get("name", ""))
        text = _text(holder, f"annotation {name!r}")
        yield Query(uid, name, str(holder.get("refId", name)), text, "annotation")


def _panels(panels: list[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _text(holder: Mapping[str, Any], where: str) -> str:
    text = holder.get("query")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{where} has no InfluxQL query text")
    return text
