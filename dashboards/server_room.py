"""Server room: climate, precision air conditioning, UPS and the -48 V DC power system."""

# InfluxQL for Grafana, built from constants: no input reaches it.
# ruff: noqa: S608

from __future__ import annotations

from dashboards import variables
from dashboards.influxql import TIME_FILTER, matches
from dashboards.mappings import FLAG, RUNNING
from dashboards.panel_groups import NewestStat, newest_stats, room_humidity
from dashboards.panels import means, row, stat, state_timeline, states, timeseries
from dashboards.render import GDashboard, facmon_dashboard
from dashboards.thresholds import BLUE, GREEN, ORANGE, RED, fault_steps, steps

PLACE = matches("site", "building", "room")

SERVER_ROOM_TEMPERATURE = steps(BLUE, (18, GREEN), (27, RED))
"""GB 50174 keeps class A and B server rooms at 18-27 °C; the shipped ``server-room-hot``
alert rule fires above 27 °C."""


def dashboard() -> GDashboard:
    """Return the server room dashboard (``facmon-server-room``)."""
    return facmon_dashboard(
        name="server-room",
        title="Server room · 机房",
        description="Temperature and humidity, precision AC, UPS and -48 V DC power.",
        time_from="now-6h",
        variables=[
            variables.site(),
            variables.building(),
            variables.tag_values(
                "room",
                "Server room 机房",
                within=("site", "building"),
                measurements=("crac", "dc_power", "ups"),
            ),
        ],
        alert_filter=PLACE,
        panels=[
            row("Temperature and humidity 温湿度"),
            stat(
                "Hottest point now",
                'SELECT max("t") FROM (SELECT last("temperature") AS "t" FROM "environment" '
                f'WHERE {TIME_FILTER} AND {PLACE} GROUP BY "device")',
                unit="celsius",
                decimals=1,
                thresholds=SERVER_ROOM_TEMPERATURE,
                background=True,
                description="The warmest temperature sensor's newest reading (18-27 °C).",
                h=8,
            ),
            timeseries(
                "Temperature",
                means("environment", "temperature", where=PLACE),
                unit="celsius",
                thresholds=SERVER_ROOM_TEMPERATURE,
                w=10,
            ),
            room_humidity(PLACE, w=10),
            row("Precision air conditioning 精密空调"),
            timeseries(
                "Return and supply air",
                means("crac", "return_air_temp", "supply_air_temp", "temp_setpoint", where=PLACE),
                unit="celsius",
                thresholds=fault_steps("crac", "return_air_temp"),
                description="Return air is the controlled value; setpoint for comparison.",
            ),
            timeseries(
                "Air humidity",
                means("crac", "return_air_humidity", "supply_air_humidity", where=PLACE),
                unit="humidity",
                minimum=0,
                maximum=100,
                w=6,
            ),
            state_timeline(
                "Units switched on",
                states("crac", "unit_on", where=PLACE),
                mappings=RUNNING,
                w=6,
                h=8,
            ),
            timeseries(
                "Fan speed",
                means("crac", "fan_speed_pct", where=PLACE),
                unit="percent",
                minimum=0,
                maximum=100,
            ),
            timeseries(
                "Unit power", means("crac", "unit_power_kw", where=PLACE), unit="kwatt", minimum=0
            ),
            row("UPS"),
            *newest_stats(
                "ups",
                PLACE,
                NewestStat("UPS load", "load_pct", unit="percent", faults="ups"),
                NewestStat("Battery charge", "battery_charge_pct", unit="percent", faults="ups"),
                NewestStat(
                    "Runtime on battery",
                    "runtime_remaining_min",
                    unit="m",
                    thresholds=steps(RED, (10, ORANGE), (20, GREEN)),
                    description="Estimated minutes the batteries carry the present load.",
                ),
                NewestStat("Inverter temperature", "inverter_temp", unit="celsius", decimals=1),
            ),
            timeseries(
                "Input and output voltage",
                means("ups", "input_voltage", "output_voltage", where=PLACE),
                unit="volt",
                w=8,
            ),
            timeseries(
                "Load",
                means("ups", "load_pct", where=PLACE),
                unit="percent",
                minimum=0,
                maximum=100,
                w=8,
            ),
            state_timeline(
                "On battery, bypass, fault",
                states("ups", "on_battery", "bypass_active", "fault", where=PLACE),
                mappings=FLAG,
                w=8,
                h=8,
            ),
            row("-48 V DC power 通信电源"),
            *newest_stats(
                "dc_power",
                PLACE,
                NewestStat(
                    "Bus voltage now",
                    "bus_voltage",
                    unit="volt",
                    decimals=1,
                    faults="dc-power-48v",
                    description="Magnitude of the -48 V bus (53.5 means -53.5 V to earth).",
                ),
                NewestStat("Rectifiers online", "rectifiers_online", faults="dc-power-48v"),
                NewestStat(
                    "Battery capacity",
                    "battery_capacity_pct",
                    unit="percent",
                    thresholds=steps(RED, (20, ORANGE), (50, GREEN)),
                ),
                NewestStat(
                    "Battery temperature now",
                    "battery_temp",
                    unit="celsius",
                    decimals=1,
                    faults="dc-power-48v",
                ),
            ),
            timeseries(
                "Bus voltage",
                means("dc_power", "bus_voltage", where=PLACE),
                unit="volt",
                thresholds=fault_steps("dc-power-48v", "bus_voltage"),
                w=8,
            ),
            timeseries(
                "Load and battery current",
                means("dc_power", "load_current", "battery_current", where=PLACE),
                unit="amp",
                description="Battery current is positive while charging, negative discharging.",
                w=8,
            ),
            timeseries(
                "Battery temperature",
                means("dc_power", "battery_temp", where=PLACE),
                unit="celsius",
                thresholds=fault_steps("dc-power-48v", "battery_temp"),
                w=8,
            ),
        ],
    )
