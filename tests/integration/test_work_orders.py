"""A work order's close time on SQLite and on a real PostgreSQL: stored once, never made up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from api.config import ApiConfig
from api.main import create_app
from api.registry.models import WorkOrder, WorkOrderStatus
from api.services import Services
from tests.integration.apps import registry_services

pytestmark = pytest.mark.integration


@dataclass
class Api:
    """An HTTP client of the app with an operator's token, and the services under it."""

    http: httpx.AsyncClient
    operator: dict[str, str]
    services: Services

    async def order(self, number: int) -> dict[str, Any]:
        """The work order as ``GET /work_orders/{number}`` answers it."""
        answer = await self.http.get(f"/api/v1/work_orders/{number}", headers=self.operator)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    async def change(self, number: int, body: dict[str, Any], status: int = 200) -> Any:
        """PATCH the work order, expecting ``status``."""
        answer = await self.http.patch(
            f"/api/v1/work_orders/{number}", json=body, headers=self.operator
        )
        assert answer.status_code == status, answer.text
        return answer.json()

    async def stored(self, number: int) -> datetime | None:
        """The ``closed_at`` column as the database holds it."""
        async with self.services.sessions() as session:
            return await session.scalar(select(WorkOrder.closed_at).where(WorkOrder.id == number))


@pytest.fixture(params=["sqlite", "postgresql"])
async def api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    """The API on a fresh registry database holding one asset, ``ups-1``."""
    if request.param == "sqlite":
        url = ApiConfig(database=f"sqlite:///{tmp_path / 'registry.db'}").database
    else:
        url = request.getfixturevalue("postgres_url")
    async with registry_services(url, tmp_path) as (services, headers):
        transport = httpx.ASGITransport(app=create_app(services))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            asset = {"id": "ups-1", "name": "UPS 1", "category": "ups"}
            made = await http.post("/api/v1/assets", json=asset, headers=headers["admin"])
            assert made.status_code == 201, made.text
            yield Api(http, headers["operator"], services)


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


async def test_closing_stores_the_time_once_and_every_read_gives_it_back(api: Api) -> None:
    order = {"asset_id": "ups-1", "title": "Replace battery string B"}
    opened = await api.http.post("/api/v1/work_orders", json=order, headers=api.operator)
    assert opened.status_code == 201, opened.text
    number = opened.json()["id"]
    assert opened.json()["closed_at"] is None

    closed = await api.change(number, {"status": "closed", "resolution": "string replaced"})
    assert closed["closed_at"] is not None
    assert closed["closed_at"] >= opened.json()["opened_at"]
    first = await api.order(number)
    await asyncio.sleep(0.2)
    second = await api.order(number)
    listed = await api.http.get("/api/v1/work_orders?status=closed", headers=api.operator)
    assert first["closed_at"] == second["closed_at"] == closed["closed_at"]
    assert [o["closed_at"] for o in listed.json()["items"]] == [closed["closed_at"]]
    assert await api.stored(number) == _time(closed["closed_at"])

    # Changing a closed order keeps its close time; reopening clears it, closing again stamps anew.
    await asyncio.sleep(0.05)
    costed = await api.change(number, {"cost": "120.00"})
    assert costed["closed_at"] == closed["closed_at"]
    reopened = await api.change(number, {"status": "in_progress"})
    assert reopened["closed_at"] is None
    assert (await api.order(number))["closed_at"] is None
    assert await api.stored(number) is None
    again = await api.change(number, {"status": "closed"})
    assert again["closed_at"] > closed["closed_at"]
    assert await api.stored(number) == _time(again["closed_at"])


async def test_a_close_time_is_given_or_stamped_at_create_and_only_on_a_closed_order(
    api: Api,
) -> None:
    order = {"asset_id": "ups-1", "title": "Inspection", "status": "closed"}
    made = await api.http.post("/api/v1/work_orders", json=order, headers=api.operator)
    assert made.status_code == 201, made.text
    number, stamp = made.json()["id"], made.json()["closed_at"]
    assert stamp is not None
    await asyncio.sleep(0.2)
    assert (await api.order(number))["closed_at"] == stamp
    assert await api.stored(number) == _time(stamp)

    given = {
        **order,
        "opened_at": "2026-03-01T08:00:00+08:00",
        "closed_at": "2026-03-01T10:30:00+08:00",
    }
    made = await api.http.post("/api/v1/work_orders", json=given, headers=api.operator)
    assert made.status_code == 201, made.text
    assert made.json()["closed_at"] == "2026-03-01T02:30:00Z"
    moved = await api.change(made.json()["id"], {"closed_at": "2026-03-01T11:00:00+08:00"})
    assert moved["closed_at"] == "2026-03-01T03:00:00Z"

    still_open = {"asset_id": "ups-1", "title": "x", "closed_at": "2030-01-01T00:00:00Z"}
    refused = await api.http.post("/api/v1/work_orders", json=still_open, headers=api.operator)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"][0]["loc"] == ["body", "closed_at"]
    opened = await api.http.post(
        "/api/v1/work_orders", json={"asset_id": "ups-1", "title": "y"}, headers=api.operator
    )
    refused = await api.change(opened.json()["id"], {"closed_at": "2030-01-01T00:00:00Z"}, 422)
    assert refused["detail"][0]["loc"] == ["body", "closed_at"]
    both = await api.change(
        number, {"status": "open", "closed_at": "2030-01-01T00:00:00Z"}, status=422
    )
    assert both["detail"][0]["loc"] == ["body", "closed_at"]


async def test_an_order_closed_without_a_time_reads_null_and_edits_keep_it_null(
    api: Api,
) -> None:
    opened = await api.http.post(
        "/api/v1/work_orders", json={"asset_id": "ups-1", "title": "Old"}, headers=api.operator
    )
    number = opened.json()["id"]
    async with api.services.sessions() as session, session.begin():  # a row from before
        await session.execute(
            update(WorkOrder)
            .where(WorkOrder.id == number)
            .values(status=WorkOrderStatus.CLOSED, closed_at=None)
        )
    assert (await api.order(number))["closed_at"] is None
    listed = await api.http.get("/api/v1/work_orders", headers=api.operator)
    assert [o["closed_at"] for o in listed.json()["items"]] == [None]
    file = await api.http.get("/api/v1/assets/ups-1", headers=api.operator)
    assert [o["closed_at"] for o in file.json()["work_orders"]] == [None]
    edited = await api.change(number, {"resolution": "found in the paper log"})
    assert edited["closed_at"] is None
    assert await api.stored(number) is None
