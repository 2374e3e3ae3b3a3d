"""``facmon demo``: the whole system in one process answers with live, changing values."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.processes import wait_for
from tests.integration.services import InfluxDBServer, free_port

pytestmark = pytest.mark.integration


def run_demo(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "facmon",
                "demo",
                "--port",
                str(port),
                "--workdir",
                str(tmp_path / "data"),
                *extra,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    return process, f"http://127.0.0.1:{port}", log


def stop(process: subprocess.Popen[bytes], log: Path) -> None:
    process.send_signal(signal.SIGINT)
    assert process.wait(20) == 0, log.read_text()
    text = log.read_text()
    assert "Traceback" not in text, text
    assert "ERROR" not in text, text


def auth(workdir: Path) -> dict[str, str]:
    """The demo's admin token, from the file it announces."""
    return {"Authorization": f"Bearer {(workdir / 'api-token').read_text().strip()}"}


def latest(base: str, device: str, workdir: Path) -> dict[str, object] | None:
    response = httpx.get(f"{base}/api/v1/devices/{device}/latest", headers=auth(workdir))
    return response.json() if response.status_code == 200 else None


def test_demo_serves_changing_live_values(tmp_path: Path) -> None:
    process, base, log = run_demo(tmp_path)
    try:
        wait_for(
            lambda: httpx.get(f"{base}/healthz").json().get("broker_connected") or None,
            60,
            "healthz",
        )
        first = wait_for(lambda: latest(base, "ups-1", tmp_path / "data"), 30, "UPS readings")
        time.sleep(3)
        second = latest(base, "ups-1", tmp_path / "data")
        assert second is not None
        assert second["ts"] > first["ts"]  # type: ignore[operator]
        assert second["values"] != first["values"]
        assert second["state"] == "online"
        devices = httpx.get(f"{base}/api/v1/devices", headers=auth(tmp_path / "data")).json()
        assert {d["device"] for d in devices} == {
            "ups-1",
            "ups-2",
            "th-server-room",
            "th-archive",
        }
        assert (tmp_path / "data" / "telemetry.db").exists()
        token = (tmp_path / "data" / "api-token").read_text().strip()
        assert f"status page    {base}/#token={token}" in log.read_text()
        page = httpx.get(f"{base}/")
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        overview = httpx.get(f"{base}/api/v1/overview", headers=auth(tmp_path / "data"))
        assert overview.status_code == 200
    finally:
        stop(process, log)


def test_demo_writes_to_influxdb_when_asked(tmp_path: Path, influxdb: InfluxDBServer) -> None:
    influxdb.query('DROP DATABASE "facmon"')
    process, _, log = run_demo(tmp_path, "--influx", influxdb.url)
    try:

        def rows() -> int | None:
            result = influxdb.query(
                "SELECT count(temperature) FROM environment", db="facmon", check=False
            )
            series = result["results"][0].get("series")
            return series[0]["values"][0][1] if series and series[0]["values"][0][1] >= 4 else None

        assert wait_for(rows, 60, "demo readings in InfluxDB") >= 4
    finally:
        stop(process, log)
