"""Connect to the registry database and bring its schema up to date (Alembic)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url
from sqlalchemy.event import listen
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    """Alembic's configuration for ``url``, with the migrations shipped in the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Upgrade the database at ``url`` to the newest schema (blocking; runs its own loop)."""
    command.upgrade(alembic_config(url), "head")


def make_engine(url: str) -> AsyncEngine:
    """An engine for ``url``; SQLite gets foreign keys enforced and a busy timeout."""
    engine = create_async_engine(url, pool_pre_ping=True)
    if make_url(url).get_backend_name() == "sqlite":
        listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection: object, _record: object) -> None:
    cursor = connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA busy_timeout = 5000")
    # Readers do not wait for the writer, and a commit costs one write, not several syncs;
    # a crash of the process loses nothing, a power cut at most the last transactions.
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def prepare_sqlite_dir(url: str) -> None:
    """Create the directory of a SQLite database file."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
