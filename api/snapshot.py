"""The asset list's snapshot: every asset with its status, as plain values.

Kept by the application's :class:`api.listing.Listing`, which says when it is recomputed.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from api.estate import PART, AssetSummary, bound_now, open_orders
from api.listing import Listing, asset_listing
from api.records import AssetIn
from api.registry.models import Asset, Building, Floor, Room
from api.services import Services
from api.status import OpenOrder, Verdict, derive


async def current_assets(app: FastAPI, *, settled: bool = False) -> tuple[int, list[Listed]]:
    """The asset list's current snapshot (see :mod:`api.listing`) and its generation.

    With ``settled``, one that is true now (:meth:`api.listing.Listing.settled`): for a
    first answer, such as the status page's first paint; without, possibly the previous
    snapshot while the next is made.
    """
    listing = asset_listing(app)
    services: Services = app.state.services
    version = services.live.version
    if settled:
        return await listing.settled(lambda: _snapshot(services, listing), version)
    return await listing.current(lambda: _snapshot(services, listing), version)


@dataclass(slots=True)
class Listed:
    """An asset in the list's snapshot: plain values; the answer's model is built per page."""

    columns: dict[str, Any]
    site_id: str | None
    building_id: str | None
    verdict: Verdict
    text: str

    def sort_key(self, field: str) -> tuple[bool, str]:
        """What ``sort=field`` orders by: values first, then the assets without one."""
        value = self.verdict.status if field == "status" else self.columns[field]
        return (value is None, str(value) if value is not None else "")

    def summary(self) -> AssetSummary:
        """The asset as a list shows it."""
        return AssetSummary(
            asset=AssetIn.model_validate(self.columns),
            site_id=self.site_id,
            building_id=self.building_id,
            status=self.verdict.status,
            reason=self.verdict.reason,
        )


@dataclass
class Ledger:
    """The registry's side of the list: assets with their place, bindings, open work."""

    rows: list[tuple[dict[str, Any], str | None, str | None, str]]
    devices: dict[str, list[str]]
    orders: dict[str, list[OpenOrder]]
    changes: int
    loaded_at: float


LEDGER_RELOAD_S = 60.0
"""How often the list re-reads an unchanged registry (edits made outside the API)."""


async def _ledger(services: Services, listing: Listing[Listed]) -> Ledger:
    """The registry rows, read again only after a change through the API or every minute."""
    kept: Ledger | None = getattr(listing, "ledger", None)
    if (
        kept is not None
        and kept.changes == listing.changes
        and time.monotonic() - kept.loaded_at < LEDGER_RELOAD_S
    ):
        return kept
    changes, started = listing.changes, time.monotonic()
    table = Asset.__table__
    query = (
        select(*table.columns, Building.id.label("building"), Building.site_id.label("site"))
        .select_from(table)
        .outerjoin(Room, table.c.room_id == Room.id)
        .outerjoin(Floor, Room.floor_id == Floor.id)
        .outerjoin(Building, Floor.building_id == Building.id)
        .order_by(table.c.id)
    )
    rows = []
    async with services.sessions() as session:
        # Streamed in parts: 10,000 rows read at once would hold up every request for
        # a fifth of a second.
        result = await session.stream(query)
        async for part in result.mappings().partitions(PART):
            for row in part:
                columns = {name: row[name] for name in AssetIn.model_fields}
                text = " ".join(
                    str(columns[k]).lower() for k in ("id", "name", "serial", "vendor", "model")
                )
                rows.append((columns, row["site"], row["building"], text))
            await asyncio.sleep(0)
        devices = await bound_now(session, datetime.now(UTC))
        orders = await open_orders(session)
    ledger = Ledger(rows, devices, orders, changes, started)
    listing.ledger = ledger
    return ledger


async def _snapshot(services: Services, listing: Listing[Listed]) -> tuple[list[Listed], float]:
    """Every asset, in id order, with its status (no model built), and how long that holds.

    Unless something happens, the statuses hold until the first bound device that is
    reporting would have been silent for ``stale_after_s`` (in seconds from now).
    """
    ledger = await _ledger(services, listing)
    live, now_ms = services.live, int(time.time() * 1000)
    stale_ms = services.stale_after_s * 1000
    newest = [
        device.ts
        for devices in ledger.devices.values()
        for name in devices
        if (device := live.devices.get(name)) is not None
        and device.ts is not None
        and now_ms - device.ts <= stale_ms
    ]
    holds_s = (min(newest) + stale_ms - now_ms) / 1000 + 0.001 if newest else float("inf")
    listed = []
    for index, (values, site, building, text) in enumerate(ledger.rows):
        if index % 1000 == 999:
            await asyncio.sleep(0)  # answer other requests meanwhile
        lifecycle = values["lifecycle"]
        verdict = derive(
            getattr(lifecycle, "value", lifecycle),
            ledger.devices.get(values["id"], []),
            live.devices,
            live.gateways,
            ledger.orders.get(values["id"], []),
            now_ms,
            services.stale_after_s,
        )
        listed.append(Listed(values, site, building, verdict, text))
    return listed, holds_s
