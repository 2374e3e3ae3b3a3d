"""The registry API on SQLite and on a real PostgreSQL: CRUD, validation, and who may do what."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker

from api.config import ApiConfig
from api.live import LiveFeed, LiveState
from api.main import Services, create_app
from api.registry.db import make_engine, migrate
from api.registry.models import Role
from api.registry.tokens import TokenVerifier, create_token
from collector.config import SqliteSinkConfig
from collector.sinks.factory import make_reader

pytestmark = pytest.mark.integration


@dataclass
class Client:
    """An HTTP client of the app, and a header per role ("none": no token)."""

    http: httpx.AsyncClient
    headers: dict[str, dict[str, str]]
    app: FastAPI


@pytest.fixture(params=["sqlite", "postgresql"])
async def client(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Client]:
    """The API on a fresh registry database, and a header per role ("none": no token)."""
    if request.param == "sqlite":
        url = ApiConfig(database=f"sqlite:///{tmp_path / 'registry.db'}").database
    else:
        url = request.getfixturevalue("postgres_url")
    await asyncio.to_thread(migrate, url)
    engine = make_engine(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    config = ApiConfig()
    services = Services(
        LiveState(),
        LiveFeed(config.broker, config.prefix, LiveState()),
        make_reader(SqliteSinkConfig(path=tmp_path / "telemetry.db")),
        engine,
        sessions,
        TokenVerifier(sessions),
    )
    headers: dict[str, dict[str, str]] = {"none": {}}
    for role in Role:
        token = await create_token(sessions, f"test {role}", role)
        headers[role.value] = {"Authorization": f"Bearer {token}"}
    app = create_app(services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield Client(http, headers, app)
    await services.reader.close()
    await engine.dispose()


async def test_a_room_file_can_be_built_changed_and_taken_down(
    client: Client,
) -> None:
    http, headers = client.http, client.headers
    admin, viewer = headers["admin"], headers["viewer"]
    for path, body in [
        ("sites", {"id": "hq", "name": "总部 Headquarters"}),
        ("buildings", {"id": "b1", "site_id": "hq", "name": "Building 1"}),
        ("floors", {"id": "b1-2f", "building_id": "b1", "name": "2F", "level": 2}),
        (
            "rooms",
            {"id": "b1-201", "floor_id": "b1-2f", "name": "Server room", "kind": "server_room"},
        ),
    ]:
        response = await http.post(f"/api/v1/{path}", json=body, headers=admin)
        assert response.status_code == 201, response.text
    for n in range(12):
        asset = {
            "id": f"ups-{n:02d}",
            "name": f"UPS {n}",
            "category": "ups" if n % 2 else "crac",
            "room_id": "b1-201",
            "serial": f"SN-{n}",
            "purchase_date": "2024-03-01",
            "cost": "12345.50",
            "tags": ["critical"],
        }
        assert (await http.post("/api/v1/assets", json=asset, headers=admin)).status_code == 201

    page = (await http.get("/api/v1/assets?category=ups&sort=-id&limit=4", headers=viewer)).json()
    assert page["total"] == 6
    assert [a["id"] for a in page["items"]] == ["ups-11", "ups-09", "ups-07", "ups-05"]
    page = (await http.get("/api/v1/assets?q=sn-1&offset=1", headers=viewer)).json()
    assert [a["id"] for a in page["items"]] == ["ups-10", "ups-11"]
    assert page["total"] == 3

    one = (await http.get("/api/v1/assets/ups-03", headers=viewer)).json()
    assert one["cost"] == "12345.50"
    assert one["purchase_date"] == "2024-03-01"
    changed = await http.patch(
        "/api/v1/assets/ups-03", json={"lifecycle": "under_maintenance"}, headers=admin
    )
    assert changed.json()["lifecycle"] == "under_maintenance"
    assert changed.json()["name"] == "UPS 3"

    in_use = await http.delete("/api/v1/rooms/b1-201", headers=admin)
    assert in_use.status_code == 409
    assert "still referenced" in in_use.json()["detail"]
    assert (await http.delete("/api/v1/assets/ups-03", headers=admin)).status_code == 204
    assert (await http.get("/api/v1/assets/ups-03", headers=viewer)).status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        ("sites", {"id": "Not A Slug", "name": "x"}, "id"),
        ("sites", {"id": "s", "name": "x", "timezone": "Mars/Olympus"}, "timezone"),
        ("sites", {"id": "s", "name": "x", "colour": "red"}, "colour"),
        ("sites", {"id": "s", "name": ""}, "name"),
        ("floors", {"id": "f", "building_id": "b", "name": "x", "level": False}, "level"),
        ("floors", {"id": "f", "building_id": "b", "name": "x", "level": "2"}, "level"),
        ("floors", {"id": "f", "building_id": "nowhere", "name": "x"}, "building_id"),
        ("assets", {"id": "a", "name": "x", "category": "ups", "cost": -1}, "cost"),
        ("assets", {"id": "a", "name": "x", "category": "ups", "cost": "1.234"}, "cost"),
        (
            "assets",
            {"id": "a", "name": "x", "category": "ups", "purchase_date": "yesterday"},
            "purchase_date",
        ),
        ("assets", {"id": "a", "name": "x", "category": "ups", "tags": "critical"}, "tags"),
        ("assets", {"id": "a", "name": "x", "category": "ups", "lifecycle": "lost"}, "lifecycle"),
    ],
)
async def test_nonsense_is_refused_with_the_field_named(
    client: Client,
    path: str,
    body: dict[str, Any],
    where: str,
) -> None:
    http, headers = client.http, client.headers
    response = await http.post(f"/api/v1/{path}", json=body, headers=headers["admin"])
    assert response.status_code == 422, response.text
    assert any(where in map(str, error["loc"]) for error in response.json()["detail"])


async def test_duplicates_and_nulls_are_refused(
    client: Client,
) -> None:
    http, headers = client.http, client.headers
    site = {"id": "hq", "name": "HQ"}
    assert (
        await http.post("/api/v1/sites", json=site, headers=headers["admin"])
    ).status_code == 201
    again = await http.post("/api/v1/sites", json=site, headers=headers["admin"])
    assert again.status_code == 409
    assert again.json()["detail"] == "site 'hq' exists already"
    null = await http.patch("/api/v1/sites/hq", json={"name": None}, headers=headers["admin"])
    assert null.status_code == 422


async def test_every_endpoint_lets_in_exactly_the_roles_it_should(
    client: Client,
) -> None:
    http, headers = client.http, client.headers
    routes = [
        (method.upper(), path)
        for path, operations in client.app.openapi()["paths"].items()
        if path.startswith("/api/v1/")
        for method in operations
    ]
    assert len(routes) >= 27
    checked = 0
    for method, template in routes:
        path = re.sub(r"\{[^}]+\}", "x", template)
        needs = Role.VIEWER if method == "GET" else Role.ADMIN
        for who, header in headers.items():
            response = await http.request(method, path, json={}, headers=header)
            if who == "none":
                assert response.status_code == 401, (method, path)
                assert response.headers["www-authenticate"] == "Bearer"
            elif _rank(who) < _rank(needs.value):
                assert response.status_code == 403, (method, path, who)
                assert f"needs the {needs.value} role" in response.json()["detail"]
            else:
                assert response.status_code not in (401, 403), (method, path, who)
            checked += 1
    forged = await http.get("/api/v1/sites", headers={"Authorization": "Bearer fm_forged"})
    assert forged.status_code == 401
    assert (await http.get("/healthz")).status_code == 200
    assert (await http.get("/openapi.json")).status_code == 200
    assert checked == len(routes) * 4


def _rank(role: str) -> int:
    return ["viewer", "operator", "admin"].index(role)
