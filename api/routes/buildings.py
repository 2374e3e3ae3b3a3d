"""``/api/v1/buildings``: the buildings of each site."""

from api.records import BuildingIn
from api.registry.models import Building, Site
from api.resource import resource

crud = resource(
    "buildings",
    Building,
    BuildingIn,
    parents={"site_id": (Site, "site")},
    filters=("site_id",),
    search=("name",),
)
"""List, get, create, change and delete buildings."""
