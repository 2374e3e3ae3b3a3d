"""Panel builders: grafanalib panels with Grafana 11 field options and raw InfluxQL targets.

Every builder takes the panel's title, its queries (:class:`Influx`, or a plain query
string for a time series), and its size in grid units (``w`` of 24 columns, ``h`` rows of
30 px); :func:`dashboards.layout.place` gives the position and the id. The data source is
always referenced by uid (:data:`DATASOURCE`), never by name.

grafanalib 0.7.1 has no geomap panel and writes bar gauges in the Grafana 6 shape; those
two are a :class:`Visualization`, a grafanalib panel whose JSON is given whole.
"""

# InfluxQL for Grafana, built from constants: no input reaches it.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from grafanalib import core as g
from grafanalib.influxdb import InfluxDBTarget

from dashboards.influxql import BY_INTERVAL, TIME_FILTER, series
from dashboards.thresholds import GREEN, NEUTRAL, Step, steps

DATASOURCE: dict[str, str] = {"type": "influxdb", "uid": "facmon-influxdb"}
"""The InfluxDB data source, as provisioned by dashboards/provisioning/datasources."""

GPanel: TypeAlias = Any
"""A grafanalib panel (grafanalib has no type hints)."""

MIN_INTERVAL = "10s"
"""The narrowest ``$__interval`` of a time series: gateways and collectors report every
~10 s, so narrower buckets would be mostly empty."""

SPAN_NULLS_MS = 15 * 60 * 1000
"""Lines are drawn across empty buckets shorter than this (devices that report only on a
change, parked vehicles every 10 min) and broken across longer ones (a device offline)."""


@dataclass(frozen=True, slots=True)
class Influx:
    """One raw InfluxQL query of a panel.

    Attributes:
        query: the InfluxQL, with Grafana's macros and ``$variables``.
        alias: the series name (``$tag_device``, ``$col``); empty keeps InfluxDB's.
        table: return one table (rows of columns) instead of time series.
    """

    query: str
    alias: str = ""
    table: bool = False


Target: TypeAlias = Influx | str


def means(measurement: str, *fields: str, where: str) -> Influx:
    """Return time series per device (and per field, when several) of the means of ``fields``.

    Args:
        measurement: the measurement to read.
        fields: its fields; each series is named after its device (and field).
        where: conditions besides the time range.
    """
    select = ", ".join(f'mean("{field}") AS "{field}"' for field in fields)
    alias = "$tag_device $col" if len(fields) > 1 else "$tag_device"
    return Influx(series(select, measurement, where), alias=alias)


def states(measurement: str, *fields: str, where: str) -> Influx:
    """Return time series per device (and field) of the newest state of ``fields``.

    An empty bucket repeats the previous state: states are reported when they change.
    """
    select = ", ".join(f'last("{field}") AS "{field}"' for field in fields)
    alias = "$tag_device $col" if len(fields) > 1 else "$tag_device"
    return Influx(series(select, measurement, where, fill="previous"), alias=alias)


def newest(measurement: str, field: str, *, where: str, by: str = "device") -> Influx:
    """Return the newest value of ``field`` of each device (or tag ``by``) in the time range."""
    return Influx(
        f'SELECT last("{field}") FROM "{measurement}" WHERE {TIME_FILTER} AND {where} '
        f'GROUP BY "{by}"',
        alias=f"$tag_{by}",
    )


def _targets(targets: Sequence[Target]) -> list[Any]:
    queries = [t if isinstance(t, Influx) else Influx(t) for t in targets]
    if not queries:
        raise ValueError("a panel needs at least one query")
    return [
        InfluxDBTarget(
            query=q.query,
            alias=q.alias,
            format="table" if q.table else "time_series",
            datasource=DATASOURCE,
            rawQuery=True,
            refId=chr(ord("A") + index),
        )
        for index, q in enumerate(queries)
    ]


def _base(
    title: str, targets: Sequence[Target], description: str, w: int, h: int
) -> dict[str, Any]:
    if not title:
        raise ValueError("a panel needs a title")
    return {
        "title": title,
        "dataSource": DATASOURCE,
        "targets": _targets(targets),
        "description": description or None,
        "gridPos": g.GridPos(h=h, w=w, x=0, y=0),
        "maxDataPoints": None,
    }


def override(field: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    """Return a field override for the field (or series) named ``field``.

    ``properties`` maps Grafana property ids (``displayName``, ``color``, ``unit``,
    ``custom.hidden``, ``custom.cellOptions``...) to values.
    """
    return {
        "matcher": {"id": "byName", "options": field},
        "properties": [{"id": key, "value": value} for key, value in properties.items()],
    }


def fixed(colour: str) -> dict[str, str]:
    """Return the colour setting for one fixed colour."""
    return {"mode": "fixed", "fixedColor": colour}


def series_colour(series: str, colour: str) -> dict[str, Any]:
    """Return the override that draws series (or field) ``series`` in ``colour``."""
    return override(series, {"color": fixed(colour)})


def coloured_cells(field: str, mappings: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the override that maps the values of table column ``field`` and colours them."""
    return override(
        field, {"mappings": mappings, "custom.cellOptions": {"type": "color-background"}}
    )


def thresholds_cells(
    field: str,
    thresholds: list[Step],
    *,
    unit: str = "short",
    background: bool = False,
    display_name: str | None = None,
) -> dict[str, Any]:
    """Return the override that colours the numbers of table column ``field`` by thresholds."""
    properties: dict[str, Any] = {
        "unit": unit,
        "thresholds": {"mode": "absolute", "steps": thresholds},
        "custom.cellOptions": {"type": "color-background" if background else "color-text"},
    }
    if display_name:
        properties["displayName"] = display_name
    return override(field, properties)


def hidden(field: str) -> dict[str, Any]:
    """Return the override that hides table column ``field``."""
    return override(field, {"custom.hidden": True})


def stat(
    title: str,
    *targets: Target,
    unit: str = "none",
    thresholds: list[Step] | None = None,
    mappings: list[dict[str, Any]] | None = None,
    overrides: Sequence[dict[str, Any]] = (),
    decimals: int | None = None,
    no_value: str | None = None,
    reduce: str = "lastNotNull",
    graph: bool = False,
    background: bool = False,
    time_from: str | None = None,
    description: str = "",
    w: int = 4,
    h: int = 4,
) -> GPanel:
    """A big number (or one per series), coloured by ``thresholds`` (neutral by default).

    ``no_value`` is shown when the query returns nothing (``"0"`` for counts of matching
    rows); ``time_from`` replaces the dashboard's time range (``now/d``: today so far).
    """
    return g.Stat(
        **_base(title, targets, description, w, h),
        format=unit,
        thresholds=thresholds or steps(NEUTRAL),
        color={"mode": "thresholds"},
        mappings=mappings or [],
        overrides=list(overrides),
        decimals=decimals,
        noValue=no_value,
        reduceCalc=reduce,
        graphMode="area" if graph else "none",
        colorMode="background" if background else "value",
        timeFrom=time_from,
    )


def timeseries(
    title: str,
    *targets: Target,
    unit: str,
    thresholds: list[Step] | None = None,
    overrides: Sequence[dict[str, Any]] = (),
    minimum: int | None = None,
    maximum: int | None = None,
    bars: bool = False,
    stack: bool = False,
    interval: str = MIN_INTERVAL,
    description: str = "",
    w: int = 12,
    h: int = 8,
) -> GPanel:
    """Lines (or ``bars``) over time; ``thresholds`` are drawn as dashed lines."""
    return g.TimeSeries(
        **_base(title, targets, description, w, h),
        unit=unit,
        thresholds=thresholds or steps(GREEN),
        thresholdsStyleMode="dashed" if thresholds else "off",
        overrides=list(overrides),
        valueMin=minimum,
        valueMax=maximum,
        drawStyle="bars" if bars else "line",
        fillOpacity=70 if bars else 10,
        stacking={"mode": "normal", "group": "A"} if stack else {},
        legendCalcs=["lastNotNull", "max"],
        tooltipMode="multi",
        tooltipSort="desc",
        interval=interval,
        extraJson={"fieldConfig": {"defaults": {"custom": {"spanNulls": SPAN_NULLS_MS}}}},
    )


def event_counts(
    title: str, where: str, colours: Sequence[dict[str, Any]], *, w: int, h: int
) -> GPanel:
    """Stacked bars of ``facmon_events`` per interval, one series per event type."""
    return timeseries(
        title,
        Influx(
            f'SELECT count("facmon_seq") FROM "facmon_events" WHERE {where} '
            f'GROUP BY {BY_INTERVAL}, "type" fill(null)',
            alias="$tag_type",
        ),
        unit="short",
        bars=True,
        stack=True,
        interval="1m",
        overrides=colours,
        w=w,
        h=h,
    )


def table(
    title: str,
    *targets: Target,
    overrides: Sequence[dict[str, Any]] = (),
    sort_by: tuple[str, bool] | None = None,
    transformations: Sequence[dict[str, Any]] = (),
    unit: str = "",
    description: str = "",
    w: int = 12,
    h: int = 8,
) -> GPanel:
    """Rows of a table; ``sort_by`` is ``(column, descending)``."""
    return g.Table(
        **_base(title, targets, description, w, h),
        overrides=list(overrides),
        sortBy=[] if sort_by is None else [g.TableSortByField(*sort_by)],
        transformations=list(transformations),
        unit=unit,
        filterable=True,
    )


def state_timeline(
    title: str,
    *targets: Target,
    mappings: list[dict[str, Any]],
    description: str = "",
    w: int = 12,
    h: int = 6,
) -> GPanel:
    """Bands of state over time (booleans, door positions), coloured by ``mappings``."""
    return g.StateTimeline(
        **_base(title, targets, description, w, h),
        thresholds=steps(NEUTRAL),
        mappings=mappings,
        showValue="never",
        interval=MIN_INTERVAL,
    )


def bar_chart(
    title: str,
    *targets: Target,
    unit: str,
    x_field: str,
    overrides: Sequence[dict[str, Any]] = (),
    description: str = "",
    w: int = 12,
    h: int = 8,
) -> GPanel:
    """Bars of table rows, one group per value of column ``x_field``."""
    return g.BarChart(
        **_base(title, targets, description, w, h),
        overrides=list(overrides),
        thresholdSteps=steps(GREEN),
        showValue="auto",
        extraJson={"options": {"xField": x_field}, "fieldConfig": {"defaults": {"unit": unit}}},
    )


def pie_chart(
    title: str, *targets: Target, unit: str, description: str = "", w: int = 8, h: int = 8
) -> GPanel:
    """A donut of each series' total share."""
    return g.PieChartv2(
        **_base(title, targets, description, w, h),
        unit=unit,
        pieType="donut",
        reduceOptionsCalcs=["lastNotNull"],
        legendDisplayMode="table",
        legendPlacement="right",
        legendValues=["value", "percent"],
    )


def bar_gauge(
    title: str,
    *targets: Target,
    unit: str,
    thresholds: list[Step] | None = None,
    minimum: float | None = 0,
    maximum: float | None = None,
    rows: bool = False,
    transformations: Sequence[dict[str, Any]] = (),
    description: str = "",
    w: int = 8,
    h: int = 8,
) -> GPanel:
    """Horizontal bars, one per series (or per table row with ``rows``)."""
    defaults = {"color": {"mode": "thresholds"}, "unit": unit, "min": minimum, "max": maximum}
    options = {
        "displayMode": "gradient",
        "orientation": "horizontal",
        "namePlacement": "left",
        "showUnfilled": True,
        "valueMode": "color",
        "sizing": "auto",
        "minVizHeight": 16,
        "minVizWidth": 8,
        "maxVizHeight": 300,
        "legend": {"showLegend": False, "displayMode": "list", "placement": "bottom"},
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": rows},
    }
    return Visualization(
        **_base(title, targets, description, w, h),
        thresholds=thresholds or steps(GREEN),
        transformations=list(transformations),
        extraJson={
            "type": "bargauge",
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": options,
        },
    )


def geomap(
    title: str,
    *targets: Target,
    layer: str,
    colour_field: str,
    thresholds: list[Step],
    label: str = "device",
    description: str = "",
    w: int = 16,
    h: int = 14,
) -> GPanel:
    """Markers at columns ``lat``/``lon`` of table rows, labelled by column ``label``.

    Markers are coloured by column ``colour_field`` through ``thresholds``.
    """
    style = {
        "color": {"field": colour_field, "fixed": "dark-green"},
        "opacity": 0.9,
        "size": {"fixed": 9, "min": 4, "max": 15},
        "symbol": {"mode": "fixed", "fixed": "img/icons/marker/circle.svg"},
        "symbolAlign": {"horizontal": "center", "vertical": "center"},
        "text": {"mode": "field", "field": label, "fixed": ""},
        "textConfig": {
            "fontSize": 12,
            "offsetX": 0,
            "offsetY": -14,
            "textAlign": "center",
            "textBaseline": "middle",
        },
    }
    markers = {
        "type": "markers",
        "name": layer,
        "config": {"showLegend": True, "style": style},
        "location": {"mode": "coords", "latitude": "lat", "longitude": "lon"},
        "tooltip": True,
    }
    options = {
        "basemap": {"type": "default", "name": "Basemap", "config": {}},
        "controls": {
            "showZoom": True,
            "mouseWheelZoom": True,
            "showAttribution": True,
            "showScale": True,
            "showMeasure": False,
            "showDebug": False,
        },
        "layers": [markers],
        "tooltip": {"mode": "details"},
        "view": {"id": "fit", "allLayers": True, "lat": 0, "lon": 0, "zoom": 12},
    }
    return Visualization(
        **_base(title, targets, description, w, h),
        thresholds=thresholds,
        extraJson={
            "type": "geomap",
            "fieldConfig": {"defaults": {"color": {"mode": "thresholds"}}, "overrides": []},
            "options": options,
        },
    )


def row(title: str) -> GPanel:
    """A full-width row header; the panels after it, up to the next row, belong to it."""
    return g.RowPanel(title=title, gridPos=g.GridPos(h=1, w=24, x=0, y=0), collapsed=False)


def merge() -> dict[str, Any]:
    """The transformation that puts the rows of several tables into one."""
    return {"id": "merge", "options": {}}


def sort_rows(field: str, *, descending: bool) -> dict[str, Any]:
    """The transformation that sorts rows by column ``field``."""
    return {"id": "sortBy", "options": {"sort": [{"field": field, "desc": descending}]}}


def first_rows(count: int) -> dict[str, Any]:
    """The transformation that keeps the first ``count`` rows."""
    return {"id": "limit", "options": {"limitField": count}}


class Visualization(g.Panel):  # type: ignore[misc]  # grafanalib is untyped
    """A panel whose type, options and field defaults all come in ``extraJson``.

    For the panels grafanalib 0.7.1 lacks (``geomap``) or writes in the Grafana 6 shape
    (``bargauge``).
    """

    def to_json_data(self) -> Any:
        """Return the panel's JSON model."""
        return self.panel_json({})
