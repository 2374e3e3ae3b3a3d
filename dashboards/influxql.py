"""Pieces of the raw InfluxQL (InfluxDB 1.x) that every dashboard's queries share.

The queries themselves are written out in full in each dashboard module, so that what a
panel asks InfluxDB can be read where the panel is defined; only the parts that must be
the same everywhere live here. Grafana replaces ``$timeFilter`` with the dashboard's time
range, ``$__interval`` with the bucket width for the panel's size, and ``$name`` with the
selected values of template variable ``name`` as a regex (``(a|b)``, or ``.*`` for All).
"""

# InfluxQL for Grafana, built from constants: no input reaches it.
# ruff: noqa: S608

from __future__ import annotations

TIME_FILTER = "$timeFilter"
"""The dashboard's (or the panel's) time range."""

LAST_STATE_WINDOW = "time > now() - 30d"
"""How far back to look for the newest state of something (a device's communication state,
an alert's last transition): a state may not have changed for days, so the dashboard's
time range would miss it."""

BY_INTERVAL = "time($__interval)"
"""A ``GROUP BY`` bucket as wide as Grafana's interval for the panel."""

SITE_TIMEZONE = "Asia/Shanghai"
"""The sites' local time, for buckets that must start at local midnight or 08:00 (days,
day and night). It is the registry's default site timezone; InfluxDB reads it from the
server's tz database."""

LOCAL_TIME = f"tz('{SITE_TIMEZONE}')"
"""The clause that aligns ``GROUP BY time()`` buckets to :data:`SITE_TIMEZONE`."""

MAIN_METERS = "\"meter_parent\" = ''"
"""Only the top of each metering tree: the meters with no meter upstream of them.

A sub-meter's energy is part of its parent's, so a total over every meter would count it
twice; the collector tags a sub-meter's rows with ``meter_parent`` (its parent's asset,
from the registry), a main meter has no such tag, and InfluxQL takes an absent tag as ``''``.
"""


def matches(*tags: str, **renamed: str) -> str:
    """Return the conditions that keep the rows selected by template variables.

    ``matches("site", "building")`` gives ``"site" =~ /^$site$/ AND "building" =~
    /^$building$/``; ``matches(device="vehicle")`` tests tag ``device`` against variable
    ``$vehicle``. A row without the tag has it empty, which only ``All`` (``.*``) keeps.
    """
    pairs = [(tag, tag) for tag in tags] + list(renamed.items())
    return " AND ".join(f'"{tag}" =~ /^${variable}$/' for tag, variable in pairs)


def series(
    select: str, measurement: str, where: str, by: str = '"device"', fill: str = "null"
) -> str:
    """Return a time series query: ``select`` per :data:`BY_INTERVAL` bucket and ``by``.

    Args:
        select: the selected aggregates, e.g. ``mean("temperature") AS "temperature"``.
        measurement: the measurement to read.
        where: conditions besides the time range (usually from :func:`matches`).
        by: the tags that split the series, quoted and comma-separated.
        fill: what an empty bucket holds: ``null`` (a gap), or ``previous`` for states.
    """
    return (
        f'SELECT {select} FROM "{measurement}" WHERE {TIME_FILTER} AND {where} '
        f"GROUP BY {BY_INTERVAL}, {by} fill({fill})"
    )


def regex_of(values: tuple[str, ...]) -> str:
    """Return an InfluxQL regex literal matching exactly one of ``values``."""
    return "/^(" + "|".join(values) + ")$/"
