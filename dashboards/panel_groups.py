"""Panel groups that several dashboards build alike, on :mod:`dashboards.panels`.

Counts that should be none, the newest value of each of a device's fields, the table of
devices' communication states, event totals per type, the rooms' humidity.
"""

# InfluxQL for Grafana, built from constants: no input reaches it.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dashboards.mappings import DEVICE_STATES
from dashboards.panels import (
    GPanel,
    Influx,
    Target,
    coloured_cells,
    means,
    newest,
    override,
    stat,
    table,
    timeseries,
)
from dashboards.thresholds import GREEN, Step, fault_steps, steps


def count_stat(
    title: str, query: Target, *, alarm: str, description: str = "", w: int = 4, h: int = 4
) -> GPanel:
    """A count of what should be none (devices offline, open alerts, denied cards).

    Green at 0 and ``alarm`` (a colour) from 1; ``0`` is shown when no row matches.
    """
    return stat(
        title,
        query,
        thresholds=steps(GREEN, (1, alarm)),
        no_value="0",
        description=description,
        w=w,
        h=h,
    )


@dataclass(frozen=True, slots=True)
class NewestStat:
    """One big number of :func:`newest_stats`: the newest value of ``field`` per device.

    Attributes:
        title: the panel's title.
        field: the measurement's field.
        unit: Grafana's unit id.
        decimals: digits after the decimal point; Grafana's choice when None.
        faults: the device profile whose fault values for ``field`` colour the number.
        thresholds: the colours otherwise (neutral when neither is given).
        description: the panel's tooltip.
    """

    title: str
    field: str
    unit: str = "none"
    decimals: int | None = None
    faults: str | None = None
    thresholds: list[Step] | None = None
    description: str = ""


def newest_stats(measurement: str, where: str, *stats: NewestStat, w: int = 6) -> list[GPanel]:
    """A row of big numbers, one per :class:`NewestStat`, of one measurement's devices."""
    return [
        stat(
            s.title,
            newest(measurement, s.field, where=where),
            unit=s.unit,
            decimals=s.decimals,
            thresholds=fault_steps(s.faults, s.field) if s.faults else s.thresholds,
            description=s.description,
            w=w,
        )
        for s in stats
    ]


def device_states(
    title: str,
    query: str,
    *,
    sort_by: tuple[str, bool],
    description: str,
    w: int = 12,
    h: int = 8,
) -> GPanel:
    """A table of devices' communication states (``facmon_states``), coloured by state.

    ``query`` returns one row per device with a ``state`` column; its time reads "Since".
    """
    return table(
        title,
        Influx(query, table=True),
        overrides=[
            coloured_cells("state", DEVICE_STATES),
            override("Time", {"displayName": "Since"}),
        ],
        sort_by=sort_by,
        description=description,
        w=w,
        h=h,
    )


def event_totals(
    title: str, where: str, colours: Sequence[dict[str, Any]], *, w: int = 12
) -> GPanel:
    """A big number per event type: the ``facmon_events`` matching ``where`` in the range.

    ``colours`` are the event types' series overrides (:func:`dashboards.panels.series_colour`).
    """
    return stat(
        title,
        Influx(
            f'SELECT count("facmon_seq") FROM "facmon_events" WHERE {where} GROUP BY "type"',
            alias="$tag_type",
        ),
        overrides=colours,
        description="Events of each type in the time range.",
        w=w,
    )


def room_humidity(where: str, *, w: int = 12) -> GPanel:
    """Relative humidity from the rooms' temperature and humidity sensors (``th-sensor``)."""
    return timeseries(
        "Humidity",
        means("environment", "humidity", where=where),
        unit="humidity",
        thresholds=fault_steps("th-sensor", "humidity"),
        minimum=0,
        maximum=100,
        w=w,
    )
