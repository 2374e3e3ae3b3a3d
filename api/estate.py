"""The estate as the registry and live state show it: assets with their status.

Also what is bound to each asset now, its open work orders and its open alerts: what the
asset and room files and the summary share (the status itself is derived by
:mod:`api.status`). The list of every asset is answered from a snapshot instead
(:mod:`api.snapshot`).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.records import AssetIn, columns
from api.registry.models import (
    Alert,
    AlertState,
    Asset,
    Binding,
    Building,
    Floor,
    Room,
    WorkOrder,
    WorkOrderStatus,
)
from api.services import Services
from api.status import OpenOrder, Status, derive

PART = 500
"""Rows read at a time from the registry when reading all of them."""
HISTORY = 20
"""Work orders shown in a file, newest first."""


class AssetSummary(BaseModel):
    """An asset in a list: its record, where it is and its status."""

    asset: AssetIn
    site_id: str | None
    building_id: str | None
    status: Status
    reason: str


class OpenAlert(BaseModel):
    """An alert not resolved yet."""

    id: str
    state: str
    severity: str
    rule: str
    summary: str
    summary_zh: str
    started_at: datetime
    device: str | None


async def open_alerts(
    session: AsyncSession, label: Literal["asset", "room"], value: str
) -> list[OpenAlert]:
    """The open alerts of an asset or a room, newest first."""
    column = Alert.asset if label == "asset" else Alert.room
    rows = await session.scalars(
        select(Alert)
        .where(column == value, Alert.state != AlertState.RESOLVED)
        .order_by(Alert.started_at.desc())
    )
    return [
        OpenAlert(
            id=a.id,
            state=a.state.value,
            severity=a.severity,
            rule=a.rule,
            summary=a.summary,
            summary_zh=a.summary_zh,
            started_at=a.started_at,
            device=a.labels.get("device") or None,
        )
        for a in rows
    ]


def placed_assets() -> Select[Asset, str | None, str | None]:
    """Assets with their building and site (None while not placed)."""
    return (
        select(Asset, Building.id, Building.site_id)
        .outerjoin(Room, Asset.room_id == Room.id)
        .outerjoin(Floor, Room.floor_id == Floor.id)
        .outerjoin(Building, Floor.building_id == Building.id)
    )


async def summaries(
    services: Services, query: Select[Asset, str | None, str | None]
) -> list[AssetSummary]:
    """Run ``query`` (from :func:`placed_assets`) and give each asset its status."""
    async with services.sessions() as session:
        rows = (await session.execute(query)).all()
        devices = await bound_now(session, datetime.now(UTC))
        orders = await open_orders(session)
    live, now_ms = services.live, int(time.time() * 1000)
    summaries = []
    for asset, building_id, site_id in rows:
        verdict = derive(
            asset.lifecycle.value,
            devices.get(asset.id, []),
            live.devices,
            live.gateways,
            orders.get(asset.id, []),
            now_ms,
            services.stale_after_s,
        )
        summaries.append(
            AssetSummary(
                asset=AssetIn.model_validate(columns(asset)),
                site_id=site_id,
                building_id=building_id,
                status=verdict.status,
                reason=verdict.reason,
            )
        )
    return summaries


def bound_at(now: datetime) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """The bindings in effect at ``now``."""
    return (
        Binding.effective_from <= now,
        or_(Binding.effective_to.is_(None), Binding.effective_to > now),
    )


async def bound_now(session: AsyncSession, now: datetime) -> dict[str, list[str]]:
    """The devices bound to each asset now."""
    rows = await session.stream(
        select(Binding.asset_id, Binding.device)
        .where(*bound_at(now))
        .order_by(Binding.effective_from)
    )
    bound: dict[str, list[str]] = {}
    async for part in rows.partitions(PART):
        for asset_id, device in part:
            bound.setdefault(asset_id, []).append(device)
    return bound


async def open_orders(session: AsyncSession) -> dict[str, list[OpenOrder]]:
    """The work orders not closed, by asset, newest first."""
    rows = await session.execute(
        select(WorkOrder.asset_id, WorkOrder.id, WorkOrder.title)
        .where(WorkOrder.status != WorkOrderStatus.CLOSED)
        .order_by(WorkOrder.opened_at.desc(), WorkOrder.id.desc())
    )
    orders: dict[str, list[OpenOrder]] = {}
    for asset_id, number, title in rows:
        orders.setdefault(asset_id, []).append(OpenOrder(number, title))
    return orders
