"""Security: door events, denied swipes, entries after hours, forced doors and tampering."""

# InfluxQL for Grafana, built from constants: no input reaches it.
# ruff: noqa: S608

from __future__ import annotations

from dashboards import variables
from dashboards.influxql import TIME_FILTER, matches, regex_of
from dashboards.mappings import DOOR_STATES, FLAG, SEVERITIES, value_mappings
from dashboards.panel_groups import count_stat, event_totals
from dashboards.panels import (
    Influx,
    bar_chart,
    coloured_cells,
    event_counts,
    hidden,
    row,
    series_colour,
    state_timeline,
    states,
    table,
)
from dashboards.render import GDashboard, facmon_dashboard
from dashboards.thresholds import BLUE, GREEN, ORANGE, RED

PLACE = matches("site", "building", device="door")

DOOR_EVENTS = (
    ("access_granted", "granted", GREEN),
    ("access_denied", "denied", RED),
    ("door_forced", "forced", RED),
    ("door_held_open", "held open", ORANGE),
    ("door_closed", "closed", BLUE),
)
"""The event types of door controllers (``facmon_events``): how they read and their colour."""

EVENT_COLOURS = [series_colour(t, c) for t, _, c in DOOR_EVENTS]

AFTER_HOURS = "\"kind\" = 'access_after_hours' AND \"state\" = 'firing'"
"""Entries the alert engine judged outside working hours (its calendars know weekends,
holidays and make-up workdays; InfluxQL has no hour of day)."""


def _events(types: tuple[str, ...]) -> str:
    return f'{TIME_FILTER} AND {PLACE} AND "type" =~ {regex_of(types)}'


def dashboard() -> GDashboard:
    """Return the security dashboard (``facmon-security``)."""
    all_events = _events(tuple(t for t, _, _ in DOOR_EVENTS))
    denied = _events(("access_denied",))
    return facmon_dashboard(
        name="security",
        title="Security · 安防门禁",
        description="Door events, denied swipes, entries after hours, door state and tamper.",
        variables=[
            variables.site(),
            variables.building(),
            variables.tag_values(
                "door",
                "Door 门禁",
                key="device",
                within=("site", "building"),
                measurements=("access",),
            ),
        ],
        alert_filter=PLACE,
        panels=[
            row("Doors 门禁"),
            event_totals("Door events", all_events, EVENT_COLOURS),
            count_stat(
                "After-hours entries",
                f'SELECT count("summary") FROM "facmon_alerts" WHERE {TIME_FILTER} AND {PLACE} '
                f"AND {AFTER_HOURS}",
                alarm=ORANGE,
            ),
            count_stat(
                "Cards denied",
                f'SELECT count(distinct("card")) FROM "facmon_events" WHERE {denied}',
                alarm=RED,
                description="Different cards refused at least once in the time range.",
            ),
            count_stat(
                "Doors open now",
                'SELECT count("door") FROM (SELECT last("door_state") AS "door" FROM "access" '
                f'WHERE {TIME_FILTER} AND {PLACE} GROUP BY "device") WHERE "door" = \'open\'',
                alarm=ORANGE,
            ),
            event_counts("Door events over time", all_events, EVENT_COLOURS, w=24, h=7),
            row("Denials and after hours 拒绝与非工作时间"),
            table(
                "Denied swipes, newest first",
                Influx(
                    'SELECT "device", "reader", "card", "building", "room" FROM "facmon_events" '
                    f"WHERE {denied} ORDER BY time DESC LIMIT 500",
                    table=True,
                ),
                description="The newest 500 refused cards.",
            ),
            table(
                "After-hours entries, newest first",
                Influx(
                    'SELECT "device", "building", "room", "severity", "summary" '
                    f'FROM "facmon_alerts" WHERE {TIME_FILTER} AND {PLACE} AND {AFTER_HOURS} '
                    "ORDER BY time DESC LIMIT 500",
                    table=True,
                ),
                overrides=[coloured_cells("severity", SEVERITIES)],
                description="Entries outside the site's working calendar, as alerted.",
            ),
            table(
                "Forced and held-open doors",
                Influx(
                    'SELECT "type", "device", "reader", "card", "building", "room", "facmon_seq" '
                    f'FROM "facmon_events" WHERE {_events(("door_forced", "door_held_open"))} '
                    "ORDER BY time DESC LIMIT 500",
                    table=True,
                ),
                overrides=[
                    coloured_cells("type", value_mappings(*DOOR_EVENTS)),
                    hidden("facmon_seq"),
                ],
            ),
            bar_chart(
                "Denials per door",
                Influx(
                    f'SELECT count("facmon_seq") AS "denials" FROM "facmon_events" WHERE {denied} '
                    'GROUP BY "device"',
                    table=True,
                ),
                unit="short",
                x_field="device",
                overrides=[series_colour("denials", RED)],
            ),
            row("Door state 门状态"),
            state_timeline(
                "Door position",
                states("access", "door_state", where=PLACE),
                mappings=DOOR_STATES,
                w=16,
                h=8,
            ),
            state_timeline(
                "Tamper", states("access", "tamper", where=PLACE), mappings=FLAG, w=8, h=8
            ),
        ],
    )
