"""Time in use: counted by the engine from live readings, stored per asset and local day,
served in the asset's file and by ``GET /api/v1/utilization``."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from api.alerts.config import AlertsConfig
from api.alerts.manager import Alerting
from api.config import ApiConfig
from api.main import create_app
from facmon.contract import DataEnvelope, StateEnvelope, Topic, TopicKind
from tests.integration.apps import registry_services

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_time_in_use_reaches_the_file_and_the_report(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        ApiConfig(database=f"sqlite:///{tmp_path / 'registry.db'}").database
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    async with registry_services(url, tmp_path) as (services, headers):
        services.alerting = alerting = Alerting(AlertsConfig(), services.sessions, "facmon")
        app = create_app(services)
        admin = headers["admin"]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            for path, body in [
                ("sites", {"id": "hq", "name": "HQ"}),
                ("buildings", {"id": "b1", "site_id": "hq", "name": "B1"}),
                ("floors", {"id": "f1", "building_id": "b1", "name": "1F"}),
                (
                    "rooms",
                    {"id": "m1", "floor_id": "f1", "name": "Meeting room", "kind": "meeting"},
                ),
                ("assets", {"id": "proj", "name": "Projector", "category": "av", "room_id": "m1"}),
                (
                    "bindings",
                    {
                        "asset_id": "proj",
                        "device": "av-1",
                        "effective_from": "2020-01-01T00:00:00Z",
                    },
                ),
            ]:
                assert (
                    await http.post(f"/api/v1/{path}", json=body, headers=admin)
                ).status_code == 201
            await alerting.load_registry()
            start = int(time.time() * 1000) - 60_000
            state = StateEnvelope(
                state="online", since=start, profile="meeting-room-av", report_every_s=10
            )
            alerting.feed(Topic(TopicKind.STATE, "hq", "gw-1", "av-1"), state)
            # 30 s off, then 30 s on: half the observed minute in use.
            for n, watts in enumerate([3.0, 3.0, 3.0, 250.0, 250.0, 250.0, 250.0]):
                data = DataEnvelope(
                    ts=start + n * 10_000, seq=n + 1, measurement="av", values={"power_w": watts}
                )
                alerting.feed(Topic(TopicKind.DATA, "hq", "gw-1", "av-1"), data)
            await alerting.flush_usage()
            await alerting.flush_usage()  # nothing new: nothing added

            file = (await http.get("/api/v1/assets/proj", headers=headers["viewer"])).json()
            week = file["utilization"][0]
            assert (week["days"], week["in_use_h"], week["observed_h"], week["share"]) == (
                7,
                round(30 / 3600, 2),
                round(60 / 3600, 2),
                0.5,
            )
            report = await http.get("/api/v1/utilization?group_by=category", headers=admin)
            assert report.status_code == 200
            (group,) = report.json()["groups"]
            assert (group["group"], group["assets"], group["share"]) == ("av", 1, 0.5)
            by_building = await http.get("/api/v1/utilization?group_by=building", headers=admin)
            assert by_building.json()["groups"][0]["group"] == "b1"
            bad = await http.get(
                "/api/v1/utilization?start=2026-02-01&end=2026-01-01", headers=admin
            )
            assert bad.status_code == 422
            # the first days of the calendar: no 30-day window before them, no data (was a 500)
            earliest = await http.get("/api/v1/utilization?end=0001-01-01", headers=admin)
            assert earliest.status_code == 200, earliest.text
            assert earliest.json()["start"] == earliest.json()["end"] == "0001-01-01"
