"""Server room: climate, precision air conditioning, UPS and the -48 V DC power system."""

# InfluxQL for Grafana, built from constants: no input reaches it.
# ruff: noqa: S608

from __future__ import annotations

from dashboards import variables
from dashboards.influxql import TIME_FILTER, matches
from dashboards.mappings import FLAG, RUNNING
from dashboards.panels import means, newest, row, stat, state_timeline, states, timeseries
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
            timeseries(
                "Humidity",
                means("environment", "humidity", where=PLACE),
                unit="humidity",
                thresholds=fault_steps("th-sensor", "humidity"),
                minimum=0,
                maximum=100,
                w=10,
            ),
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
            stat(
                "UPS load",
                newest("ups", "load_pct", where=PLACE),
                unit="percent",
                thresholds=fault_steps("ups", "load_pct"),
                w=6,
            ),
            stat(
                "Battery charge",
                newest("ups", "battery_charge_pct", where=PLACE),
                unit="percent",
                thresholds=fault_steps("ups", "battery_charge_pct"),
                w=6,
            ),
            stat(
                "Runtime on battery",
                newest("ups", "runtime_remaining_min", where=PLACE),
                unit="m",
                thresholds=steps(RED, (10, ORANGE), (20, GREEN)),
                description="Estimated minutes the batteries carry the present load.",
                w=6,
            ),
            stat(
                "Inverter temperature",
                newest("ups", "inverter_temp", where=PLACE),
                unit="celsius",
                decimals=1,
                w=6,
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
            stat(
                "Bus voltage now",
                newest("dc_power", "bus_voltage", where=PLACE),
                unit="volt",
                decimals=1,
                thresholds=fault_steps("dc-power-48v", "bus_voltage"),
                description="Magnitude of the -48 V bus (53.5 means -53.5 V to earth).",
                w=6,
            ),
            stat(
                "Rectifiers online",
                newest("dc_power", "rectifiers_online", where=PLACE),
                thresholds=fault_steps("dc-power-48v", "rectifiers_online"),
                w=6,
            ),
            stat(
                "Battery capacity",
                newest("dc_power", "battery_capacity_pct", where=PLACE),
                unit="percent",
                thresholds=steps(RED, (20, ORANGE), (50, GREEN)),
                w=6,
            ),
            stat(
                "Battery temperature now",
                newest("dc_power", "battery_temp", where=PLACE),
                unit="celsius",
                decimals=1,
                thresholds=fault_steps("dc-power-48v", "battery_temp"),
                w=6,
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
