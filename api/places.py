"""Where things are: the place filter of lists (site, building, room) and a record's location."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from api.registry.models import Building, Floor, Room, Site

PlaceId = Annotated[str | None, Query(max_length=64)]
"""The id of a site, building or room a list is narrowed to."""


@dataclass(frozen=True, slots=True)
class PlaceFilter:
    """The site, building and room a list is narrowed to (None: any)."""

    site: str | None
    building: str | None
    room: str | None

    def admits(self, site: str | None, building: str | None, room: str | None) -> bool:
        """Whether something at ``site``, ``building`` and ``room`` is in the list."""
        return (
            (self.site is None or site == self.site)
            and (self.building is None or building == self.building)
            and (self.room is None or room == self.room)
        )

    def conditions(
        self,
        site: InstrumentedAttribute[str | None],
        building: InstrumentedAttribute[str | None],
        room: InstrumentedAttribute[str | None],
    ) -> list[ColumnElement[bool]]:
        """The SQL conditions of this filter on the columns holding the place."""
        wanted = [(site, self.site), (building, self.building), (room, self.room)]
        return [column == value for column, value in wanted if value is not None]


def place_filter(
    site: PlaceId = None, building: PlaceId = None, room: PlaceId = None
) -> PlaceFilter:
    """The place a list route is narrowed to, from its query parameters."""
    return PlaceFilter(site, building, room)


PlaceQuery = Annotated[PlaceFilter, Depends(place_filter)]
"""A list route's parameter receiving the place filter."""


class Place(BaseModel):
    """One level of where an asset is."""

    id: str
    name: str


class Location(BaseModel):
    """Where an asset is: each level, or null while it is not placed."""

    site: Place | None = None
    building: Place | None = None
    floor: Place | None = None
    room: Place | None = None


async def location(session: AsyncSession, room_id: str | None) -> Location:
    """Where the room ``room_id`` is, and the room itself (empty for no room)."""
    if room_id is None:
        return Location()
    room = await session.get(Room, room_id)
    floor = await session.get(Floor, room.floor_id) if room else None
    building = await session.get(Building, floor.building_id) if floor else None
    site = await session.get(Site, building.site_id) if building else None
    return Location(
        site=Place(id=site.id, name=site.name) if site else None,
        building=Place(id=building.id, name=building.name) if building else None,
        floor=Place(id=floor.id, name=floor.name) if floor else None,
        room=Place(id=room.id, name=room.name) if room else None,
    )
