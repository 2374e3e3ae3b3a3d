"""Public response schemas of the API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import HTTPException, Request
from pydantic import BaseModel, Field


class Health(BaseModel):
    """Liveness, and whether the API is following the broker."""

    status: Literal["ok"] = "ok"
    version: str
    broker_connected: bool
    devices: int = Field(description="Devices seen on the broker since start")


class DeviceSummary(BaseModel):
    """A device as seen live on the broker."""

    device: str
    site: str
    gateway: str
    state: str | None
    ts: int | None = Field(description="Newest reading, epoch milliseconds")


class DeviceLatest(BaseModel):
    """The newest values of a device."""

    device: str
    site: str
    gateway: str
    measurement: str | None
    ts: int = Field(description="Time of the newest reading, epoch milliseconds")
    time: datetime = Field(description="The same time, ISO 8601 UTC")
    seq: int | None
    values: dict[str, bool | int | float | str]
    quality: dict[str, str] = Field(description="Points flagged bad or uncertain")
    state: str | None = Field(description="online, degraded or offline, as the gateway reports")
    source: Literal["live", "store"] = Field(description="live: from the broker; store: read back")


class Problem(BaseModel):
    """An error response."""

    detail: str


def invalid(where: str, field: str, message: str) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors, for checks a schema cannot state."""
    return HTTPException(422, [{"loc": [where, field], "msg": message, "type": "value_error"}])


async def read_body(request: Request, limit: int, what: str) -> bytes:
    """The request's body, refused with 413 past ``limit`` bytes (without reading it all)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"{what} may have at most {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
