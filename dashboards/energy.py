"""Energy: what the meters of each building count, by day and by night, and who uses most."""

# InfluxQL for Grafana, built from constants: no input reaches it.
# ruff: noqa: S608

from __future__ import annotations

from dashboards import variables
from dashboards.influxql import BY_INTERVAL, LOCAL_TIME, MAIN_METERS, TIME_FILTER, matches
from dashboards.panels import (
    Influx,
    bar_chart,
    bar_gauge,
    first_rows,
    merge,
    row,
    series_colour,
    sort_rows,
    stat,
    timeseries,
)
from dashboards.render import GDashboard, facmon_dashboard
from dashboards.thresholds import BLUE, ORANGE, steps

PLACE = matches("site", "building")
TOTAL = f"{PLACE} AND {MAIN_METERS}"
"""A total's meters: those of the place at the top of their tree (sub-meters are in them)."""

DAY_START = "8h"
"""Day is 08:00-20:00 local time, night 20:00-08:00."""


def _meter_energy(bucket: str, *tags: str) -> str:
    """Energy imported per main meter (and ``tags``) per ``bucket`` (a ``GROUP BY time()``)."""
    by = "".join(f', "{tag}"' for tag in ("device", *tags))
    return (
        'SELECT spread("import_energy_kwh") AS "kwh" FROM "power_meter" '
        f"WHERE {TIME_FILTER} AND {TOTAL} GROUP BY {bucket}{by} {LOCAL_TIME}"
    )


def _consumers(field: str, measurements: str) -> Influx:
    """The ten devices of ``measurements`` whose energy counter ``field`` rose most."""
    return Influx(
        'SELECT top("kwh", "device", 10) AS "energy" FROM (SELECT spread("'
        f'{field}") AS "kwh" FROM {measurements} WHERE {TIME_FILTER} AND {PLACE} '
        'GROUP BY "device")',
        table=True,
    )


def dashboard() -> GDashboard:
    """Return the energy dashboard (``facmon-energy``)."""
    half_days = f"time(12h, {DAY_START})"
    return facmon_dashboard(
        name="energy",
        title="Energy · 能耗",
        description="Metered energy per building, day and night, and the largest consumers.",
        time_from="now-7d",
        refresh="5m",
        variables=[variables.site(), variables.building()],
        alert_filter=PLACE,
        panels=[
            row("Consumption 用电量"),
            stat(
                "Energy in the time range",
                'SELECT sum("kwh") FROM (SELECT spread("import_energy_kwh") AS "kwh" '
                f'FROM "power_meter" WHERE {TIME_FILTER} AND {TOTAL} GROUP BY "device")',
                unit="kwatth",
                decimals=0,
                thresholds=steps(BLUE),
                description=(
                    "Increase of the import counter of every main meter (sub-meters are "
                    "in their main meter's count), summed."
                ),
                w=6,
                h=8,
            ),
            bar_gauge(
                "Energy per building",
                Influx(
                    'SELECT sum("kwh") FROM (SELECT spread("import_energy_kwh") AS "kwh" '
                    f'FROM "power_meter" WHERE {TIME_FILTER} AND {TOTAL} '
                    'GROUP BY "device", "building") GROUP BY "building"',
                    alias="$tag_building",
                ),
                unit="kwatth",
                thresholds=steps(BLUE),
                w=8,
            ),
            bar_chart(
                "Day and night",
                Influx(
                    'SELECT first("kwh") AS "day", sum("kwh") - first("kwh") AS "night" FROM '
                    f'(SELECT sum("kwh") AS "kwh" FROM ({_meter_energy(half_days)}) '
                    f"WHERE {TIME_FILTER} GROUP BY {half_days} fill(0) {LOCAL_TIME}) "
                    f"WHERE {TIME_FILTER} GROUP BY time(1d, {DAY_START}) {LOCAL_TIME}",
                    table=True,
                ),
                unit="kwatth",
                x_field="Time",
                overrides=[series_colour("day", ORANGE), series_colour("night", BLUE)],
                description=(
                    "Energy of each day (08:00-20:00) and the night after it (20:00-08:00), "
                    "site time. When the time range starts at night, the first bar counts "
                    "that night as day."
                ),
                w=10,
            ),
            timeseries(
                "Daily energy per building",
                Influx(
                    f'SELECT sum("kwh") FROM ({_meter_energy("time(1d)", "building")}) '
                    f'WHERE {TIME_FILTER} GROUP BY time(1d), "building" fill(0) {LOCAL_TIME}',
                    alias="$tag_building",
                ),
                unit="kwatth",
                bars=True,
                stack=True,
                description="Energy per local calendar day, stacked by building.",
            ),
            timeseries(
                "Power per building",
                Influx(
                    'SELECT sum("kw") FROM (SELECT mean("active_power_kw") AS "kw" '
                    f'FROM "power_meter" WHERE {TIME_FILTER} AND {TOTAL} '
                    f'GROUP BY {BY_INTERVAL}, "device", "building") WHERE {TIME_FILTER} '
                    f'GROUP BY {BY_INTERVAL}, "building" fill(null)',
                    alias="$tag_building",
                ),
                unit="kwatt",
                minimum=0,
                description="The main meters' active power, summed per building.",
            ),
            row("Consumers 用能设备"),
            bar_gauge(
                "Top consumers",
                _consumers("energy_kwh", '"office_ac", "lighting"'),
                _consumers("output_energy_kwh", '"ups"'),
                unit="kwatth",
                thresholds=steps(BLUE),
                rows=True,
                transformations=[
                    merge(),
                    sort_rows("energy", descending=True),
                    first_rows(10),
                ],
                description=(
                    "Equipment with its own energy counter (office AC, lighting circuits, "
                    "UPS output), by energy in the time range."
                ),
                w=12,
                h=10,
            ),
            timeseries(
                "Equipment power",
                Influx(
                    'SELECT sum("kw") FROM (SELECT mean("unit_power_kw") AS "kw" FROM "crac" '
                    f'WHERE {TIME_FILTER} AND {PLACE} GROUP BY {BY_INTERVAL}, "device") '
                    f"WHERE {TIME_FILTER} GROUP BY {BY_INTERVAL} fill(null)",
                    alias="precision AC",
                ),
                Influx(
                    'SELECT sum("w") / 1000 FROM (SELECT mean("power_w") AS "w" FROM "office_ac" '
                    f'WHERE {TIME_FILTER} AND {PLACE} GROUP BY {BY_INTERVAL}, "device") '
                    f"WHERE {TIME_FILTER} GROUP BY {BY_INTERVAL} fill(null)",
                    alias="office AC",
                ),
                Influx(
                    'SELECT sum("w") / 1000 FROM (SELECT mean("total_power_w") AS "w" '
                    f'FROM "lighting" WHERE {TIME_FILTER} AND {PLACE} '
                    f'GROUP BY {BY_INTERVAL}, "device") '
                    f"WHERE {TIME_FILTER} GROUP BY {BY_INTERVAL} fill(null)",
                    alias="lighting",
                ),
                unit="kwatt",
                minimum=0,
                stack=True,
                description="Power of each kind of equipment, summed over its units.",
                w=12,
                h=10,
            ),
        ],
    )
