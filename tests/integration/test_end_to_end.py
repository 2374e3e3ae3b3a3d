"""One reading end to end: simulator → gateway → Mosquitto → collector → InfluxDB → API.

Every component runs as its own ``facmon`` process against real Mosquitto and InfluxDB.
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pymodbus.client import ModbusTcpClient

from bench.harness.influxdb import InfluxDBServer
from bench.harness.mosquitto import MosquittoServer
from facmon.net import free_port
from tests.integration.processes import FacmonProcess, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def system(
    tmp_path: Path, mosquitto: MosquittoServer, influxdb: InfluxDBServer, influx_db: str
) -> Iterator[dict[str, object]]:
    sim_port, api_port = free_port(), free_port()
    sink = {"kind": "influxdb", "url": influxdb.url, "database": influx_db}
    processes = {
        "sim": FacmonProcess(
            tmp_path,
            "sim",
            {
                "seed": 3,
                "endpoints": [
                    {
                        "port": sim_port,
                        "devices": [
                            {"id": "th-1", "profile": "th-sensor", "unit": 1},
                            {"id": "ups-1", "profile": "ups", "unit": 2},
                        ],
                    }
                ],
            },
        ),
        "gateway": FacmonProcess(
            tmp_path,
            "gateway",
            {
                "site": "hq",
                "gateway": "gw-e2e",
                "uplink": {"url": mosquitto.url},
                "spool": {"path": str(tmp_path / "spool.db")},
                "buses": [{"id": "line-1", "host": "127.0.0.1", "port": sim_port}],
                "devices": [
                    {
                        "id": "th-1",
                        "profile": "th-sensor",
                        "bus": "line-1",
                        "unit": 1,
                        "interval_s": 0.5,
                    },
                    {
                        "id": "ups-1",
                        "profile": "ups",
                        "bus": "line-1",
                        "unit": 2,
                        "interval_s": 0.5,
                    },
                ],
            },
        ),
        "collector": FacmonProcess(
            tmp_path,
            "collector",
            {
                "id": "c-e2e",
                "broker": {"url": mosquitto.url, "client_id": f"c-{influx_db}"},
                "sink": sink,
                "batch_max_delay_s": 0.1,
            },
        ),
        "api": FacmonProcess(
            tmp_path,
            "api",
            {
                "port": api_port,
                "broker": {"url": mosquitto.url},
                "store": sink,
                "database": f"sqlite:///{tmp_path / 'registry.db'}",
            },
        ),
    }
    command = [sys.executable, "-m", "launcher", "api", "create-token", "--role", "viewer"]
    created = subprocess.run(  # the documented way to get a first token
        [*command, "--config", str(tmp_path / "api.yaml")],
        capture_output=True,
        text=True,
        check=True,
    )
    token = created.stdout.strip()
    for process in processes.values():
        process.start()
    try:
        yield {
            "sim_port": sim_port,
            "api_url": f"http://127.0.0.1:{api_port}",
            "db": influx_db,
            "auth": {"Authorization": f"Bearer {token}"},
            **processes,
        }
    finally:
        codes = {name: process.stop() for name, process in processes.items()}
        assert codes == dict.fromkeys(processes, 0), {
            n: processes[n].log() for n, c in codes.items() if c
        }


def test_a_register_set_in_the_simulator_reaches_influxdb_and_the_api(
    system: dict[str, object], influxdb: InfluxDBServer
) -> None:
    processes = [p for p in system.values() if isinstance(p, FacmonProcess)]
    api = str(system["api_url"])
    auth: dict[str, str] = system["auth"]  # type: ignore[assignment]
    wait_for(
        lambda: httpx.get(f"{api}/healthz").json().get("broker_connected") or None,
        30,
        "the API",
        processes,
    )

    celsius = random.randint(300, 600) / 10  # a value the simulator would never produce
    client = ModbusTcpClient("127.0.0.1", port=int(str(system["sim_port"])))
    assert client.connect()
    assert not client.write_register(0, round(celsius * 10), device_id=1).isError()
    client.close()

    def influx_temperature() -> float | None:
        result = influxdb.query(
            "SELECT last(temperature) FROM environment WHERE device = 'th-1'", db=str(system["db"])
        )
        series = result["results"][0].get("series")
        value = series[0]["values"][0][1] if series else None
        return value if value == celsius else None

    assert (
        wait_for(influx_temperature, 30, f"temperature {celsius} in InfluxDB", processes) == celsius
    )

    def api_latest() -> dict[str, object] | None:
        body = httpx.get(f"{api}/api/v1/devices/th-1/latest", headers=auth).json()
        return body if body.get("values", {}).get("temperature") == celsius else None

    body = wait_for(api_latest, 15, f"temperature {celsius} through the API", processes)
    assert body["site"] == "hq"
    assert body["gateway"] == "gw-e2e"
    assert body["measurement"] == "environment"
    assert body["state"] == "online"
    assert body["source"] == "live"

    # The UPS moves by itself: its values change and its rows carry increasing seq numbers.
    def ups_rows() -> list[list[float]] | None:
        result = influxdb.query(
            "SELECT input_voltage, battery_voltage, facmon_seq FROM ups WHERE device = 'ups-1'",
            db=str(system["db"]),
        )
        series = result["results"][0].get("series")
        return series[0]["values"] if series and len(series[0]["values"]) >= 3 else None

    rows = wait_for(ups_rows, 15, "three UPS rows", processes)
    assert all(200 < row[1] < 260 and 390 < row[2] < 420 for row in rows)
    seqs = [row[3] for row in rows]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)


def test_the_api_reads_back_from_influxdb_after_a_restart(system: dict[str, object]) -> None:
    processes = [p for p in system.values() if isinstance(p, FacmonProcess)]
    api = str(system["api_url"])
    auth: dict[str, str] = system["auth"]  # type: ignore[assignment]
    wait_for(
        lambda: httpx.get(f"{api}/api/v1/devices/ups-1/latest", headers=auth).json().get("ts"),
        30,
        "UPS readings",
        processes,
    )
    gateway = system["gateway"]
    assert isinstance(gateway, FacmonProcess)
    assert gateway.stop() == 0
    api_process = system["api"]
    assert isinstance(api_process, FacmonProcess)
    assert api_process.stop() == 0
    api_process.start()
    body = wait_for(
        lambda: httpx.get(f"{api}/api/v1/devices/ups-1/latest", headers=auth).json(),
        30,
        "the restarted API",
        [api_process],
    )
    assert body["source"] == "store"
    assert body["measurement"] == "ups"
    assert 200 < body["values"]["input_voltage"] < 260
    assert body["values"]["on_battery"] is False
    missing = httpx.get(f"{api}/api/v1/devices/no-such-device/latest", headers=auth)
    assert missing.status_code == 404
    assert "no-such-device" in missing.json()["detail"]
    not_a_slug = httpx.get(f"{api}/api/v1/devices/Not%20A%20Slug/latest", headers=auth)
    assert not_a_slug.status_code == 422
    assert httpx.get(f"{api}/api/v1/devices/ups-1/latest").status_code == 401
