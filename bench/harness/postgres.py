"""A real PostgreSQL server on a free port, for tests and benchmarks."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from bench.harness.servers import HOST, SETUP_HINT, ServiceProcess


def _postgres_bin(name: str) -> str:
    """Locate a PostgreSQL server program (Debian keeps them out of PATH)."""
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    found = shutil.which(name)
    if found is not None:
        return found
    msg = f"{name} not found (Debian package 'postgresql'); {SETUP_HINT}"
    raise FileNotFoundError(msg)


class PostgresServer(ServiceProcess):
    """A PostgreSQL server with trust authentication for the user ``facmon``.

    PostgreSQL refuses to run as root: as root, the cluster lives in a directory of its own
    under ``/tmp`` owned by ``postgres`` (pytest's temp dirs are private to root), and
    ``initdb`` and the server run as that user. Durability is traded for speed (``fsync``
    off): the tests need a real SQL engine, not crash safety.
    """

    name = "postgres"
    start_timeout = 30.0
    stop_signal = signal.SIGINT  # "fast" shutdown: SIGTERM would wait for clients to leave
    user = "facmon"

    def __init__(self, workdir: Path) -> None:
        """Prepare the cluster directory (``initdb`` runs at the first start)."""
        super().__init__(workdir)
        self.data_dir = Path(tempfile.mkdtemp(prefix="facmon-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.data_dir, "postgres", "postgres")

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of ``database`` (asyncpg driver)."""
        return f"postgresql+asyncpg://{self.user}@{HOST}:{self.port}/{database}"

    def _user(self) -> str | None:
        return "postgres" if os.geteuid() == 0 else None

    def _command(self) -> list[str]:
        return [
            _postgres_bin("postgres"),
            *("-D", str(self.data_dir / "cluster"), "-p", str(self.port)),
            *("-k", str(self.data_dir), "-c", f"listen_addresses={HOST}"),
            *("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"),
        ]

    def _write_config(self) -> None:
        if (self.data_dir / "cluster" / "PG_VERSION").exists():
            return
        result = subprocess.run(
            [
                _postgres_bin("initdb"),
                *("-D", str(self.data_dir / "cluster"), "-U", self.user, "--auth=trust"),
                *("--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"),
            ],
            capture_output=True,
            user=self._user(),
            check=False,
        )
        if result.returncode != 0:
            msg = f"initdb failed:\n{result.stdout.decode()}\n{result.stderr.decode()}"
            raise RuntimeError(msg)

    def _is_ready(self) -> bool:
        result = subprocess.run(
            [_postgres_bin("pg_isready"), "-h", HOST, "-p", str(self.port), "-U", self.user],
            capture_output=True,
            check=False,
        )
        return result.returncode == 0

    def execute(self, sql: str, database: str = "postgres") -> str:
        """Run ``sql`` with psql and return its output."""
        result = subprocess.run(
            [
                _postgres_bin("psql"),
                *("-h", HOST, "-p", str(self.port), "-U", self.user, "-d", database),
                *("-v", "ON_ERROR_STOP=1", "-At", "-c", sql),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            msg = f"psql failed: {result.stderr}"
            raise RuntimeError(msg)
        return result.stdout

    def remove(self) -> None:
        """Stop and delete the cluster."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
