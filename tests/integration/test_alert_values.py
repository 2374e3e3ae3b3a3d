"""An alert keeps its summary of the moment it fired and says beside it what its points
read now: in the alerts API, the asset's and room's files and the status page's lines."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from api.alerts.config import AlertsConfig
from api.alerts.manager import Alerting
from api.config import ApiConfig
from api.main import create_app
from api.routes.overview import _alerts_body
from facmon.contract import DataEnvelope, Envelope, StateEnvelope, Topic, TopicKind
from tests.integration.apps import registry_services

pytestmark = pytest.mark.integration

RULES = {
    "rules": [
        {
            "id": "too-fast",
            "kind": "speeding",
            "above": 80,
            "for": "0s",
            "match": {"profiles": ["vehicle-tracker"]},
        }
    ]
}
REGISTRY = [
    ("sites", {"id": "hq", "name": "HQ"}),
    ("buildings", {"id": "b1", "site_id": "hq", "name": "B1"}),
    ("floors", {"id": "f1", "building_id": "b1", "name": "1F"}),
    ("rooms", {"id": "yard", "floor_id": "f1", "name": "Yard", "kind": "garage"}),
    ("assets", {"id": "truck", "name": "Repair truck", "category": "vehicle", "room_id": "yard"}),
    (
        "bindings",
        {"asset_id": "truck", "device": "car-2", "effective_from": "2020-01-01T00:00:00Z"},
    ),
]


async def test_an_alert_says_its_value_at_firing_and_now_everywhere(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(RULES))
    url = ApiConfig(database=f"sqlite:///{tmp_path / 'registry.db'}").database
    async with registry_services(url, tmp_path) as (services, headers):
        config = AlertsConfig(defaults=False, rules=[tmp_path / "rules.yaml"])
        services.alerting = alerting = Alerting(config, services.sessions, "facmon")
        viewer = headers["viewer"]
        transport = httpx.ASGITransport(app=create_app(services))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            for path, body in REGISTRY:
                made = await http.post(f"/api/v1/{path}", json=body, headers=headers["admin"])
                assert made.status_code == 201, made.text
            running = asyncio.create_task(alerting.run())
            try:
                await alerting.load_registry()

                def told(kind: TopicKind, envelope: Envelope) -> None:
                    """A message from car-2's gateway, to the live state and the rules."""
                    topic = Topic(kind, "hq", "gw-1", "car-2")
                    services.live.apply(topic, envelope.model_dump_json().encode())
                    alerting.feed(topic, envelope)

                now = int(time.time() * 1000)
                told(
                    TopicKind.STATE,
                    StateEnvelope(state="online", since=now, profile="vehicle-tracker"),
                )
                for seq, speed in enumerate([104.0, 104.0], 1):
                    values = {"speed_kmh": speed, "ignition": True}
                    told(
                        TopicKind.DATA,
                        DataEnvelope(ts=now + seq, seq=seq, measurement="vehicle", values=values),
                    )
                page = await _until(http, viewer)
                told(
                    TopicKind.DATA,
                    DataEnvelope(
                        ts=now + 10,
                        seq=3,
                        measurement="vehicle",
                        values={"speed_kmh": 92.0, "ignition": True},
                    ),
                )

                (alert,) = (await http.get("/api/v1/alerts", headers=viewer)).json()["items"]
                assert "104" in alert["summary"]  # the summary stays as it was written
                assert alert["values"] == {"speed_kmh": 104.0}, alert
                assert alert["labels"]["asset"] == "truck", alert["labels"]
                expected = [
                    {
                        "point": "speed_kmh",
                        "unit": "km/h",
                        "at_firing": 104.0,
                        "now": 92.0,
                        "now_ts": now + 10,
                    }
                ]
                assert alert["readings"] == expected
                assert alert["readings_text"] == "at firing 104 km/h · now 92 km/h"
                assert alert["readings_text_zh"] == "触发时 104 km/h · 当前 92 km/h"
                assert page["readings"][0]["now"] == 104.0  # what it read then

                one = (await http.get(f"/api/v1/alerts/{alert['id']}", headers=viewer)).json()
                assert one["alert"]["readings"] == expected
                for path in ("assets/truck", "rooms/yard"):
                    (opened,) = (await http.get(f"/api/v1/{path}", headers=viewer)).json()[
                        "open_alerts"
                    ]
                    assert opened["readings"] == expected, path
                    assert opened["readings_text_zh"] == "触发时 104 km/h · 当前 92 km/h"

                (line,) = orjson.loads(await _alerts_body(services, "zh"))
                assert line["readings"] == expected
                assert line["readings_text"] == "触发时 104 km/h · 当前 92 km/h"
                (line,) = orjson.loads(await _alerts_body(services, "en"))
                assert line["readings_text"] == "at firing 104 km/h · now 92 km/h"

                # Slowed down: the alert resolves, and says what it reads now all the same.
                told(
                    TopicKind.DATA,
                    DataEnvelope(
                        ts=now + 20, seq=4, measurement="vehicle", values={"speed_kmh": 45.0}
                    ),
                )
                for _ in range(100):
                    (alert,) = (await http.get("/api/v1/alerts", headers=viewer)).json()["items"]
                    if alert["state"] == "resolved":
                        break
                    await asyncio.sleep(0.1)
                assert alert["state"] == "resolved"
                assert alert["readings_text"] == "at firing 104 km/h · now 45 km/h"
                assert (await _alerts_body(services, "en")) == b"[]"
            finally:
                running.cancel()
                await asyncio.gather(running, return_exceptions=True)


async def _until(http: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    """The first alert, once it has fired (within 10 s)."""
    for _ in range(100):
        items = (await http.get("/api/v1/alerts", headers=headers)).json()["items"]
        if items:
            return dict(items[0])
        await asyncio.sleep(0.1)
    raise AssertionError("no alert within 10 s")
