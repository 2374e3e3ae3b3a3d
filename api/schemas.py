"""Public response schemas of the API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import HTTPException, Path, Request
from pydantic import BaseModel, Field

from facmon.types import SLUG_MAX, SLUG_PATTERN

SlugId = Annotated[str, Path(pattern=SLUG_PATTERN, max_length=SLUG_MAX, description="Id")]
"""The id of a registry record named by a slug, in a path."""
NumberId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Id")]
"""The id of a record numbered by the database, in a path."""


class Health(BaseModel):
    """Liveness, and whether the API is following the broker."""

    status: Literal["ok"] = "ok"
    version: str
    broker_connected: bool
    devices: int = Field(
        description="Devices with a state from their gateway (not the gateways themselves)"
    )


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


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The documented error answers of an operation: a :class:`Problem` for each of ``codes``."""
    return {code: {"model": Problem} for code in codes}


class DeliveryOut(BaseModel):
    """A notification to one target and how it went."""

    id: int
    route: str
    target: str = Field(description="Secrets hidden")
    what: str
    alert_ids: list[str]
    title: str
    status: Literal["pending", "sent", "failed"]
    attempts: int
    last_error: str
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None


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
