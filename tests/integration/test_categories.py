"""Asset categories through the HTTP API: listed with their names, checked on every write."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api.categories import Category, shipped
from api.config import ApiConfig
from api.main import create_app
from api.registry.models import Asset
from api.services import Services
from tests.integration.apps import registry_services

pytestmark = pytest.mark.integration

KIOSK = {"id": "kiosk", "en": "Self-service kiosk", "zh": "自助终端"}


@dataclass
class Client:
    """An HTTP client of the app, the admin's and a viewer's header, and the services."""

    http: httpx.AsyncClient
    admin: dict[str, str]
    viewer: dict[str, str]
    services: Services


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    """The API on a fresh SQLite registry, for a site that adds the category ``kiosk``."""
    url = ApiConfig(database=f"sqlite:///{tmp_path / 'registry.db'}").database
    async with registry_services(url, tmp_path) as (services, headers):
        services.categories = shipped().extended([Category(**KIOSK)])
        transport = httpx.ASGITransport(app=create_app(services))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            yield Client(http, headers["admin"], headers["viewer"], services)


def refusal(response: httpx.Response) -> str:
    """The message of a 422 about the body's ``category``."""
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "category"]
    return str(error["msg"])


async def test_an_asset_with_an_unknown_category_is_refused_naming_the_known_ones(
    client: Client,
) -> None:
    http, admin = client.http, client.admin
    asset = {"id": "crac-1", "name": "精密空调 1", "category": "hvac"}
    message = refusal(await http.post("/api/v1/assets", json=asset, headers=admin))
    assert "unknown asset category 'hvac'; did you mean 'crac' or 'air-conditioner'?" in message
    assert "known: ups, crac, air-conditioner," in message
    assert message.endswith(", kiosk)")  # the site's own are known too
    assert (await http.get("/api/v1/assets/crac-1", headers=admin)).status_code == 404

    made = await http.post("/api/v1/assets", json={**asset, "category": "crac"}, headers=admin)
    assert made.status_code == 201, made.text
    kiosk = {"id": "kiosk-1", "name": "Kiosk", "category": "kiosk"}
    assert (await http.post("/api/v1/assets", json=kiosk, headers=admin)).status_code == 201

    changed = await http.patch("/api/v1/assets/crac-1", json={"category": "hvac"}, headers=admin)
    assert "did you mean 'crac'" in refusal(changed)
    file = (await http.get("/api/v1/assets/crac-1", headers=admin)).json()
    assert file["asset"]["category"] == "crac"


async def test_a_stored_asset_with_an_unknown_category_still_lists_and_can_be_changed(
    client: Client,
) -> None:
    async with client.services.sessions() as session:  # stored before the vocabulary
        session.add(Asset(id="ac-old", name="Old AC", category="hvac"))
        await session.commit()
    http, admin = client.http, client.admin
    listed = (await http.get("/api/v1/assets", headers=client.viewer)).json()
    assert [(a["asset"]["id"], a["asset"]["category"]) for a in listed["items"]] == [
        ("ac-old", "hvac")
    ]
    assert (await http.get("/api/v1/assets/ac-old", headers=admin)).status_code == 200
    renamed = await http.patch("/api/v1/assets/ac-old", json={"name": "AC 1"}, headers=admin)
    assert renamed.status_code == 200, renamed.text
    fixed = await http.patch("/api/v1/assets/ac-old", json={"category": "crac"}, headers=admin)
    assert fixed.json()["category"] == "crac"


async def test_a_ledger_row_with_an_unknown_category_is_named_and_nothing_imports(
    client: Client,
) -> None:
    ledger = "id,name,category\nups-1,UPS 1,ups\nac-1,AC 1,plumbing\nk-1,Kiosk,kiosk\n"
    answer = await client.http.post(
        "/api/v1/assets/import?dry_run=false",
        content=ledger.encode(),
        headers={**client.admin, "Content-Type": "text/csv"},
    )
    assert answer.status_code == 422, answer.text
    [error] = answer.json()["errors"]
    assert (error["row"], error["column"]) == (3, "category")
    assert "unknown asset category 'plumbing'; did you mean 'pump'?" in error["message"]
    listed = (await client.http.get("/api/v1/assets", headers=client.viewer)).json()
    assert listed["total"] == 0


async def test_the_categories_are_listed_with_their_names(client: Client) -> None:
    answer = await client.http.get("/api/v1/categories", headers=client.viewer)
    assert answer.status_code == 200, answer.text
    categories = {c["id"]: c for c in answer.json()}
    assert categories["crac"]["zh"] == "精密空调"
    assert categories["crac"]["en"] == "Precision air conditioner (CRAC)"
    assert "hvac" in categories["crac"]["aliases"]
    assert categories["crac"]["site"] is False
    assert categories["kiosk"] == {**KIOSK, "aliases": [], "site": True}
    assert list(categories)[-1] == "kiosk"
    assert (await client.http.get("/api/v1/categories")).status_code == 401
