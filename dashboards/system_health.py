"""System health: are the gateways polling and publishing, is the collector keeping up."""

# InfluxQL for Grafana, built from constants: no input reaches it.
# ruff: noqa: S608

from __future__ import annotations

from dashboards import variables
from dashboards.influxql import LAST_STATE_WINDOW, TIME_FILTER, matches, series
from dashboards.panels import (
    GPanel,
    Influx,
    newest,
    override,
    row,
    stat,
    table,
    thresholds_cells,
    timeseries,
)
from dashboards.render import GDashboard, facmon_dashboard
from dashboards.thresholds import GREEN, ORANGE, RED, Step, steps

GATEWAYS = matches("site", "gateway")
COLLECTORS = matches("collector")

POLL_MS = steps(GREEN, (500, ORANGE), (1000, RED))
"""A poll cycle of a second or more is as long as the usual poll interval (overruns)."""
SPOOL = steps(GREEN, (100, ORANGE), (10_000, RED))
"""Messages waiting on a gateway for the broker; normally 0."""
LAG_S = steps(GREEN, (5, ORANGE), (30, RED))
"""Seconds from a reading to its storage."""


def _per_interval(counters: tuple[str, ...], measurement: str, where: str, by: str) -> Influx:
    """How much cumulative ``counters`` grew in each interval (restarts count from 0)."""
    select = ", ".join(f'non_negative_difference(last("{c}")) AS "{c}"' for c in counters)
    return Influx(series(select, measurement, where, by=f'"{by}"'), alias=f"$tag_{by} $col")


def _per_second(counters: tuple[str, ...], measurement: str, where: str, by: str) -> Influx:
    """The rate of cumulative ``counters``, per second."""
    select = ", ".join(f'non_negative_derivative(last("{c}"), 1s) AS "{c}"' for c in counters)
    return Influx(series(select, measurement, where, by=f'"{by}"'), alias=f"$tag_{by} $col")


def _gateway(select: str) -> Influx:
    return Influx(series(select, "gateway_health", GATEWAYS, by='"gateway"'), alias="$tag_gateway")


def _collector(select: str) -> Influx:
    return Influx(
        series(select, "facmon_collector", COLLECTORS, by='"collector"'), alias="$tag_collector"
    )


def _collector_now(field: str) -> Influx:
    return newest("facmon_collector", field, where=COLLECTORS, by="collector")


def _collector_total(field: str) -> str:
    """How much each collector's cumulative ``field`` grew in the time range."""
    return (
        f'SELECT spread("{field}") FROM "facmon_collector" WHERE {TIME_FILTER} '
        f'AND {COLLECTORS} GROUP BY "collector"'
    )


def _health(
    title: str,
    query: Influx,
    *,
    unit: str = "short",
    thresholds: list[Step] | None = None,
    description: str = "",
    w: int = 12,
) -> GPanel:
    """A time series of a health figure; none is ever below 0."""
    return timeseries(
        title, query, unit=unit, thresholds=thresholds, minimum=0, description=description, w=w
    )


def dashboard() -> GDashboard:
    """Return the system health dashboard (``facmon-system-health``)."""
    return facmon_dashboard(
        name="system-health",
        title="System health · 系统运行",
        description="Gateway polling, errors and spool; collector throughput, lag and backlog.",
        time_from="now-3h",
        refresh="30s",
        variables=[
            variables.site(),
            variables.tag_values(
                "gateway", "Gateway 网关", within=("site",), measurements=("gateway_health",)
            ),
            variables.tag_values(
                "collector", "Collector 采集器", measurements=("facmon_collector",)
            ),
        ],
        panels=[
            row("Gateways 网关"),
            table(
                "Gateways",
                Influx(
                    'SELECT last("poll_ms") AS "poll_ms", "devices_online", "devices_degraded", '
                    '"devices_offline", "spool_depth", "dropped", "uplink_reconnects" '
                    f'FROM "gateway_health" WHERE {LAST_STATE_WINDOW} AND {GATEWAYS} '
                    'GROUP BY "gateway"',
                    table=True,
                ),
                overrides=[
                    override("Time", {"displayName": "Last report"}),
                    thresholds_cells("poll_ms", POLL_MS, unit="ms"),
                    thresholds_cells("devices_offline", steps(GREEN, (1, RED))),
                    thresholds_cells("devices_degraded", steps(GREEN, (1, ORANGE))),
                    thresholds_cells("spool_depth", SPOOL),
                ],
                sort_by=("gateway", False),
                description="Each gateway's newest report; an old one means a silent gateway.",
                w=24,
                h=6,
            ),
            _health(
                "Poll cycle",
                _gateway('mean("poll_ms")'),
                unit="ms",
                thresholds=POLL_MS,
                description="Mean time to poll all of a gateway's devices once.",
                w=8,
            ),
            _health(
                "Modbus errors and overruns",
                _per_interval(("errors", "overruns"), "gateway_health", GATEWAYS, "gateway"),
                description="Failed requests, and polls that started late, per interval.",
                w=8,
            ),
            _health(
                "Spool depth",
                _gateway('last("spool_depth")'),
                thresholds=SPOOL,
                description="Messages kept on the gateway until the broker takes them.",
                w=8,
            ),
            _health(
                "Published",
                _per_second(("published",), "gateway_health", GATEWAYS, "gateway"),
                unit="cps",
                description="Messages per second each gateway hands to the broker.",
                w=8,
            ),
            _health(
                "Dropped and reconnects",
                _per_interval(
                    ("dropped", "uplink_reconnects"), "gateway_health", GATEWAYS, "gateway"
                ),
                description="Messages dropped from a full spool; uplink reconnections.",
                w=8,
            ),
            _health(
                "Devices offline",
                _gateway('last("devices_offline")'),
                thresholds=steps(GREEN, (1, RED)),
                w=8,
            ),
            row("Collector 采集器"),
            stat(
                "Lag now",
                _collector_now("lag_s"),
                unit="s",
                decimals=1,
                thresholds=LAG_S,
                w=6,
            ),
            stat("Unacknowledged now", _collector_now("unacked"), w=6),
            stat("Stored in the time range", _collector_total("stored"), unit="short", w=6),
            stat(
                "Dead letters in the time range",
                _collector_total("dead_letters"),
                thresholds=steps(GREEN, (1, RED)),
                description="Messages the collector could not store and set aside.",
                w=6,
            ),
            _health(
                "Throughput",
                _per_second(("received", "stored"), "facmon_collector", COLLECTORS, "collector"),
                unit="cps",
                description="Messages received from the broker and records stored, per second.",
            ),
            _health(
                "Lag",
                _collector('mean("lag_s")'),
                unit="s",
                thresholds=LAG_S,
                description="Seconds from a reading's timestamp to its storage.",
            ),
            _health(
                "Unacknowledged messages",
                _collector('last("unacked")'),
                description="Messages taken from the broker and not yet stored.",
            ),
            _health(
                "Dead letters and retries",
                _per_interval(
                    ("dead_letters", "retries"), "facmon_collector", COLLECTORS, "collector"
                ),
                unit="short",
            ),
        ],
    )
