"""The estate as the registry and live state show it: assets with their status.

Also what is bound to each asset now, its open work orders and its open alerts: what the
asset and room files and the summary share (the status itself is derived by
:mod:`api.status`). The list of every asset is answered from a snapshot instead
(:mod:`api.snapshot`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.alerts.kinds.registry import shown
from api.live import LiveDevice
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
from api.status import Language, OpenOrder, Status, derive
from devices.profile import Profile

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


class AlertReading(BaseModel):
    """A point an alert is about: its value when the alert fired, and its value now.

    An alert's summary is written once, when it fires ("speed 104 km/h"); this says what
    the device reads now beside it.
    """

    point: str
    unit: str = Field(description="The point's unit, as the device's profile gives it ('' if none)")
    at_firing: bool | int | float | str = Field(description="The value when the alert fired")
    now: bool | int | float | str | None = Field(
        description="The device's newest value; null while not heard since the API started"
    )
    now_ts: int | None = Field(description="When the newest value was read, epoch milliseconds")


class AlertReadings(BaseModel):
    """An alert's points at firing and now, and the same said in English and Chinese."""

    readings: list[AlertReading] = Field(
        description="The points the alert is about, each at firing and now"
    )
    readings_text: str = Field(description='For example "at firing 104 km/h · now 45 km/h"')
    readings_text_zh: str = Field(description="For example 「触发时 104 km/h · 当前 45 km/h」")


def alert_readings(
    values: Mapping[str, Any], live: LiveDevice | None, profile: Profile | None
) -> list[AlertReading]:
    """The alert's ``values`` that are points of its device, each at firing and now.

    A value is a point when the device's profile names it (a point or a flag) or the device
    reports it; the rest (a silence's length, an event's card) have no "now".
    """
    units = {p.name: p.unit for p in profile.points} if profile is not None else {}
    named = set(units)
    if profile is not None:
        named |= {flag.name for p in profile.points for flag in p.flags.values()}
    newest = live.values if live is not None else {}
    return [
        AlertReading(
            point=point,
            unit=units.get(point, ""),
            at_firing=value,
            now=newest.get(point),
            now_ts=live.ts if live is not None and point in newest else None,
        )
        for point, value in values.items()
        if (point in named or point in newest) and isinstance(value, bool | int | float | str)
    ]


_SAID = {
    "en": {"at_firing": "at firing", "now": "now", "none": "no reading yet", True: "yes",
           False: "no", "and": " · ", "between": "; ", "named": ": "},
    "zh": {"at_firing": "触发时", "now": "当前", "none": "暂无读数", True: "是", False: "否",
           "and": " · ", "between": "，", "named": "："},
}  # fmt: skip


def readings_text(readings: list[AlertReading], language: Language) -> str:
    """The readings in words: ``at firing 104 km/h · now 45 km/h`` ('' when none).

    With several points each is named: ``lat: at firing 30.66 · now 30.5; lon: ...``
    (``lat：触发时 30.66 · 当前 30.5，lon：…``).
    """
    said = _SAID[language]

    def value(reading: AlertReading, value: bool | float | str | None) -> str:
        if value is None:
            return str(said["none"])
        if isinstance(value, bool):
            return str(said[value])
        return f"{shown(value)} {reading.unit}".rstrip()

    lines = [
        f"{said['at_firing']} {value(r, r.at_firing)}{said['and']}{said['now']} {value(r, r.now)}"
        for r in readings
    ]
    if len(readings) > 1:
        lines = [f"{r.point}{said['named']}{line}" for r, line in zip(readings, lines, strict=True)]
    return str(said["between"]).join(lines)


def readings_of(services: Services, alert: Alert) -> AlertReadings:
    """The alert's points at firing and as its device reads them now, said in en and zh."""
    live = services.live.devices.get(alert.labels.get("device", ""))
    name = alert.labels.get("profile") or (live.profile if live is not None else None)
    profiles = services.alerting.engine.profiles if services.alerting is not None else {}
    found = alert_readings(alert.values, live, profiles.get(name) if name else None)
    return AlertReadings(
        readings=found,
        readings_text=readings_text(found, "en"),
        readings_text_zh=readings_text(found, "zh"),
    )


class OpenAlert(AlertReadings):
    """An alert not resolved yet, with its points at firing and now."""

    id: str
    state: str
    severity: str
    rule: str
    summary: str = Field(description="Written when it fired")
    summary_zh: str
    started_at: datetime
    device: str | None


async def open_alerts(
    session: AsyncSession, label: Literal["asset", "room"], value: str, services: Services
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
            **dict(readings_of(services, a)),
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
