"""The status page's alert lines say what the alert's point read when it fired and what it
reads now, labelled, in English and Chinese: a real `facmon api` and Debian's chromium."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import orjson
import pytest

from api.registry.tokens import new_token
from bench.harness.mosquitto import MosquittoServer
from facmon.contract import Topic, TopicKind
from tests.integration.browser import chromium
from tests.integration.processes import start_api
from tests.integration.test_status_page import publish, text, until

pytestmark = pytest.mark.integration

PREFIX = "facmon-readings"
ESTATE = [
    ("sites", {"id": "hq", "name": "HQ"}),
    ("buildings", {"id": "b1", "site_id": "hq", "name": "B1"}),
    ("floors", {"id": "b1-1f", "building_id": "b1", "name": "1F", "level": 1}),
    ("rooms", {"id": "b1-101", "floor_id": "b1-1f", "name": "Server room"}),
    ("assets", {"id": "ups-a", "name": "UPS A", "category": "ups", "room_id": "b1-101"}),
    (
        "bindings",
        {"asset_id": "ups-a", "device": "ups-9", "effective_from": "2020-01-01T00:00:00Z"},
    ),
]


def charge(percent: float, seq: int) -> tuple[str, bytes]:
    """A reading of the UPS's battery charge, stamped now."""
    topic = Topic(TopicKind.DATA, "hq", "gw-1", "ups-9", PREFIX)
    data = {
        "ts": int(time.time() * 1000),
        "seq": seq,
        "measurement": "ups",
        "values": {"battery_charge_pct": percent},
    }
    return str(topic), orjson.dumps(data)


def test_an_alert_line_shows_the_value_at_firing_and_now(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    admin_token = new_token()
    api, base = start_api(tmp_path, mosquitto.url, admin_token, prefix=PREFIX)
    try:
        admin = {"Authorization": f"Bearer {admin_token}"}
        for path, body in ESTATE:
            made = httpx.post(f"{base}/api/v1/{path}", json=body, headers=admin)
            assert made.status_code == 201, made.text
        state = Topic(TopicKind.STATE, "hq", "gw-1", "ups-9", PREFIX)
        since = int(time.time() * 1000)
        online = {"state": "online", "since": since, "profile": "ups", "report_every_s": 60}
        publish(mosquitto, (str(state), orjson.dumps(online)))
        time.sleep(1)  # the API places the device (its registry is read after a change)
        publish(mosquitto, charge(15.0, 1))  # below 20 %: the profile's critical fault
        with chromium("en-US") as driver:
            driver.get(f"{base}/#token={admin_token}")
            until(driver, "the alert", lambda: "at firing 15 %" in text(driver, "#alert-list"))
            assert text(driver, "#alert-list .readings") == "· at firing 15 % · now 15 %"
            publish(mosquitto, charge(12.0, 2))  # still below: the same alert, read anew
            until(
                driver,
                "the value now",
                lambda: text(driver, "#alert-list .readings") == "· at firing 15 % · now 12 %",
            )
            driver.find_element("id", "language").click()
            until(
                driver,
                "the Chinese line",
                lambda: text(driver, "#alert-list .readings") == "· 触发时 15 % · 当前 12 %",
            )
    finally:
        assert api.stop() == 0
