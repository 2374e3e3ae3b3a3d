"""Site overview: is everything online, what needs attention, how much energy today."""

# InfluxQL for Grafana, built from constants: no input reaches it.
# ruff: noqa: S608

from __future__ import annotations

from dashboards import variables
from dashboards.influxql import BY_INTERVAL, LAST_STATE_WINDOW, MAIN_METERS, TIME_FILTER, matches
from dashboards.mappings import ALERT_STATES, SEVERITIES
from dashboards.panel_groups import count_stat, device_states
from dashboards.panels import (
    Influx,
    coloured_cells,
    override,
    row,
    series_colour,
    stat,
    table,
    timeseries,
)
from dashboards.render import GDashboard, facmon_dashboard
from dashboards.thresholds import GREEN, ORANGE, RED, SEVERITY_COLOURS, steps

SITE = matches("site")


def _devices(field: str) -> str:
    """Devices in one state: the newest count of each gateway, summed over the gateways."""
    return (
        f'SELECT sum("n") FROM (SELECT last("{field}") AS "n" FROM "gateway_health" '
        f'WHERE {TIME_FILTER} AND {SITE} GROUP BY "gateway")'
    )


def _open_alerts(condition: str = "") -> str:
    """Alerts whose last transition (per alert id) is not ``resolved``."""
    return (
        'SELECT count("summary") FROM (SELECT last("summary") AS "summary", "state", "severity" '
        f'FROM "facmon_alerts" WHERE {LAST_STATE_WINDOW} AND {SITE} GROUP BY "id") '
        f"WHERE \"state\" != 'resolved'{condition}"
    )


def dashboard() -> GDashboard:
    """Return the site overview dashboard (``facmon-site-overview``)."""
    return facmon_dashboard(
        name="site-overview",
        title="Site overview · 站点总览",
        description="Devices by status, open alerts, offline devices and energy today.",
        variables=[variables.site()],
        panels=[
            row("Status 状态"),
            stat(
                "Devices online",
                _devices("devices_online"),
                thresholds=steps(GREEN),
                description="Devices their gateways poll successfully (newest gateway reports).",
            ),
            stat(
                "Devices degraded",
                _devices("devices_degraded"),
                thresholds=steps(GREEN, (1, ORANGE)),
            ),
            stat("Devices offline", _devices("devices_offline"), thresholds=steps(GREEN, (1, RED))),
            count_stat(
                "Open alerts",
                _open_alerts(),
                alarm=ORANGE,
                description="Alerts firing or acknowledged, not yet resolved (last 30 days).",
            ),
            count_stat(
                "Critical alerts open", _open_alerts(" AND \"severity\" = 'critical'"), alarm=RED
            ),
            stat(
                "Energy today",
                'SELECT sum("kwh") FROM (SELECT spread("import_energy_kwh") AS "kwh" '
                f'FROM "power_meter" WHERE {TIME_FILTER} AND {SITE} AND {MAIN_METERS} '
                'GROUP BY "device")',
                unit="kwatth",
                decimals=0,
                time_from="now/d",
                description="Energy imported since midnight, summed over the main meters.",
            ),
            row("Needs attention 需要关注"),
            device_states(
                "Devices offline or degraded",
                'SELECT "state", "building", "room", "error" FROM (SELECT last("state") '
                'AS "state", "error", "building", "room" FROM "facmon_states" '
                f'WHERE {LAST_STATE_WINDOW} AND {SITE} GROUP BY "device") '
                'WHERE "state" != \'online\' GROUP BY "device"',
                sort_by=("Since", True),
                description="Each device whose newest communication state is not online.",
                h=9,
            ),
            table(
                "Open alerts, newest first",
                Influx(
                    'SELECT "severity", "state", "rule", "device", "summary" FROM (SELECT '
                    'last("summary") AS "summary", "state", "severity", "rule", "device" '
                    f'FROM "facmon_alerts" WHERE {LAST_STATE_WINDOW} AND {SITE} GROUP BY "id") '
                    "WHERE \"state\" != 'resolved'",
                    table=True,
                ),
                overrides=[
                    coloured_cells("severity", SEVERITIES),
                    coloured_cells("state", ALERT_STATES),
                    override("Time", {"displayName": "Changed"}),
                ],
                sort_by=("Changed", True),
                description="Each alert whose last transition is firing or acknowledged.",
                h=9,
            ),
            row("Trends 趋势"),
            timeseries(
                "Devices by status",
                Influx(
                    'SELECT sum("online") AS "online", sum("degraded") AS "degraded", '
                    'sum("offline") AS "offline" FROM (SELECT last("devices_online") AS "online", '
                    'last("devices_degraded") AS "degraded", last("devices_offline") AS "offline" '
                    f'FROM "gateway_health" WHERE {TIME_FILTER} AND {SITE} '
                    f'GROUP BY {BY_INTERVAL}, "gateway") WHERE {TIME_FILTER} '
                    f"GROUP BY {BY_INTERVAL} fill(null)",
                    alias="$col",
                ),
                unit="short",
                minimum=0,
                stack=True,
                overrides=[
                    series_colour("online", GREEN),
                    series_colour("degraded", ORANGE),
                    series_colour("offline", RED),
                ],
                w=8,
            ),
            timeseries(
                "Power per building",
                Influx(
                    'SELECT sum("kw") FROM (SELECT mean("active_power_kw") AS "kw" '
                    f'FROM "power_meter" WHERE {TIME_FILTER} AND {SITE} AND {MAIN_METERS} '
                    f'GROUP BY {BY_INTERVAL}, "device", "building") WHERE {TIME_FILTER} '
                    f'GROUP BY {BY_INTERVAL}, "building" fill(null)',
                    alias="$tag_building",
                ),
                unit="kwatt",
                minimum=0,
                description="Active power of the main meters, summed per building.",
                w=8,
            ),
            timeseries(
                "Alerts raised",
                Influx(
                    'SELECT count("summary") FROM "facmon_alerts" '
                    f"WHERE {TIME_FILTER} AND {SITE} AND \"state\" = 'firing' "
                    f'GROUP BY {BY_INTERVAL}, "severity" fill(null)',
                    alias="$tag_severity",
                ),
                unit="short",
                bars=True,
                stack=True,
                interval="1m",
                overrides=[series_colour(s, c) for s, c in SEVERITY_COLOURS.items()],
                w=8,
            ),
        ],
    )
