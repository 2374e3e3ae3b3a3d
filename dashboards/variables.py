"""Template variables: tag values from InfluxDB, multi-value, with All meaning any value.

Every variable is a query variable over the InfluxDB data source with raw InfluxQL
(``SHOW TAG VALUES``); the ones after the first are chained, each filtered by the
variables before it (building by site, room by building, device by room). ``All`` expands
to ``.*``, so that queries can always test ``"tag" =~ /^$name$/``, and keeps rows that lack
the tag (a device whose gateway does not say where it is).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, TypeAlias

from grafanalib import core as g

from dashboards.influxql import matches
from dashboards.panels import DATASOURCE
from devices.library import load_profile
from devices.profile import PROFILE_DIR

GTemplate: TypeAlias = Any
"""A grafanalib template variable (grafanalib has no type hints)."""

ALL = ".*"
"""What ``All`` expands to."""


def tag_values(
    name: str,
    label: str,
    *,
    key: str | None = None,
    within: Sequence[str] = (),
    measurements: Sequence[str] = (),
) -> GTemplate:
    """Return variable ``name``: the values of tag ``key`` (default ``name``).

    Args:
        name: the variable's name, used as ``$name`` in queries.
        label: what the dashboard shows next to it.
        key: the tag whose values are offered.
        within: earlier variables (named as their tags) that restrict the values.
        measurements: only these measurements' values (default: all measurements).
    """
    source = " FROM " + ", ".join(f'"{m}"' for m in measurements) if measurements else ""
    condition = " WHERE " + matches(*within) if within else ""
    return g.Template(
        name=name,
        label=label,
        query=f'SHOW TAG VALUES{source} WITH KEY = "{key or name}"{condition}',
        dataSource=DATASOURCE,
        multi=True,
        includeAll=True,
        allValue=ALL,
        regex="",
        refresh=g.REFRESH_ON_DASHBOARD_LOAD,
        sort=g.SORT_ALPHA_ASC,
    )


def site() -> GTemplate:
    """The site; every dashboard has it first."""
    return tag_values("site", "Site 站点")


def building() -> GTemplate:
    """Buildings of the selected sites."""
    return tag_values("building", "Building 楼宇", within=("site",))


def room() -> GTemplate:
    """Rooms of the selected buildings."""
    return tag_values("room", "Room 房间", within=("site", "building"))


def device() -> GTemplate:
    """Devices of the selected rooms: those with readings or a communication state.

    Only the equipment measurements and ``facmon_states`` are asked, so that gateways
    (``device`` of ``gateway_health``) are not offered, while a device that has been
    offline since it was installed is.
    """
    return tag_values(
        "device",
        "Device 设备",
        within=("site", "building", "room"),
        measurements=(*equipment_measurements(), "facmon_states"),
    )


@cache
def equipment_measurements() -> tuple[str, ...]:
    """Return the measurements of the shipped device profiles, sorted.

    Raises:
        devices.library.ProfileError: a shipped profile is invalid.
    """
    profiles = (load_profile(path) for path in sorted(PROFILE_DIR.glob("*.yaml")))
    return tuple(sorted({profile.measurement for profile in profiles}))
