"""The documentation pages and the icon come from the package: no address names another host."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from api.config import ApiConfig
from api.live import LiveFeed, LiveState
from api.main import create_app
from api.registry.db import make_engine
from api.registry.tokens import TokenVerifier
from api.services import Services
from storage.config import SqliteSinkConfig
from storage.factory import make_reader

PAGES = ["/docs", "/redoc", "/docs/oauth2-redirect"]
ADDRESS = re.compile(r"""(?:src|href)\s*=\s*["']([^"']*)["']|url:\s*['"]([^'"]*)['"]""")


@asynccontextmanager
async def serving(folder: Path, root_path: str = "") -> AsyncIterator[httpx.AsyncClient]:
    """The app in-process (behind a proxy at ``root_path``), on a registry nothing reads."""
    config = ApiConfig(database=f"sqlite:///{folder / 'registry.db'}")
    engine = make_engine(config.database)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    live = LiveState()
    services = Services(
        live,
        LiveFeed(config.broker, config.prefix, live),
        make_reader(SqliteSinkConfig(path=folder / "telemetry.db")),
        engine,
        sessions,
        TokenVerifier(sessions),
    )
    transport = httpx.ASGITransport(app=create_app(services), root_path=root_path)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client
    finally:
        await services.reader.close()
        await engine.dispose()


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The app in-process."""
    async with serving(tmp_path) as client:
        yield client


def addresses(html: str) -> list[str]:
    """Every address a page loads or links: src, href and Swagger UI's spec url."""
    return [a or b for a, b in ADDRESS.findall(html)]


@pytest.mark.parametrize("page", PAGES)
async def test_a_documentation_page_names_no_other_host(http: httpx.AsyncClient, page: str) -> None:
    answer = await http.get(page)
    assert answer.status_code == 200
    assert "//" not in "".join(addresses(answer.text))
    assert not re.search(r"https?://", answer.text)  # no CDN, no font service, no validator
    policy = answer.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "https:" not in policy


async def test_the_pages_load_the_packaged_files_and_the_icon(http: httpx.AsyncClient) -> None:
    swagger = (await http.get("/docs")).text
    redoc = (await http.get("/redoc")).text
    wanted = sorted(set(addresses(swagger) + addresses(redoc)))
    assert wanted == [
        "/favicon.ico",
        "/openapi.json",
        "/ui/vendor/redoc/redoc.standalone.js",
        "/ui/vendor/swagger-ui/swagger-ui-bundle.js",
        "/ui/vendor/swagger-ui/swagger-ui.css",
    ]
    for address in wanted:
        answer = await http.get(address)
        assert answer.status_code == 200, address
        assert len(answer.content) > 1000, address
    assert '"validatorUrl": null' in swagger  # else Swagger UI asks validator.swagger.io
    assert "fonts.googleapis" not in redoc


async def test_the_icon_is_served_and_the_status_page_links_it(http: httpx.AsyncClient) -> None:
    icon = await http.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/vnd.microsoft.icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO directory
    page = (await http.get("/")).text
    assert '<link rel="icon" href="/favicon.ico">' in page


async def test_behind_a_proxy_the_pages_name_its_path(tmp_path: Path) -> None:
    async with serving(tmp_path, root_path="/facmon") as http:
        for page in ("/facmon/docs", "/facmon/redoc"):
            found = addresses((await http.get(page)).text)
            assert found, page
            assert all(a.startswith("/facmon/") for a in found), found


def test_the_vendored_files_ship_with_their_licences() -> None:
    vendor = resources.files("api").joinpath("ui/vendor")
    for tool in ("swagger-ui", "redoc"):
        names = {entry.name for entry in vendor.joinpath(tool).iterdir()}
        assert "LICENSE" in names, tool
        bundles = {n for n in names if n.endswith(".js")}
        assert bundles, tool
        assert {f"{n}.LICENSE.txt" for n in bundles} <= names, tool
