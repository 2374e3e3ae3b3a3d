"""Build the FastAPI application and run it with its live feed."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.ext.asyncio import async_sessionmaker

from api.alerts.manager import Alerting
from api.alerts.profiles import Profiles
from api.auth import FailedLogins
from api.config import ApiConfig
from api.listing import CachedAnswers, asset_listing
from api.live import LiveFeed, LiveState
from api.registry.db import make_engine, migrate, prepare_sqlite_dir
from api.registry.models import Role
from api.registry.tokens import TokenVerifier, create_token
from api.routes import (
    alerts,
    assets,
    bindings,
    buildings,
    categories,
    deliveries,
    devices,
    documents,
    floors,
    health,
    ledger,
    overview,
    rooms,
    silences,
    sites,
    summary,
    utilization,
    work_orders,
)
from api.services import Services
from devices.profile import Texts
from facmon import __version__
from facmon.types import Value
from storage.factory import make_reader

log = logging.getLogger(__name__)

GRACE_S = 10
"""How long a stopping server waits for open requests to finish."""

VENDOR = "/ui/vendor"
"""Where the Swagger UI and ReDoc files shipped in ``api/ui/vendor/`` are served."""
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
"""The page Swagger UI returns to after an OAuth2 sign-in."""
DOCS_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src blob:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
"""The documentation pages load nothing but this server's files: the browser refuses the rest
(ReDoc's side menu asks a CDN for Redocly's logo, and hides it when refused)."""

FAVICON = resources.files("api").joinpath("ui/favicon.ico")
"""The icon of facmon's pages (16, 32 and 48 px)."""

docs_pages = APIRouter(include_in_schema=False)
"""The API's documentation (Swagger UI, ReDoc) and the icon, all from the package."""


def create_app(services: Services) -> FastAPI:
    """Return the application serving ``services``."""
    app = FastAPI(
        title="facmon API",
        version=__version__,
        description="Live state and files of every room and asset.",
        docs_url=None,  # FastAPI's pages load from a CDN: docs_pages serves them from here
        redoc_url=None,
    )
    app.state.services = services
    for router in (
        health.router,
        devices.router,
        categories.router,
        ledger.router,  # before assets: /assets/export is not an asset's id
        assets.router,
        rooms.router,
        summary.router,
        documents.router,
        alerts.router,  # /alerts/stream before /alerts/{alert}
        silences.router,
        deliveries.router,
        utilization.router,
        overview.router,
        overview.page,
        docs_pages,
    ):
        app.include_router(router)
    app.mount("/ui", StaticFiles(packages=[("api", "ui")]), name="ui")
    for records in (
        sites.crud,
        buildings.crud,
        floors.crud,
        rooms.crud,
        assets.crud,
        bindings.crud,
        work_orders.crud,
    ):
        app.include_router(records)
    app.openapi = _documenting_lockouts(app.openapi)  # type: ignore[method-assign]
    return app


@docs_pages.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI, from the files in the package; it asks no validator service."""
    root = _root(request)
    page = get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=f"{root}{VENDOR}/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{VENDOR}/swagger-ui/swagger-ui.css",
        swagger_favicon_url=f"{root}/favicon.ico",
        oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT}",
        swagger_ui_parameters={"validatorUrl": None},  # else it fetches a badge from outside
    )
    page.headers.update(DOCS_HEADERS)
    return page


@docs_pages.get(OAUTH2_REDIRECT)
async def swagger_ui_redirect() -> HTMLResponse:
    """Where Swagger UI comes back to after an OAuth2 sign-in."""
    page = get_swagger_ui_oauth2_redirect_html()
    page.headers.update(DOCS_HEADERS)
    return page


@docs_pages.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    """ReDoc, from the files in the package, in the browser's own fonts."""
    root = _root(request)
    page = get_redoc_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{root}{VENDOR}/redoc/redoc.standalone.js",
        redoc_favicon_url=f"{root}/favicon.ico",
        with_google_fonts=False,
    )
    page.headers.update(DOCS_HEADERS)
    return page


@docs_pages.get("/favicon.ico")
async def favicon() -> Response:
    """The icon of the status page and of the documentation, and the browser's own ask."""
    return Response(
        FAVICON.read_bytes(),
        media_type="image/vnd.microsoft.icon",
        headers={"Cache-Control": "public, max-age=86400"},
    )


def _root(request: Request) -> str:
    """The path the API is served under behind a proxy ("" at the root)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def _documenting_lockouts(build: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """``build`` (FastAPI's OpenAPI), with 429 on every operation that needs a token."""

    def openapi() -> dict[str, Any]:
        schema = build()  # FastAPI keeps it: the changes below are made once
        for operations in schema["paths"].values():
            for operation in operations.values():
                if operation.get("security"):
                    operation["responses"].setdefault("429", LOCKED_OUT)
        return schema

    return openapi


LOCKED_OUT = {
    "description": "Too many unknown tokens from this address: try again after Retry-After",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def with_cached_answers(app: FastAPI) -> CachedAnswers:
    """``app`` behind the middleware that serves kept asset lists directly."""
    return CachedAnswers(app)


async def serve(server: uvicorn.Server, stopping: asyncio.Event) -> None:
    """Run ``server`` until cancelled, then let it finish open requests and close its socket.

    ``stopping`` is set first, so that requests that would never finish (event streams)
    end.
    """
    task = asyncio.create_task(server.serve())
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        stopping.set()
        server.should_exit = True
        await task
        raise


def fault_judge(
    profiles: Profiles,
) -> Callable[[str | None, Mapping[str, Value]], tuple[Texts, ...]]:
    """The names of the faults a device's values show (none for an unknown profile)."""

    def judge(name: str | None, values: Mapping[str, Value]) -> tuple[Texts, ...]:
        profile = profiles.get(name) if name else None
        return profile.faults_in(values) if profile is not None else ()

    return judge


class ApiService:
    """The API process: live feed plus HTTP server."""

    def __init__(self, config: ApiConfig) -> None:
        """Build the services and the app; nothing listens until :meth:`run`."""
        self.config = config
        live = LiveState(judge=fault_judge(Profiles()))
        engine = make_engine(config.database)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.services = Services(
            live,
            LiveFeed(config.broker, config.prefix, live),
            make_reader(config.store),
            engine,
            sessions,
            TokenVerifier(sessions),
            config.stale_after_s,
            failed_logins=FailedLogins(config.failed_auth_limit, config.failed_auth_window_s),
            categories=config.vocabulary(),
        )
        self.app = create_app(self.services)
        alerting = Alerting(
            config.alerts,
            sessions,
            config.prefix,
            publish=self.services.feed.publish,
            registry_changes=lambda: asset_listing(self.app).changes,
            categories=self.services.categories,
        )
        self.services.alerting = alerting
        self.services.feed.listeners.append(alerting.feed)
        self.server = uvicorn.Server(
            uvicorn.Config(
                with_cached_answers(self.app),
                host=config.host,
                port=config.port,
                log_config=None,
                access_log=False,
                ssl_certfile=config.tls.certfile if config.tls else None,
                ssl_keyfile=config.tls.keyfile if config.tls else None,
                timeout_graceful_shutdown=GRACE_S,
            )
        )

    async def run(self) -> None:
        """Migrate the registry, then serve until cancelled."""
        prepare_sqlite_dir(self.config.database)
        await asyncio.to_thread(migrate, self.config.database)
        if self.config.bootstrap_token is not None:
            token = self.config.bootstrap_token.get_secret_value()
            await create_token(self.services.sessions, "bootstrap", Role.ADMIN, token)
        # What exists now (modules, the app, the ORM) lives as long as the process: kept out
        # of the cycle collector, a full collection takes 10 ms instead of 150 ms, during
        # which no request is answered.
        gc.collect()
        gc.freeze()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.services.feed.run())
                if self.services.alerting is not None:
                    group.create_task(self.services.alerting.run())
                group.create_task(serve(self.server, self.services.stopping))
        finally:
            await self.services.reader.close()
            await self.services.engine.dispose()
