"""Where each device is and which assets are quiet, as the registry says (read for alerting).

The labels of a device (its asset, room, building, site and their names) go into every
alert of it; an asset under maintenance or with an open work order, and the silences in
force, keep its alerts quiet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.registry.models import (
    Asset,
    Binding,
    Building,
    Floor,
    Lifecycle,
    Room,
    Silence,
    Site,
    WorkOrder,
    WorkOrderStatus,
)


@dataclass
class RegistryView:
    """What alerting knows of the registry, as read last."""

    places: dict[str, dict[str, str]] = field(default_factory=dict)
    """Device → its labels (asset, asset_name, category, room, ..., registered_site)."""
    maintenance: dict[str, str] = field(default_factory=dict)
    """Asset → why its alerts are quiet (under maintenance, a work order open)."""
    silences: list[Silence] = field(default_factory=list)
    """The silences not ended yet."""


async def read_registry(sessions: async_sessionmaker[AsyncSession]) -> RegistryView:
    """Read where each bound device is, which assets are under maintenance, the silences."""
    now = datetime.now(UTC)
    async with sessions() as session:
        rows = await session.execute(
            select(
                Binding.device,
                Asset.id,
                Asset.name,
                Asset.category,
                Asset.lifecycle,
                Asset.meter_parent,
                Room.id,
                Room.name,
                Room.kind,
                Floor.id,
                Building.id,
                Building.name,
                Site.id,
                Site.name,
            )
            .join(Asset, Binding.asset_id == Asset.id)
            .outerjoin(Room, Asset.room_id == Room.id)
            .outerjoin(Floor, Room.floor_id == Floor.id)
            .outerjoin(Building, Floor.building_id == Building.id)
            .outerjoin(Site, Building.site_id == Site.id)
            .where(
                Binding.effective_from <= now,
                or_(Binding.effective_to.is_(None), Binding.effective_to > now),
            )
        )
        places: dict[str, dict[str, str]] = {}
        maintenance: dict[str, str] = {}
        for (
            device,
            asset,
            asset_name,
            category,
            lifecycle,
            meter_parent,
            room,
            room_name,
            room_kind,
            floor,
            building,
            building_name,
            site,
            site_name,
        ) in rows:
            places[device] = {
                k: v
                for k, v in {
                    "asset": asset,
                    "asset_name": asset_name,
                    "category": category,
                    "room": room,
                    "room_name": room_name,
                    "room_kind": room_kind,
                    "floor": floor,
                    "building": building,
                    "building_name": building_name,
                    "site_name": site_name,
                    "registered_site": site,
                    "meter_parent": meter_parent,
                }.items()
                if v
            }
            if lifecycle is Lifecycle.UNDER_MAINTENANCE:
                maintenance[asset] = f"asset {asset} is under maintenance"
        orders = await session.execute(
            select(WorkOrder.asset_id, WorkOrder.id).where(
                WorkOrder.status != WorkOrderStatus.CLOSED
            )
        )
        for asset, number in orders:
            maintenance.setdefault(asset, f"work order #{number} is open on {asset}")
        silences = list(await session.scalars(select(Silence).where(Silence.ends_at > now)))
    return RegistryView(places, maintenance, silences)
