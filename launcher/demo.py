"""``facmon demo``: the whole system in one process on embedded defaults, playing a scenario.

An in-process MQTT broker, the simulated site of :mod:`launcher.demo_site` (60 Modbus devices,
vehicles, doors, sensors), a gateway per building, a collector writing to SQLite (or to
InfluxDB when ``influx_url`` is given), the API with the registry and its ledger filled in,
and chat robots on loopback (:mod:`launcher.demo_receiver`) that its alerts are sent to.
Each run starts the site afresh; only the API token is kept.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from datetime import date
from pathlib import Path

import httpx
import yaml
from pydantic import SecretStr

from api.alerts.config import AlertsConfig, Route
from api.config import ApiConfig
from api.main import ApiService
from api.registry.tokens import new_token
from collector.config import CollectorConfig
from collector.main import Collector
from devices.sim.model import SimConfig
from devices.sim.runner import Simulator
from facmon.mqtt import BrokerConfig
from facmon.net import free_port
from gateway.config import GatewayConfig
from gateway.main import Gateway, compile_plans, ingest_profiles
from launcher import demo_site
from launcher.broker import EmbeddedBroker
from launcher.demo_console import DemoConsole, Links
from launcher.demo_receiver import Receiver, targets
from storage.config import InfluxSinkConfig, SqliteSinkConfig

log = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 60.0
RUN_FILES = (
    "registry.db",
    "telemetry.db",
    "gw-b1-spool.db",
    "gw-b2-spool.db",
    "rules.yaml",
    "demo.log",
)
"""What a run leaves in the work directory and the next one removes (with -wal, -shm)."""


class DemoError(RuntimeError):
    """The demo could not start: which part, and why."""


def _token(workdir: Path) -> SecretStr:
    """The demo's admin token: made on the first run, kept in ``workdir/api-token`` (0600)."""
    path = workdir / "api-token"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(new_token() + "\n")
    return SecretStr(path.read_text().strip())


def _fresh(workdir: Path) -> None:
    """Remove what the previous run left, so that the scenario plays on a clean site."""
    workdir.mkdir(parents=True, exist_ok=True)
    for name in RUN_FILES:
        for suffix in ("", "-wal", "-shm", "-journal"):
            (workdir / f"{name}{suffix}").unlink(missing_ok=True)


def _store(workdir: Path, influx_url: str | None) -> InfluxSinkConfig | SqliteSinkConfig:
    if influx_url:
        return InfluxSinkConfig(url=influx_url, database="facmon", create_database=True)
    return SqliteSinkConfig(path=workdir / "telemetry.db")


def _port_free(host: str, port: int) -> None:
    """Raise :class:`DemoError` when the API's port is taken (before anything starts)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise DemoError(
                f"cannot serve on {host}:{port}: {exc.strerror}; "
                f"stop what uses it, or choose another port (make demo PORT=8080)"
            ) from None


async def _until_serving(http: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        try:
            if (await http.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise DemoError(f"the API did not answer within {STARTUP_TIMEOUT_S:.0f} s")
        await asyncio.sleep(0.1)


async def fill_registry(http: httpx.AsyncClient, utc_offset_h: int) -> None:
    """Create the demo site's estate, assets and bindings through the API.

    Raises:
        DemoError: the API refused an entry (named, with its answer).
    """
    zone = demo_site.calendar_zone(utc_offset_h)
    for collection, entry in demo_site.estate(date.today()):
        body = {**entry, "timezone": zone} if collection == "sites" else entry
        response = await http.post(f"/api/v1/{collection}", json=body)
        if response.status_code != 201:
            what = body.get("id") or body.get("asset_id")
            raise DemoError(
                f"registry: {collection} {what}: {response.status_code} {response.text}"
            )


async def run_demo(
    host: str = "127.0.0.1",
    port: int = 8000,
    workdir: Path = Path(".demo"),
    influx_url: str | None = None,
    announce: bool = True,
) -> None:
    """Run every component and play the scenario until cancelled.

    Raises:
        DemoError: a part did not start.
    """
    _port_free(host, port)
    if logging.getLogger().level > logging.DEBUG:
        # The console tells of each alert the scenario raises: its steps are debug detail.
        logging.getLogger("devices.sim").setLevel(logging.WARNING)
    await asyncio.to_thread(_fresh, workdir)
    token = _token(workdir)
    offset = demo_site.evening_offset()
    rules = workdir / "rules.yaml"
    rules.write_text(yaml.safe_dump(demo_site.rules(offset), allow_unicode=True, sort_keys=False))
    store = _store(workdir, influx_url)
    broker = EmbeddedBroker(port=free_port())
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104
    headers = {"Authorization": f"Bearer {token.get_secret_value()}"}
    robots = Receiver("127.0.0.1", free_port())
    # Clients run in inner groups so that, on the way out, they stop before the broker.
    async with asyncio.TaskGroup() as infrastructure:
        infrastructure.create_task(broker.run())
        await broker.ready.wait()
        infrastructure.create_task(robots.run())
        api = ApiService(
            _api_config(host, port, broker.url, store, workdir, token, rules, robots.base)
        )
        async with (
            httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as http,
            asyncio.TaskGroup() as services,
        ):
            services.create_task(api.run())
            await _until_serving(http)
            await fill_registry(http, offset)
            simulator = Simulator(
                SimConfig.model_validate(demo_site.sim_config(broker.url, offset))
            )
            services.create_task(simulator.run())
            for endpoint in simulator.endpoints:
                await endpoint.ready.wait()
            ports = {
                line: e.port for line, e in zip(demo_site.LINES, simulator.endpoints, strict=True)
            }
            collector = Collector(_collector_config(broker.url, store))
            services.create_task(collector.run())
            for raw in demo_site.gateway_configs(broker.url, ports, str(workdir)):
                config = GatewayConfig.model_validate(raw)
                gateway = Gateway(config, compile_plans(config), ingest_profiles(config))
                services.create_task(gateway.run())
            if announce:
                links = Links(
                    base,
                    token.get_secret_value(),
                    workdir / "api-token",
                    broker.url,
                    _where(store),
                    workdir / "demo.log",
                    robots.url,
                )
                services.create_task(DemoConsole(http, collector, links, offset).run())


def _api_config(
    host: str,
    port: int,
    broker_url: str,
    store: InfluxSinkConfig | SqliteSinkConfig,
    workdir: Path,
    token: SecretStr,
    rules: Path,
    robots: str,
) -> ApiConfig:
    return ApiConfig(
        host=host,
        port=port,
        broker=BrokerConfig(url=broker_url),
        store=store,
        database=f"sqlite:///{workdir / 'registry.db'}",
        bootstrap_token=token,
        alerts=AlertsConfig(
            rules=[rules],
            routes=[Route(name="demo-robots", targets=targets(robots), group_interval_s=5)],
        ),
    )


def _collector_config(
    broker_url: str, store: InfluxSinkConfig | SqliteSinkConfig
) -> CollectorConfig:
    return CollectorConfig(
        id="demo-collector",
        broker=BrokerConfig(url=broker_url, client_id="facmon-demo-collector"),
        protocol="3.1.1",
        sink=store,
    )


def _where(store: InfluxSinkConfig | SqliteSinkConfig) -> str:
    return store.url if isinstance(store, InfluxSinkConfig) else str(store.path)
