"""``/api/v1/sites``: the campuses and substations of the registry."""

from api.records import SiteIn
from api.registry.models import Site
from api.resource import resource

crud = resource("sites", Site, SiteIn, parents={}, search=("name", "address"))
"""List, get, create, change and delete sites."""
