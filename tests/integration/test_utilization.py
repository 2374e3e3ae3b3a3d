"""Time in use: counted by the engine from live readings, stored per asset and local day,
served in the asset's file and by ``GET /api/v1/utilization``."""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import time as dt_time
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
            zone = alerting.rules.calendars["default"].zone
            today = services.local_today()
            yesterday = today - timedelta(days=1)
            noon = datetime.combine(yesterday, dt_time(12), zone)
            start = int(noon.timestamp() * 1000)
            state = StateEnvelope(
                state="online", since=start, profile="meeting-room-av", report_every_s=10
            )
            alerting.feed(Topic(TopicKind.STATE, "hq", "gw-1", "av-1"), state)
            # Yesterday 30 s off, then 30 s on: half the observed minute in use. Today (not
            # over, so in no window) a minute all in use.
            early = int(datetime.combine(today, dt_time(0, 1), zone).timestamp() * 1000)
            readings = [(start + n * 10_000, w) for n, w in enumerate([3.0] * 3 + [250.0] * 4)]
            readings += [(early + n * 10_000, 250.0) for n in range(7)]
            for seq, (ts, watts) in enumerate(readings, 1):
                data = DataEnvelope(ts=ts, seq=seq, measurement="av", values={"power_w": watts})
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
            assert (week["start"], week["end"]) == (
                str(today - timedelta(days=7)),
                str(yesterday),
            )
            assert file["utilization"][1]["share"] == 0.5
            so_far = file["utilization_today"]
            assert (so_far["day"], so_far["share"]) == (str(today), 1.0)
            assert so_far["observed_h"] == round(60 / 3600, 2)
            report = await http.get("/api/v1/utilization?group_by=category", headers=admin)
            assert report.status_code == 200
            assert report.json()["end"] == str(yesterday)
            (group,) = report.json()["groups"]
            assert (group["group"], group["assets"], group["share"]) == ("av", 1, 0.5)
            assert group["hours_per_day"] == round(30 / 3600 / 30, 2)
            # an end of today or later is answered up to yesterday, and says so
            later = await http.get(
                f"/api/v1/utilization?end={today + timedelta(days=3)}", headers=admin
            )
            assert later.json()["end"] == str(yesterday)
            assert later.json()["groups"][0]["share"] == 0.5
            only_today = await http.get(
                f"/api/v1/utilization?start={today}&end={today}", headers=admin
            )
            assert only_today.status_code == 422, only_today.text
            assert "complete local days" in only_today.text
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
