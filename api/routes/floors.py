"""``/api/v1/floors``: the floors of each building."""

from api.records import FloorIn
from api.registry.models import Building, Floor
from api.resource import resource

crud = resource(
    "floors",
    Floor,
    FloorIn,
    parents={"building_id": (Building, "building")},
    filters=("building_id",),
    sortable=("id", "name", "level"),
)
"""List, get, create, change and delete floors."""
