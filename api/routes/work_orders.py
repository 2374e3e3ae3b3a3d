"""``/api/v1/work_orders``: maintenance jobs on assets (operators may change them)."""

from api.auth import Operator
from api.records import WorkOrderIn, WorkOrderOut
from api.registry.models import Asset, WorkOrder
from api.resource import resource

crud = resource(
    "work_orders",
    WorkOrder,
    WorkOrderIn,
    out=WorkOrderOut,
    parents={"asset_id": (Asset, "asset")},
    filters=("asset_id", "status", "assignee", "alert_id"),
    search=("title", "description"),
    sortable=("id", "opened_at", "closed_at", "status"),
    writer=Operator,
)
"""List, get, create, change and delete work orders."""
