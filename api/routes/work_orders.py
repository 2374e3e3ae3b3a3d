"""``/api/v1/work_orders``: maintenance jobs on assets (operators may change them)."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from api.auth import Operator
from api.records import WorkOrderIn, WorkOrderOut, closing
from api.registry.models import Asset, WorkOrder
from api.resource import resource
from api.schemas import invalid


def _closing(
    stored: Mapping[str, Any] | None, values: dict[str, Any], now: datetime
) -> dict[str, Any]:
    try:
        return closing(stored, values, now)
    except ValueError as exc:
        raise invalid("body", "closed_at", str(exc)) from None


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
    before_write=_closing,
)
"""List, get, create, change and delete work orders."""
