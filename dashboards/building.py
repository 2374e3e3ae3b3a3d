"""Building drill-down: site → building → room → device, and the chosen devices' readings."""

# InfluxQL for Grafana, built from constants: no input reaches it.
# ruff: noqa: S608

from __future__ import annotations

from dashboards import variables
from dashboards.influxql import LAST_STATE_WINDOW, TIME_FILTER, matches
from dashboards.mappings import ON_OFF
from dashboards.panel_groups import count_stat, device_states, room_humidity
from dashboards.panels import (
    Influx,
    bar_gauge,
    means,
    row,
    state_timeline,
    states,
    timeseries,
)
from dashboards.render import GDashboard, facmon_dashboard
from dashboards.thresholds import BLUE, ORANGE, RED, fault_steps, steps

PLACE = matches("site", "building", "room", "device")


def _energy(field: str, measurements: str) -> Influx:
    """Energy per device in the time range, from an energy counter."""
    return Influx(
        f'SELECT spread("{field}") FROM {measurements} WHERE {TIME_FILTER} AND {PLACE} '
        'GROUP BY "device"',
        alias="$tag_device",
    )


def dashboard() -> GDashboard:
    """Return the building drill-down dashboard (``facmon-building``)."""
    return facmon_dashboard(
        name="building",
        title="Building drill-down · 楼宇详情",
        description="Choose a site, building, room and devices; see their state and readings.",
        variables=[variables.site(), variables.building(), variables.room(), variables.device()],
        alert_filter=PLACE,
        panels=[
            row("Devices 设备"),
            device_states(
                "Device status",
                'SELECT last("state") AS "state", "building", "room", "error" '
                f'FROM "facmon_states" WHERE {LAST_STATE_WINDOW} AND {PLACE} GROUP BY "device"',
                sort_by=("state", True),
                description="The newest communication state of each chosen device.",
                w=16,
            ),
            count_stat(
                "Devices offline",
                'SELECT count("state") FROM (SELECT last("state") AS "state" '
                f'FROM "facmon_states" WHERE {LAST_STATE_WINDOW} AND {PLACE} GROUP BY "device") '
                "WHERE \"state\" = 'offline'",
                alarm=RED,
                h=8,
            ),
            count_stat(
                "Open alerts",
                'SELECT count("summary") FROM (SELECT last("summary") AS "summary", "state" '
                f'FROM "facmon_alerts" WHERE {LAST_STATE_WINDOW} AND {PLACE} GROUP BY "id") '
                "WHERE \"state\" != 'resolved'",
                alarm=ORANGE,
                description="Alerts on the chosen devices (or places) not yet resolved.",
                h=8,
            ),
            row("Climate 温湿度"),
            timeseries(
                "Temperature",
                means("environment", "temperature", where=PLACE),
                means("office_ac", "room_temp", where=PLACE),
                unit="celsius",
                thresholds=fault_steps("th-sensor", "temperature"),
                description="Temperature sensors and the room sensors of the office AC units.",
            ),
            room_humidity(PLACE),
            row("Power 用电"),
            timeseries(
                "Metered power",
                means("power_meter", "active_power_kw", where=PLACE),
                unit="kwatt",
                minimum=0,
                w=8,
            ),
            timeseries(
                "Equipment power",
                means("office_ac", "power_w", where=PLACE),
                means("lighting", "total_power_w", where=PLACE),
                means("av", "power_w", where=PLACE),
                unit="watt",
                minimum=0,
                description="Office AC units, lighting circuits and meeting-room AV.",
                w=8,
            ),
            bar_gauge(
                "Energy in the time range",
                _energy("import_energy_kwh", '"power_meter"'),
                _energy("energy_kwh", '"office_ac", "lighting"'),
                unit="kwatth",
                thresholds=steps(BLUE),
                description="Increase of each energy counter over the dashboard's time range.",
            ),
            row("Meeting rooms 会议室"),
            state_timeline(
                "Occupancy and projector",
                states("av", "room_occupied", "projector_power", where=PLACE),
                mappings=ON_OFF,
                w=24,
            ),
        ],
    )
