"""``/api/v1/bindings``: which device speaks for which asset, from when to when."""

from api.records import BindingIn, BindingOut
from api.registry.models import Asset, Binding
from api.resource import resource

crud = resource(
    "bindings",
    Binding,
    BindingIn,
    out=BindingOut,
    parents={"asset_id": (Asset, "asset")},
    filters=("asset_id", "device"),
    sortable=("id", "effective_from"),
)
"""List, get, create, change and delete bindings."""
