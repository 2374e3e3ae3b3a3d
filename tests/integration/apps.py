"""The API application on a fresh registry, with a token per role, for in-process tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.ext.asyncio import async_sessionmaker

from api.config import ApiConfig
from api.live import LiveFeed, LiveState
from api.registry.db import make_engine, migrate
from api.registry.models import Role
from api.registry.tokens import TokenVerifier, create_token
from api.services import Services
from storage.config import SqliteSinkConfig
from storage.factory import make_reader


@asynccontextmanager
async def registry_services(
    url: str, folder: Path
) -> AsyncIterator[tuple[Services, dict[str, dict[str, str]]]]:
    """Services on the migrated registry at ``url``, and a header per role ("none": none)."""
    await asyncio.to_thread(migrate, url)
    engine = make_engine(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    config = ApiConfig()
    services = Services(
        LiveState(),
        LiveFeed(config.broker, config.prefix, LiveState()),
        make_reader(SqliteSinkConfig(path=folder / "telemetry.db")),
        engine,
        sessions,
        TokenVerifier(sessions),
    )
    headers: dict[str, dict[str, str]] = {"none": {}}
    for role in Role:
        token = await create_token(sessions, f"test {role}", role)
        headers[role.value] = {"Authorization": f"Bearer {token}"}
    try:
        yield services, headers
    finally:
        await services.reader.close()
        await engine.dispose()
