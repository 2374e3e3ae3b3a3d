"""Fleet: where the vehicles are, how fast they go, and what happened on the road."""

# InfluxQL for Grafana, built from constants: no input reaches it.
# ruff: noqa: S608

from __future__ import annotations

from dashboards import variables
from dashboards.influxql import TIME_FILTER, matches, regex_of, series
from dashboards.mappings import ON_OFF, value_mappings
from dashboards.panel_groups import event_totals
from dashboards.panels import (
    Influx,
    bar_gauge,
    coloured_cells,
    event_counts,
    geomap,
    hidden,
    override,
    row,
    series_colour,
    stat,
    state_timeline,
    states,
    table,
    thresholds_cells,
    timeseries,
)
from dashboards.render import GDashboard, facmon_dashboard
from dashboards.thresholds import BLUE, GREEN, ORANGE, RED, fault_steps, steps

PLACE = matches("site", device="vehicle")

SPEED = steps(GREEN, (80, ORANGE), (120, RED))
"""Orange from the shipped ``speeding`` alert rule's 80 km/h, red from the vehicle tracker
profile's 120 km/h fault value."""

VEHICLE_EVENTS = (
    ("ignition_on", "ignition on", BLUE),
    ("ignition_off", "ignition off", BLUE),
    ("harsh_brake", "harsh brake", ORANGE),
    ("harsh_accel", "harsh acceleration", ORANGE),
    ("overspeed", "overspeed", RED),
    ("sos", "SOS", RED),
)
"""The event types of vehicles (``facmon_events``): how they read and their colour."""

EVENTS = f'"type" =~ {regex_of(tuple(t for t, _, _ in VEHICLE_EVENTS))}'
"""The condition that keeps vehicle events."""

EVENT_COLOURS = [series_colour(t, c) for t, _, c in VEHICLE_EVENTS]


def dashboard() -> GDashboard:
    """Return the fleet dashboard (``facmon-fleet``)."""
    return facmon_dashboard(
        name="fleet",
        title="Fleet · 车辆",
        description="Vehicle positions, speeds, ignition and fuel, and driving events.",
        variables=[
            variables.site(),
            variables.tag_values(
                "vehicle", "Vehicle 车辆", key="device", within=("site",), measurements=("vehicle",)
            ),
        ],
        alert_filter=PLACE,
        panels=[
            row("Where 位置"),
            geomap(
                "Vehicles",
                Influx(
                    'SELECT last("lat") AS "lat", "lon", "speed_kmh", "fuel_pct" FROM "vehicle" '
                    f'WHERE {TIME_FILTER} AND {PLACE} GROUP BY "device"',
                    table=True,
                ),
                layer="Vehicles",
                colour_field="speed_kmh",
                thresholds=SPEED,
                description="Each vehicle's newest position (WGS-84), coloured by its speed.",
            ),
            table(
                "Vehicles now",
                Influx(
                    'SELECT last("speed_kmh") AS "speed", "ignition", "fuel_pct", "odo_km" '
                    f'FROM "vehicle" WHERE {TIME_FILTER} AND {PLACE} GROUP BY "device"',
                    table=True,
                ),
                overrides=[
                    override("Time", {"displayName": "Last report"}),
                    thresholds_cells("speed", SPEED, unit="velocitykmh"),
                    coloured_cells("ignition", ON_OFF),
                    override("fuel_pct", {"unit": "percent", "displayName": "fuel"}),
                    override("odo_km", {"unit": "lengthkm", "displayName": "odometer"}),
                ],
                sort_by=("device", False),
                w=8,
                h=14,
            ),
            row("Driving 行驶"),
            stat(
                "Distance driven",
                'SELECT sum("km") FROM (SELECT spread("odo_km") AS "km" FROM "vehicle" '
                f'WHERE {TIME_FILTER} AND {PLACE} GROUP BY "device")',
                unit="lengthkm",
                decimals=0,
                w=6,
            ),
            stat(
                "Top speed",
                f'SELECT max("speed_kmh") FROM "vehicle" WHERE {TIME_FILTER} AND {PLACE}',
                unit="velocitykmh",
                decimals=0,
                thresholds=SPEED,
                w=6,
            ),
            event_totals(
                "Driving events", f"{TIME_FILTER} AND {PLACE} AND {EVENTS}", EVENT_COLOURS
            ),
            timeseries(
                "Speed",
                Influx(series('max("speed_kmh")', "vehicle", PLACE), alias="$tag_device"),
                unit="velocitykmh",
                thresholds=SPEED,
                minimum=0,
                description="The highest speed of each vehicle in each interval.",
            ),
            state_timeline("Ignition", states("vehicle", "ignition", where=PLACE), mappings=ON_OFF),
            timeseries(
                "Fuel",
                Influx(series('mean("fuel_pct")', "vehicle", PLACE), alias="$tag_device"),
                unit="percent",
                thresholds=fault_steps("vehicle-tracker", "fuel_pct"),
                minimum=0,
                maximum=100,
            ),
            bar_gauge(
                "Distance per vehicle",
                Influx(
                    f'SELECT spread("odo_km") FROM "vehicle" WHERE {TIME_FILTER} AND {PLACE} '
                    'GROUP BY "device"',
                    alias="$tag_device",
                ),
                unit="lengthkm",
                thresholds=steps(BLUE),
                w=12,
            ),
            row("Events 事件"),
            table(
                "Vehicle events",
                Influx(
                    'SELECT "type", "device", "speed_kmh", "lat", "lon", "facmon_seq" '
                    f'FROM "facmon_events" WHERE {TIME_FILTER} AND {PLACE} AND {EVENTS} '
                    "ORDER BY time DESC LIMIT 500",
                    table=True,
                ),
                overrides=[
                    coloured_cells("type", value_mappings(*VEHICLE_EVENTS)),
                    override("speed_kmh", {"unit": "velocitykmh", "displayName": "speed"}),
                    hidden("facmon_seq"),
                ],
                description="The newest 500 events: ignition, harsh driving, overspeed, SOS.",
                w=16,
                h=10,
            ),
            event_counts(
                "Events over time",
                f"{TIME_FILTER} AND {PLACE} AND {EVENTS}",
                EVENT_COLOURS,
                w=8,
                h=10,
            ),
        ],
    )
