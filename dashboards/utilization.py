"""Utilization: hours in use per category, per day, and the equipment that stands idle."""

# InfluxQL for Grafana, built from constants: no input reaches it.
# ruff: noqa: S608

from __future__ import annotations

from dashboards import variables
from dashboards.influxql import LOCAL_TIME, TIME_FILTER, matches
from dashboards.panels import (
    Influx,
    bar_chart,
    bar_gauge,
    hidden,
    override,
    pie_chart,
    row,
    table,
    thresholds_cells,
    timeseries,
)
from dashboards.render import GDashboard, facmon_dashboard
from dashboards.thresholds import GREEN, ORANGE, RED, steps

PLACE = matches("site", "building", "category")

UTILIZATION = steps(RED, (5, ORANGE), (20, GREEN))
"""In use under 5 % of the observed time is idle; under 20 % worth a look."""

RATIO = 'sum("in_use_h") / sum("observed_h") * 100'
"""Hours in use as a percentage of the hours observed."""


def _usage(select: str, by: str) -> str:
    """``select`` over the daily usage points in the time range, per ``by``."""
    return f'SELECT {select} FROM "facmon_usage" WHERE {TIME_FILTER} AND {PLACE} GROUP BY {by}'


def dashboard() -> GDashboard:
    """Return the utilization dashboard (``facmon-utilization``)."""
    return facmon_dashboard(
        name="utilization",
        title="Utilization · 设备利用率",
        description="Hours in use by category and per day, and the least used equipment.",
        time_from="now-30d",
        refresh="15m",
        variables=[
            variables.site(),
            variables.building(),
            variables.tag_values(
                "category",
                "Category 类别",
                within=("site", "building"),
                measurements=("facmon_usage",),
            ),
        ],
        alert_filter=matches("site", "building"),
        panels=[
            row("By category 按类别"),
            bar_chart(
                "Hours in use by category",
                Influx(
                    _usage(
                        'sum("in_use_h") AS "in use", sum("observed_h") AS "observed"', '"category"'
                    ),
                    table=True,
                ),
                unit="h",
                x_field="category",
                description="Hours in use and hours observed, summed over the assets.",
            ),
            bar_gauge(
                "Utilization by category",
                Influx(_usage(RATIO, '"category"'), alias="$tag_category"),
                unit="percent",
                thresholds=UTILIZATION,
                maximum=100,
                description="Hours in use as a share of the hours observed.",
                w=6,
            ),
            pie_chart(
                "Share of hours in use",
                Influx(_usage('sum("in_use_h")', '"category"'), alias="$tag_category"),
                unit="h",
                w=6,
            ),
            timeseries(
                "Hours in use per day",
                Influx(
                    _usage('sum("in_use_h")', f'time(1d), "category" fill(0) {LOCAL_TIME}'),
                    alias="$tag_category",
                ),
                unit="h",
                bars=True,
                stack=True,
                description="One bar per local day, stacked by category.",
                w=24,
            ),
            row("Idle equipment 闲置设备"),
            table(
                "Idle equipment",
                Influx(
                    _usage(
                        f'{RATIO} AS "utilization", sum("in_use_h") AS "in use", '
                        'sum("observed_h") AS "observed"',
                        '"asset", "category", "building", "room", "device"',
                    ),
                    table=True,
                ),
                overrides=[
                    hidden("Time"),
                    thresholds_cells("utilization", UTILIZATION, unit="percent", background=True),
                    override("in use", {"unit": "h", "decimals": 1}),
                    override("observed", {"unit": "h", "decimals": 1}),
                ],
                sort_by=("utilization", False),
                description="Every asset, least used first, over the time range.",
                w=24,
                h=12,
            ),
        ],
    )
