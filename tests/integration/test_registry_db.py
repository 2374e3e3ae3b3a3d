"""The registry's migrations on SQLite and on a real PostgreSQL: they build exactly the models."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from api.config import ApiConfig
from api.registry.db import alembic_config, make_engine, migrate
from api.registry.models import Base, Role
from api.registry.tokens import TokenVerifier

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database of each kind."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def differences(url: str) -> list[object]:
    """What differs between the migrated database and the models."""

    async def compare() -> list[object]:
        engine = make_engine(url)
        async with engine.connect() as connection:
            found = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
        await engine.dispose()
        return list(found)

    return asyncio.run(compare())


def test_migrations_build_the_models_and_revert(database_url: str) -> None:
    migrate(database_url)
    assert differences(database_url) == []
    migrate(database_url)  # idempotent
    command.downgrade(alembic_config(database_url), "base")
    assert len(differences(database_url)) >= len(Base.metadata.tables)  # all gone


def test_alerts_kept_before_0003_get_their_places_and_deliveries(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "0002")
    labels = {"site": "hq", "room": "b1-101", "asset": "ups-a", "device": "ups-1"}

    async def run(statements: list[str], query: str) -> list[tuple[object, ...]]:
        engine = make_engine(database_url)
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement), {"labels": json.dumps(labels)})
            rows = [tuple(row) for row in await connection.execute(text(query))]
        await engine.dispose()
        return rows

    now = "'2026-01-01 00:00:00+00:00'"
    asyncio.run(
        run(
            [
                "INSERT INTO alerts (id, fingerprint, rule, kind, severity, state, subject, labels,"
                ' "values", summary, summary_zh, quiet, started_at, acknowledged_by, resolved_by)'
                " VALUES ('a1', 'f', 'r', 'fault', 'critical', 'firing', 'ups-1', :labels, '{}',"
                f" 's', 's', '', {now}, '', '')",
                "INSERT INTO deliveries (route, target, target_ref, what, alert_ids, title, text,"
                " status, attempts, last_error, created_at)"
                f" VALUES ('ops', 'x', 'ops/targets/0', 'firing', '[\"a1\", \"gone\"]', 't',"
                f" 't', 'sent', 1, '', {now})",
            ],
            "SELECT 1",
        )
    )
    migrate(database_url)
    (row,) = asyncio.run(run([], "SELECT site, building, room, asset, device FROM alerts"))
    assert row == ("hq", "", "b1-101", "ups-a", "ups-1")
    links = asyncio.run(run([], "SELECT alert_id, delivery_id FROM alert_deliveries"))
    assert links == [("a1", 1)]


def test_create_token_prints_a_token_that_carries_its_role(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'registry.db'}"
    config = tmp_path / "api.yaml"
    config.write_text(yaml.safe_dump({"database": database}))
    command = [sys.executable, "-m", "launcher", "api", "create-token", "--config", str(config)]
    made = subprocess.run(
        [*command, "--role", "operator"], capture_output=True, text=True, check=True
    )
    token = made.stdout.strip()
    assert token.startswith("fm_")
    assert len(token) == 46

    async def role_of(presented: str) -> Role | None:
        engine = make_engine(ApiConfig(database=database).database)
        try:
            return await TokenVerifier(async_sessionmaker(engine)).role(presented)
        finally:
            await engine.dispose()

    assert asyncio.run(role_of(token)) is Role.OPERATOR
    assert asyncio.run(role_of(token + "x")) is None
    stored = (tmp_path / "registry.db").read_bytes()
    assert token.encode() not in stored  # only its digest is kept
    wrong = subprocess.run(
        [*command, "--role", "root"], capture_output=True, text=True, check=False
    )
    assert wrong.returncode == 2
    assert "'root' is not one of viewer, operator, admin" in wrong.stderr

    revoke = [sys.executable, "-m", "launcher", "api", "revoke-token", "--config", str(config)]
    done = subprocess.run([*revoke, "--name", "cli"], capture_output=True, text=True, check=True)
    assert "revoked 1 token(s) named 'cli'" in done.stdout
    assert asyncio.run(role_of(token)) is None
    again = subprocess.run([*revoke, "--name", "cli"], capture_output=True, text=True, check=False)
    assert again.returncode == 1
    assert "no API token in force is named 'cli'" in again.stderr
