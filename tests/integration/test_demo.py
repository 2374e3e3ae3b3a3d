"""``facmon demo``: the whole product in one process, its scenario seen at the status page and
through the API within two minutes, and its live values changing.

With ``FACMON_SCREENSHOTS=<folder>`` (``make screenshots``) the scenario test keeps its
screenshots of the status page there (the README shows those of ``docs/img``).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from bench.harness.influxdb import InfluxDBServer
from facmon.net import free_port
from launcher import demo_ledger, demo_site
from tests.integration.browser import chromium
from tests.integration.processes import wait_for

pytestmark = pytest.mark.integration

LIMIT_S = 120.0
"""The issue's promise: every scenario alert within two minutes of `make demo`."""
SHOWN = """return [...document.querySelectorAll('#alert-list [data-alert]')]
    .map(e => e.dataset.alert)"""


def run_demo(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "launcher", "demo", "--port", str(port)),
                *("--workdir", str(tmp_path / "data"), *extra),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    return process, f"http://127.0.0.1:{port}", log


def stop(process: subprocess.Popen[bytes], log: Path) -> None:
    process.send_signal(signal.SIGINT)
    assert process.wait(30) == 0, log.read_text()
    text = log.read_text()
    assert "Traceback" not in text, text
    assert " ERROR " not in text, text


def auth(workdir: Path) -> dict[str, str]:
    """The demo's admin token, from the file it announces."""
    return {"Authorization": f"Bearer {(workdir / 'api-token').read_text().strip()}"}


def alerts(base: str, headers: dict[str, str]) -> dict[tuple[str, str], dict[str, Any]]:
    """Every alert by (rule, device); the first one of each (alerts come newest first)."""
    page = httpx.get(f"{base}/api/v1/alerts", params={"limit": 1000}, headers=headers).json()
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for alert in reversed(page["items"]):
        found.setdefault((alert["rule"], alert["labels"].get("device", "")), alert)
    return found


def screenshot(driver: webdriver.Chrome, path: Path) -> None:
    driver.save_screenshot(str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    keep = os.environ.get("FACMON_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / path.name)


def test_demo_raises_every_scenario_alert_within_two_minutes(tmp_path: Path) -> None:
    started = time.monotonic()
    process, base, log = run_demo(tmp_path)
    workdir = tmp_path / "data"
    expected = {(e.rule, e.device): e for e in demo_site.EXPECTED}
    try:
        wait_for(lambda: httpx.get(f"{base}/healthz").status_code == 200 or None, 60, "healthz")
        headers = auth(workdir)
        token = headers["Authorization"].removeprefix("Bearer ")
        first = wait_for(lambda: latest(base, "ups-b1-1", headers), 60, "the UPS's readings")
        with chromium("en-US") as driver:
            driver.set_window_size(1280, 1100)
            driver.get(f"{base}/#token={token}")
            shown: dict[str, float] = {}  # alert id -> seconds after start it was on the page
            seen: dict[tuple[str, str], dict[str, Any]] = {}
            pictured = False
            while time.monotonic() - started < LIMIT_S + 30:
                now = time.monotonic() - started
                for alert_id in driver.execute_script(SHOWN):
                    shown.setdefault(alert_id, now)
                seen = alerts(base, headers)
                fired = [key for key in expected if key in seen]
                if len(fired) == len(expected) and not pictured:
                    pictured = True
                    screenshot(driver, tmp_path / "status-page.png")
                    driver.find_element(By.ID, "language").click()
                    time.sleep(2)  # the page reconnects for the other language's texts
                    screenshot(driver, tmp_path / "status-page-zh.png")
                    driver.find_element(By.ID, "language").click()
                resolved = all(
                    seen[key]["state"] == "resolved"
                    for key, e in expected.items()
                    if e.resolves and key in seen
                )
                on_page = all(seen[key]["id"] in shown for key in fired)
                if pictured and resolved and on_page:
                    break
                time.sleep(0.5)
        elapsed = time.monotonic() - started
        missing = sorted(set(expected) - set(seen))
        assert not missing, f"not raised within {elapsed:.0f} s: {missing}"
        for key, alert in seen.items():
            if key not in expected:
                continue
            when = alert["started_at"]
            assert alert["id"] in shown, f"{key} ({when}) never shown at the status page"
            assert shown[alert["id"]] <= LIMIT_S, f"{key} shown after {shown[alert['id']]:.0f} s"
            state = alert["state"]
            if expected[key].resolves:
                assert state == "resolved", f"{key} should have resolved; it is {state}"
                assert alert["resolved_by"] == "auto"
            else:
                assert state == "firing", f"{key} should still fire; it is {state}"
        assert pictured
        page = httpx.get(f"{base}/api/v1/alerts", params={"limit": 1000}, headers=headers)
        rank = ["info", "warning", "critical"]
        worst: dict[tuple[str, str], str] = {}
        for alert in page.json()["items"]:
            key = (alert["rule"], alert["labels"].get("device", ""))
            worst[key] = max(worst.get(key, "info"), alert["severity"], key=rank.index)
        assert {k: worst[k] for k in expected} == {k: e.severity for k, e in expected.items()}
        print(f"every scenario alert shown at the status page by {max(shown.values()):.0f} s")

        # Live values change, every simulated device reports, and the registry holds them all.
        second = latest(base, "ups-b1-1", headers)
        assert second is not None
        assert second["ts"] > first["ts"]
        assert second["values"] != first["values"]
        assert second["state"] == "online"
        devices = httpx.get(f"{base}/api/v1/devices", headers=headers).json()
        assert {d["device"] for d in devices} >= {d.id for d in demo_site.DEVICES}
        assets = httpx.get(f"{base}/api/v1/assets", params={"limit": 1000}, headers=headers)
        assert assets.json()["total"] == len(demo_site.DEVICES)
        ledger = ("vendor", "model", "serial", "purchase_date", "warranty_end", "responsible")
        assert all(a["asset"][f] for a in assets.json()["items"] for f in ledger)
        summary = httpx.get(f"{base}/api/v1/summary", headers=headers).json()
        assert [a["asset"]["id"] for a in summary["idle"]] == [demo_ledger.IDLE]
        server_room = httpx.get(f"{base}/api/v1/rooms/b1-201", headers=headers)
        assert server_room.status_code == 200, server_room.text
        assert (workdir / "telemetry.db").exists()
        text = log.read_text()
        assert f"status page    {base}/#token={token}" in text
        robots_page = re.search(r"notifications  (http://127\.0\.0\.1:\d+/) ", text)
        assert robots_page, text
        robots = httpx.get(f"{robots_page[1]}messages").json()
        assert {m["robot"] for m in robots} == {"wecom", "dingtalk", "feishu"}, robots
        assert {m["body"].get("msgtype") or m["body"].get("msg_type") for m in robots} == {"text"}
        listed = httpx.get(robots_page[1]).text
        assert "企业微信 WeCom" in listed
        assert "飞书 Feishu" in listed
        wecom = next(m["body"]["text"]["content"] for m in robots if m["robot"] == "wecom")
        assert html.escape(json.dumps(wecom.splitlines()[0], ensure_ascii=False)[1:-1]) in listed
        assert f"API docs       {base}/docs" in text
        assert "readings/s" in text
    finally:
        stop(process, log)


def latest(base: str, device: str, headers: dict[str, str]) -> dict[str, Any] | None:
    response = httpx.get(f"{base}/api/v1/devices/{device}/latest", headers=headers)
    return response.json() if response.status_code == 200 else None  # type: ignore[no-any-return]


def test_demo_writes_to_influxdb_when_asked(tmp_path: Path, influxdb: InfluxDBServer) -> None:
    influxdb.query('DROP DATABASE "facmon"')
    process, _, log = run_demo(tmp_path, "--influx", influxdb.url)
    try:

        def rows() -> int | None:
            result = influxdb.query(
                "SELECT count(temperature) FROM environment", db="facmon", check=False
            )
            series = result["results"][0].get("series")
            return series[0]["values"][0][1] if series and series[0]["values"][0][1] >= 12 else None

        assert wait_for(rows, 60, "demo readings in InfluxDB") >= 12
    finally:
        stop(process, log)
