"""``/api/v1/devices``: devices and their newest values."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path

from api.auth import Viewer
from api.live import LiveDevice
from api.schemas import DeviceLatest, DeviceSummary, problems
from api.services import ServicesDep
from facmon.types import SLUG_MAX, SLUG_PATTERN
from storage.records import DeviceLatest as StoredLatest
from storage.sink import SinkError

router = APIRouter(prefix="/api/v1/devices", tags=["devices"], dependencies=[Viewer])

DeviceId = Annotated[
    str, Path(pattern=SLUG_PATTERN, max_length=SLUG_MAX, description="Device id (slug)")
]


@router.get("", response_model=list[DeviceSummary])
async def list_devices(services: ServicesDep) -> list[DeviceSummary]:
    """List the devices seen live on the broker, by id."""
    live = services.live
    return [
        DeviceSummary(device=d.device, site=d.site, gateway=d.gateway, state=d.state, ts=d.ts)
        for d in sorted(live.devices.values(), key=lambda d: d.device)
    ]


@router.get(
    "/{device}/latest",
    response_model=DeviceLatest,
    responses=problems(404, 503),
)
async def latest(device: DeviceId, services: ServicesDep) -> DeviceLatest:
    """Return the newest values of a device: live from the broker, else read back from the store."""
    live = services.live.devices.get(device)
    if live is not None and live.ts is not None:
        return _public(live, live.ts, live.state, "live")
    try:
        stored = await services.reader.latest(device)
    except SinkError as exc:
        raise HTTPException(503, f"the telemetry store cannot be read: {exc}") from None
    if stored is None:
        raise HTTPException(404, f"no readings for device {device!r} yet")
    return _public(stored, stored.ts, live.state if live else None, "store")


def _public(
    newest: LiveDevice | StoredLatest, ts: int, state: str | None, source: Literal["live", "store"]
) -> DeviceLatest:
    return DeviceLatest(
        device=newest.device,
        site=newest.site,
        gateway=newest.gateway,
        measurement=newest.measurement,
        ts=ts,
        time=datetime.fromtimestamp(ts / 1000, UTC),
        seq=newest.seq,
        values=newest.values,
        quality=newest.quality,
        state=state,
        source=source,
    )
