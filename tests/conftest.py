"""Fixtures that run real Mosquitto, InfluxDB and PostgreSQL servers for the tests.

The servers are session-scoped: started once, on free ports, in
``tmp_path_factory`` directories, and stopped when the session ends.  Tests
may ``stop()``/``start()``/``restart()`` them; they come back on the same
port with the same data, and are left running for the tests that follow.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from bench.harness.influxdb import InfluxDBServer
from bench.harness.mosquitto import MosquittoServer
from bench.harness.postgres import PostgresServer
from tests.integration.processes import FacmonProcess
from tests.integration.receivers import Received, receivers


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoServer]:
    """A running Mosquitto broker with persistence, shared by the session."""
    with MosquittoServer(tmp_path_factory.mktemp("mosquitto")) as server:
        yield server


@pytest.fixture(scope="session")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxDBServer]:
    """A running InfluxDB 1.x server, shared by the session."""
    with InfluxDBServer(tmp_path_factory.mktemp("influxdb")) as server:
        yield server


@pytest.fixture
def influx_db(influxdb: InfluxDBServer) -> Iterator[str]:
    """Name of a fresh, empty database on the session InfluxDB server.

    The database is dropped afterwards (if the server is still running).
    """
    name = f"test_{uuid.uuid4().hex[:12]}"
    influxdb.start()  # in case an earlier test left the server stopped
    influxdb.create_database(name)
    yield name
    if influxdb.running:
        influxdb.drop_database(name)


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """A running PostgreSQL server, shared by the session."""
    server = PostgresServer(tmp_path_factory.mktemp("postgres"))
    try:
        with server:
            yield server
    finally:
        server.remove()


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> Iterator[str]:
    """SQLAlchemy URL of a fresh, empty database on the session PostgreSQL server."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    postgres.execute(f'CREATE DATABASE "{name}"')
    yield postgres.url(name)
    if postgres.running:
        postgres.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(autouse=True)
def _no_process_outlives_its_test() -> Iterator[None]:
    """Kill what a test started and left running (it failed before stopping it).

    Processes of wider-scoped fixtures, started before the test, are theirs to stop.
    """
    before = len(FacmonProcess.started)
    yield
    while len(FacmonProcess.started) > before:
        FacmonProcess.started.pop().kill()


@pytest.fixture(scope="module")
def received() -> Iterator[tuple[Received, int, int]]:
    """A webhook and robot receiver, and an SMTP server, on loopback (see receivers.py)."""
    yield from receivers()
