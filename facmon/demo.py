"""``facmon demo``: the whole system in one process on embedded defaults.

An in-process MQTT broker, simulated Modbus devices, a gateway polling them, a collector
writing to SQLite (or to InfluxDB when ``influx_url`` is given) and the API.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from pydantic import SecretStr

from api.config import ApiConfig
from api.main import ApiService
from api.registry.tokens import new_token
from collector.config import CollectorConfig, InfluxSinkConfig, SqliteSinkConfig
from collector.main import Collector
from devices.sim.model import SimConfig
from devices.sim.server import build_simulators
from facmon.broker import EmbeddedBroker
from facmon.mqtt import BrokerConfig
from facmon.net import free_port
from gateway.config import GatewayConfig
from gateway.main import Gateway, compile_plans

log = logging.getLogger(__name__)

SITE = "demo"
DEMO_DEVICES = [
    {"id": "ups-1", "profile": "ups", "unit": 1},
    {"id": "ups-2", "profile": "ups", "unit": 2},
    {"id": "th-server-room", "profile": "th-sensor", "unit": 3},
    {"id": "th-archive", "profile": "th-sensor", "unit": 4},
]


def _configs(
    broker_url: str,
    sim_port: int,
    api_host: str,
    api_port: int,
    workdir: Path,
    influx_url: str | None,
) -> tuple[GatewayConfig, CollectorConfig, ApiConfig]:
    broker = {"url": broker_url}
    gateway = GatewayConfig.model_validate(
        {
            "site": SITE,
            "gateway": "gw-hq",
            "uplink": broker,
            "spool": {"path": str(workdir / "gateway-spool.db")},
            "buses": [{"id": "rs485-1", "host": "127.0.0.1", "port": sim_port, "timeout_s": 1.0}],
            "devices": [
                {
                    "id": d["id"],
                    "profile": d["profile"],
                    "bus": "rs485-1",
                    "unit": d["unit"],
                    "interval_s": 1.0,
                }
                for d in DEMO_DEVICES
            ],
        }
    )
    store = (
        InfluxSinkConfig(url=influx_url, database="facmon", create_database=True)
        if influx_url
        else SqliteSinkConfig(path=workdir / "telemetry.db")
    )
    collector = CollectorConfig(
        id="demo-collector",
        broker=BrokerConfig(url=broker_url, client_id="facmon-demo-collector"),
        protocol="3.1.1",
        sink=store,
    )
    api = ApiConfig(
        host=api_host,
        port=api_port,
        broker=BrokerConfig(url=broker_url),
        store=store,
        database=f"sqlite:///{workdir / 'registry.db'}",
        bootstrap_token=_demo_token(workdir),
    )
    return gateway, collector, api


def _demo_token(workdir: Path) -> SecretStr:
    """The demo's admin token: made on the first run, kept in ``workdir/api-token`` (0600)."""
    path = workdir / "api-token"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(new_token() + "\n")
    return SecretStr(path.read_text().strip())


async def run_demo(
    host: str = "127.0.0.1",
    port: int = 8000,
    workdir: Path = Path(".demo"),
    influx_url: str | None = None,
    announce: bool = True,
) -> None:
    """Run every component until cancelled."""
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    broker = EmbeddedBroker(port=free_port())
    sim_config = SimConfig.model_validate(
        {
            "endpoints": [
                {
                    "port": 0,
                    "devices": [{k: d[k] for k in ("id", "profile", "unit")} for d in DEMO_DEVICES],
                }
            ]
        }
    )
    (simulator,) = build_simulators(sim_config)
    # The clients run in an inner group so that, on the way out, they disconnect before the
    # broker and the simulator stop.
    async with asyncio.TaskGroup() as infrastructure:
        infrastructure.create_task(broker.run())
        infrastructure.create_task(simulator.run())
        await broker.ready.wait()
        await simulator.ready.wait()
        gateway_config, collector_config, api_config = _configs(
            broker.url, simulator.port, host, port, workdir, influx_url
        )
        async with asyncio.TaskGroup() as services:
            services.create_task(Collector(collector_config).run())
            services.create_task(Gateway(gateway_config, compile_plans(gateway_config)).run())
            services.create_task(ApiService(api_config).run())
            if announce:
                store = influx_url or str(workdir / "telemetry.db")
                _announce(host, port, broker.url, store, workdir / "api-token")


def _announce(host: str, port: int, broker_url: str, store: str, token_file: Path) -> None:
    from rich.console import Console  # noqa: PLC0415 - only the demo prints to a console

    base = f"http://{host}:{port}"
    console = Console(stderr=True, soft_wrap=True)  # long URLs stay whole, to copy
    console.print(
        f"[bold green]facmon demo[/] running: site [bold]{SITE}[/], "
        f"{len(DEMO_DEVICES)} simulated devices"
    )
    token = token_file.read_text().strip()
    console.print(f"  status page    {base}/#token={token}")
    console.print(f"  API health     {base}/healthz")
    console.print(f"  API docs       {base}/docs")
    console.print(f"  latest values  {base}/api/v1/devices/{DEMO_DEVICES[0]['id']}/latest")
    console.print(f"  API token      {token_file} (admin; send 'Authorization: Bearer <token>')")
    console.print(f"  MQTT broker    {broker_url}")
    console.print(f"  telemetry      {store}")
    console.print("Press Ctrl-C to stop.")
