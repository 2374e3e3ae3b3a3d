"""``geofence``: a vehicle leaving (or entering) a polygon of latitude/longitude corners."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import Field, model_validator

from api.alerts.calendar import Calendar
from api.alerts.checks import Check, Held, Values
from api.alerts.kinds.base import RuleModel
from api.alerts.kinds.registry import RuleKind, Wording, register
from devices.profile import Profile
from facmon.types import Duration, Slug


class Geofence(RuleModel):
    """A vehicle leaving (or entering) a polygon of latitude/longitude corners."""

    kind: Literal["geofence"]
    name: str = Field(max_length=100)
    polygon: list[tuple[float, float]] = Field(min_length=3, max_length=1000)
    """Corners as [latitude, longitude]."""
    on: Literal["exit", "entry"] = "exit"
    latitude: Slug = "lat"
    longitude: Slug = "lon"
    for_s: Duration = Field(default=0.0, alias="for")

    @model_validator(mode="after")
    def _on_earth(self) -> Geofence:
        for index, (lat, lon) in enumerate(self.polygon):
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError(f"corner {index} ({lat}, {lon}) is not a latitude, longitude")
        return self


def _checks(
    rule: Geofence, labels: dict[str, str], calendar: Calendar, profile: Profile | None
) -> list[Check]:
    return [Held(rule, labels, calendar, _fence(rule), shown=(rule.latitude, rule.longitude))]


def _fence(rule: Geofence) -> Callable[[Values], bool | None]:
    corners = rule.polygon
    lat_name, lon_name, exit_ = rule.latitude, rule.longitude, rule.on == "exit"

    def outside(values: Values) -> bool | None:
        lat, lon = values.get(lat_name), values.get(lon_name)
        if not isinstance(lat, int | float) or not isinstance(lon, int | float):
            return None
        inside = _inside(float(lat), float(lon), corners)
        return not inside if exit_ else inside

    return outside


def _inside(lat: float, lon: float, corners: list[tuple[float, float]]) -> bool:
    """Ray casting: whether the point is inside the polygon."""
    inside = False
    j = len(corners) - 1
    for i, (lat_i, lon_i) in enumerate(corners):
        lat_j, lon_j = corners[j]
        if (lon_i > lon) != (lon_j > lon) and lat < (lat_j - lat_i) * (lon - lon_i) / (
            lon_j - lon_i
        ) + lat_i:
            inside = not inside
        j = i
    return inside


def _words(rule: Geofence, said: Wording) -> str:
    said.fields["name"] = rule.name
    return f"geofence_{rule.on}"


register(
    RuleKind(
        "geofence",
        Geofence,
        {
            "geofence_exit": {"en": "left {name}", "zh": "驶出 {name}"},
            "geofence_entry": {"en": "entered {name}", "zh": "驶入 {name}"},
        },
        checks=_checks,
        words=_words,
        points=lambda rule: (rule.latitude, rule.longitude),
    )
)
