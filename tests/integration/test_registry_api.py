"""The registry API on SQLite and on a real PostgreSQL: CRUD, validation, and who may do what."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from api.config import ApiConfig
from api.main import create_app
from api.registry.models import Role
from facmon.contract import DataEnvelope, Topic, TopicKind
from storage.records import Record
from storage.sqlite import SqliteSink
from tests.integration.apps import registry_services

pytestmark = pytest.mark.integration


@dataclass
class Client:
    """An HTTP client of the app, and a header per role ("none": no token)."""

    http: httpx.AsyncClient
    headers: dict[str, dict[str, str]]
    app: FastAPI


@pytest.fixture(params=["sqlite", "postgresql"])
async def client(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Client]:
    """The API on a fresh registry database, and a header per role ("none": no token)."""
    if request.param == "sqlite":
        url = ApiConfig(database=f"sqlite:///{tmp_path / 'registry.db'}").database
    else:
        url = request.getfixturevalue("postgres_url")
    async with registry_services(url, tmp_path) as (services, headers):
        app = create_app(services)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            yield Client(http, headers, app)


async def test_a_room_file_can_be_built_changed_and_taken_down(
    client: Client,
) -> None:
    http, headers = client.http, client.headers
    admin, viewer = headers["admin"], headers["viewer"]
    for path, body in [
        ("sites", {"id": "hq", "name": "总部 Headquarters"}),
        ("buildings", {"id": "b1", "site_id": "hq", "name": "Building 1"}),
        ("floors", {"id": "b1-2f", "building_id": "b1", "name": "2F", "level": 2}),
        (
            "rooms",
            {"id": "b1-201", "floor_id": "b1-2f", "name": "Server room", "kind": "server_room"},
        ),
    ]:
        response = await http.post(f"/api/v1/{path}", json=body, headers=admin)
        assert response.status_code == 201, response.text
    for n in range(12):
        asset = {
            "id": f"ups-{n:02d}",
            "name": f"UPS {n}",
            "category": "ups" if n % 2 else "crac",
            "room_id": "b1-201",
            "serial": f"SN-{n}",
            "purchase_date": "2024-03-01",
            "cost": "12345.50",
            "tags": ["critical"],
        }
        assert (await http.post("/api/v1/assets", json=asset, headers=admin)).status_code == 201

    page = (await http.get("/api/v1/assets?category=ups&sort=-id&limit=4", headers=viewer)).json()
    assert page["total"] == 6
    assert [a["asset"]["id"] for a in page["items"]] == ["ups-11", "ups-09", "ups-07", "ups-05"]
    assert {(a["site_id"], a["building_id"]) for a in page["items"]} == {("hq", "b1")}
    page = (await http.get("/api/v1/assets?q=sn-1&offset=1", headers=viewer)).json()
    assert [a["asset"]["id"] for a in page["items"]] == ["ups-10", "ups-11"]
    assert page["total"] == 3

    one = (await http.get("/api/v1/assets/ups-03", headers=viewer)).json()["asset"]
    assert one["cost"] == "12345.50"
    assert one["purchase_date"] == "2024-03-01"
    changed = await http.patch(
        "/api/v1/assets/ups-03", json={"lifecycle": "under_maintenance"}, headers=admin
    )
    assert changed.json()["lifecycle"] == "under_maintenance"
    assert changed.json()["name"] == "UPS 3"

    in_use = await http.delete("/api/v1/rooms/b1-201", headers=admin)
    assert in_use.status_code == 409
    assert "still referenced" in in_use.json()["detail"]
    assert (await http.delete("/api/v1/assets/ups-03", headers=admin)).status_code == 204
    assert (await http.get("/api/v1/assets/ups-03", headers=viewer)).status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        ("sites", {"id": "Not A Slug", "name": "x"}, "id"),
        ("sites", {"id": "s", "name": "x", "timezone": "Mars/Olympus"}, "timezone"),
        ("sites", {"id": "s", "name": "x", "colour": "red"}, "colour"),
        ("sites", {"id": "s", "name": ""}, "name"),
        ("floors", {"id": "f", "building_id": "b", "name": "x", "level": False}, "level"),
        ("floors", {"id": "f", "building_id": "b", "name": "x", "level": "2"}, "level"),
        ("floors", {"id": "f", "building_id": "nowhere", "name": "x"}, "building_id"),
        ("assets", {"id": "a", "name": "x", "category": "ups", "cost": -1}, "cost"),
        ("assets", {"id": "a", "name": "x", "category": "ups", "cost": "1.234"}, "cost"),
        (
            "assets",
            {"id": "a", "name": "x", "category": "ups", "purchase_date": "yesterday"},
            "purchase_date",
        ),
        ("assets", {"id": "a", "name": "x", "category": "ups", "tags": "critical"}, "tags"),
        ("assets", {"id": "a", "name": "x", "category": "ups", "lifecycle": "lost"}, "lifecycle"),
    ],
)
async def test_nonsense_is_refused_with_the_field_named(
    client: Client,
    path: str,
    body: dict[str, Any],
    where: str,
) -> None:
    http, headers = client.http, client.headers
    response = await http.post(f"/api/v1/{path}", json=body, headers=headers["admin"])
    assert response.status_code == 422, response.text
    assert any(where in map(str, error["loc"]) for error in response.json()["detail"])


async def test_duplicates_and_nulls_are_refused(
    client: Client,
) -> None:
    http, headers = client.http, client.headers
    site = {"id": "hq", "name": "HQ"}
    assert (
        await http.post("/api/v1/sites", json=site, headers=headers["admin"])
    ).status_code == 201
    again = await http.post("/api/v1/sites", json=site, headers=headers["admin"])
    assert again.status_code == 409
    assert again.json()["detail"] == "site 'hq' exists already"
    null = await http.patch("/api/v1/sites/hq", json={"name": None}, headers=headers["admin"])
    assert null.status_code == 422


async def test_a_meter_tree_takes_only_meters_and_no_cycle(client: Client) -> None:
    http, admin = client.http, client.headers["admin"]
    for asset in [
        {"id": "pm-main", "name": "Main", "category": "meter"},
        {"id": "pm-hvac", "name": "HVAC", "category": "meter", "meter_parent": "pm-main"},
        {"id": "pm-201", "name": "201", "category": "meter", "meter_parent": "pm-hvac"},
        {"id": "ups-1", "name": "UPS", "category": "ups"},
    ]:
        response = await http.post("/api/v1/assets", json=asset, headers=admin)
        assert response.status_code == 201, response.text
    assert response.json()["meter_parent"] is None
    refused = {
        "/api/v1/assets/pm-main": ({"meter_parent": "pm-201"}, "makes a cycle"),
        "/api/v1/assets/pm-201": ({"meter_parent": "ups-1"}, "'ups-1' is a 'ups', not a"),
        "/api/v1/assets/ups-1": ({"meter_parent": "pm-main"}, "only a 'meter' has a meter"),
        "/api/v1/assets/pm-hvac": ({"category": "ups"}, "'pm-hvac' is upstream of pm-201"),
    }
    for path, (body, problem) in refused.items():
        response = await http.patch(path, json=body, headers=admin)
        assert response.status_code == 422, response.text
        (error,) = response.json()["detail"]
        assert error["loc"] == ["body", "meter_parent"]
        assert problem in error["msg"]
    orphan = {"id": "pm-x", "name": "X", "category": "meter", "meter_parent": "pm-gone"}
    response = await http.post("/api/v1/assets", json=orphan, headers=admin)
    assert response.status_code == 422, response.text
    moved = await http.patch(
        "/api/v1/assets/pm-201", json={"meter_parent": "pm-main"}, headers=admin
    )
    assert moved.status_code == 200, moved.text
    assert (await http.get("/api/v1/assets/pm-201", headers=admin)).json()["asset"][
        "meter_parent"
    ] == "pm-main"
    csv_type = {**admin, "Content-Type": "text/csv"}
    looped = "id,name,category,meter_parent\npm-a,A,meter,pm-b\npm-b,B,meter,pm-a\n"
    report = await http.post("/api/v1/assets/import", content=looped, headers=csv_type)
    assert report.status_code == 422, report.text
    assert {(e["row"], e["column"]) for e in report.json()["errors"]} == {
        (2, "meter_parent"),
        (3, "meter_parent"),
    }
    # A sub-meter before its main meter in the file: the main meter is stored first.
    tree = "id,name,category,meter_parent\npm-c,C,meter,pm-d\npm-d,D,meter,pm-main\n"
    report = await http.post("/api/v1/assets/import?dry_run=false", content=tree, headers=csv_type)
    assert report.status_code == 200, report.text
    assert (await http.delete("/api/v1/assets/pm-201", headers=admin)).status_code == 204
    assert (await http.delete("/api/v1/assets/pm-hvac", headers=admin)).status_code == 204
    assert (await http.delete("/api/v1/assets/pm-main", headers=admin)).status_code == 204
    # Its sub-meter is a main meter now; the one below that keeps its parent.
    file = (await http.get("/api/v1/assets/pm-d", headers=admin)).json()
    assert file["asset"]["meter_parent"] is None
    file = (await http.get("/api/v1/assets/pm-c", headers=admin)).json()
    assert file["asset"]["meter_parent"] == "pm-d"


async def test_every_endpoint_lets_in_exactly_the_roles_it_should(
    client: Client,
) -> None:
    http, headers = client.http, client.headers
    routes = [
        (method.upper(), path)
        for path, operations in client.app.openapi()["paths"].items()
        if path.startswith("/api/v1/")
        for method in operations
    ]
    assert len(routes) >= 27
    paths = client.app.openapi()["paths"]
    for method, template in routes:  # every guarded operation says it may lock a guesser out
        assert "429" in paths[template][method.lower()]["responses"], (method, template)
    assert "429" not in paths["/healthz"]["get"]["responses"]
    client.app.state.services.stopping.set()  # event streams end after their first event
    checked = 0
    for method, template in routes:
        path = re.sub(r"\{[^}]+\}", "x", template)
        kind = "documents" if "documents" in path else path.split("/")[3]
        needs = Role.VIEWER if method == "GET" else WRITERS.get(kind, Role.ADMIN)
        for who, header in headers.items():
            response = await http.request(method, path, json={}, headers=header)
            if who == "none":
                assert response.status_code == 401, (method, path)
                assert response.headers["www-authenticate"] == "Bearer"
            elif _rank(who) < _rank(needs.value):
                assert response.status_code == 403, (method, path, who)
                assert f"needs the {needs.value} role" in response.json()["detail"]
            else:
                assert response.status_code not in (401, 403), (method, path, who)
            checked += 1
    forged = await http.get("/api/v1/sites", headers={"Authorization": "Bearer fm_forged"})
    assert forged.status_code == 401
    assert (await http.get("/healthz")).status_code == 200
    assert (await http.get("/openapi.json")).status_code == 200
    assert checked == len(routes) * 4


WRITERS = {
    "work_orders": Role.OPERATOR,
    "documents": Role.OPERATOR,
    "alerts": Role.OPERATOR,
    "silences": Role.OPERATOR,
}
"""Who may change what, where it is not admin only."""


def _rank(role: str) -> int:
    return ["viewer", "operator", "admin"].index(role)


async def test_bindings_and_work_orders_keep_their_times_in_order(client: Client) -> None:
    http, headers = client.http, client.headers
    admin, operator = headers["admin"], headers["operator"]
    asset = {"id": "ups-1", "name": "UPS 1", "category": "ups"}
    assert (await http.post("/api/v1/assets", json=asset, headers=admin)).status_code == 201
    binding = {
        "asset_id": "ups-1",
        "device": "ups-1-modbus",
        "effective_from": "2026-01-01T00:00:00+08:00",
    }
    made = await http.post("/api/v1/bindings", json=binding, headers=admin)
    assert made.status_code == 201, made.text
    number = made.json()["id"]
    assert made.json()["effective_from"] == "2025-12-31T16:00:00Z"
    backwards = await http.patch(
        f"/api/v1/bindings/{number}",
        json={"effective_to": "2025-06-01T00:00:00Z"},
        headers=admin,
    )
    assert backwards.status_code == 422
    assert "effective_to must be after effective_from" in backwards.text
    naive = {**binding, "effective_from": "2026-01-01T00:00:00"}
    assert (await http.post("/api/v1/bindings", json=naive, headers=admin)).status_code == 422
    listed = (await http.get("/api/v1/bindings?device=ups-1-modbus", headers=operator)).json()
    assert [b["id"] for b in listed["items"]] == [number]

    order = {"asset_id": "ups-1", "title": "Replace battery string B"}
    opened = await http.post("/api/v1/work_orders", json=order, headers=operator)
    assert opened.status_code == 201, opened.text
    assert opened.json()["status"] == "open"
    closed = await http.patch(
        f"/api/v1/work_orders/{opened.json()['id']}",
        json={"status": "closed", "closed_at": "2000-01-01T00:00:00Z"},
        headers=operator,
    )
    assert closed.status_code == 422
    done = await http.patch(
        f"/api/v1/work_orders/{opened.json()['id']}", json={"status": "closed"}, headers=operator
    )
    assert done.status_code == 200, done.text
    assert done.json()["closed_at"] >= opened.json()["opened_at"]  # closing stamps the time
    assert (
        await http.post("/api/v1/work_orders", json=order, headers=headers["viewer"])
    ).status_code == 403
    assert (await http.get("/api/v1/work_orders/999", headers=operator)).status_code == 404
    assert (await http.get("/api/v1/work_orders/0", headers=operator)).status_code == 422


async def test_an_asset_file_joins_the_ledger_with_live_state(client: Client) -> None:
    http, headers = client.http, client.headers
    admin, viewer = headers["admin"], headers["viewer"]
    for path, body in [
        ("sites", {"id": "hq", "name": "总部"}),
        ("buildings", {"id": "b1", "site_id": "hq", "name": "1号楼"}),
        ("floors", {"id": "b1-1f", "building_id": "b1", "name": "1F"}),
        ("rooms", {"id": "b1-101", "floor_id": "b1-1f", "name": "机房"}),
        (
            "assets",
            {
                "id": "ups-a",
                "name": "UPS A",
                "category": "ups",
                "room_id": "b1-101",
                "warranty_end": "2000-01-01",
            },
        ),
        (
            "bindings",
            {"asset_id": "ups-a", "device": "ups-1", "effective_from": "2020-01-01T00:00:00Z"},
        ),
        (
            "bindings",
            {
                "asset_id": "ups-a",
                "device": "ups-0",
                "effective_from": "2019-01-01T00:00:00Z",
                "effective_to": "2020-01-01T00:00:00Z",
            },
        ),
    ]:
        assert (await http.post(f"/api/v1/{path}", json=body, headers=admin)).status_code == 201

    async def file() -> dict[str, Any]:
        response = await http.get("/api/v1/assets/ups-a", headers=viewer)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    first = await file()
    assert (first["status"], first["reason"]) == ("unknown", "no data from ups-1 yet")
    assert first["location"]["room"] == {"id": "b1-101", "name": "机房"}
    assert first["location"]["site"]["name"] == "总部"
    assert [d["device"] for d in first["devices"]] == ["ups-1"]  # ups-0's binding has ended
    assert first["warranty"]["expired"] is True

    live = client.app.state.services.live
    now = int(time.time() * 1000)
    data = {"ts": now, "seq": 1, "measurement": "ups", "values": {"load_pct": 41}}
    live.apply(Topic(TopicKind.DATA, "hq", "gw-1", "ups-1"), orjson.dumps(data))
    live.apply(Topic(TopicKind.STATUS, "hq", "gw-1"), b'{"state": "online", "ts": 1}')
    ok = await file()
    assert ok["status"] == "ok"
    assert ok["devices"][0]["values"] == {"load_pct": 41}

    live.apply(Topic(TopicKind.STATUS, "hq", "gw-1"), b'{"state": "offline", "ts": 2}')
    assert (await file())["reason"] == "gateway gw-1 is offline"

    order = {"asset_id": "ups-a", "title": "Battery check"}
    assert (await http.post("/api/v1/work_orders", json=order, headers=admin)).status_code == 201
    repaired = await file()
    assert repaired["status"] == "maintenance"
    assert repaired["work_orders"][0]["title"] == "Battery check"

    unplaced = {"id": "spare", "name": "Spare UPS", "category": "ups", "lifecycle": "idle"}
    assert (await http.post("/api/v1/assets", json=unplaced, headers=admin)).status_code == 201

    async def listed(query: str) -> list[tuple[str, str]]:
        page = (await http.get(f"/api/v1/assets?{query}", headers=viewer)).json()
        return [(a["asset"]["id"], a["status"]) for a in page["items"]]

    assert await listed("status=maintenance") == [("ups-a", "maintenance")]
    assert await listed("sort=-status") == [("spare", "unknown"), ("ups-a", "maintenance")]
    assert await listed("site=hq") == [("ups-a", "maintenance")]
    assert await listed("building=b2") == []
    assert await listed("category=ups&lifecycle=idle") == [("spare", "unknown")]
    bad = await http.get("/api/v1/assets?status=broken", headers=viewer)
    assert bad.status_code == 422
    assert (await http.get("/api/v1/assets/nope", headers=viewer)).status_code == 404


async def test_history_follows_the_asset_across_a_device_replacement(
    client: Client, tmp_path: Path
) -> None:
    http, headers = client.http, client.headers
    admin = headers["admin"]
    assert (
        await http.post(
            "/api/v1/assets", json={"id": "m1", "name": "Meter", "category": "meter"}, headers=admin
        )
    ).status_code == 201
    for device, since, until in [
        ("old", "1970-01-01T00:00:00Z", "1970-01-01T00:01:00Z"),
        ("new", "1970-01-01T00:01:00Z", None),
    ]:
        binding = {
            "asset_id": "m1",
            "device": device,
            "effective_from": since,
            "effective_to": until,
        }
        assert (await http.post("/api/v1/bindings", json=binding, headers=admin)).status_code == 201
    sink = SqliteSink(tmp_path / "telemetry.db")
    await sink.write(
        [
            Record(
                "hq",
                "gw-1",
                device,
                DataEnvelope(
                    ts=ts, seq=ts, measurement="meter", values={"kw": ts / 1000, "name": "x"}
                ),
            )
            for device, times in [
                ("old", range(0, 90_000, 10_000)),
                ("new", range(60_000, 120_000, 10_000)),
            ]
            for ts in times
        ]
    )
    await sink.close()
    query = "point=kw&start=1970-01-01T00:00:00Z&end=1970-01-01T00:02:00Z&every=30s&agg=max"
    answer = await http.get(f"/api/v1/assets/m1/history?{query}", headers=headers["viewer"])
    assert answer.status_code == 200, answer.text
    # old until 60 s (its readings at 60-80 s are ignored), new from 60 s
    assert [(v["ts"], v["value"]) for v in answer.json()["values"]] == [
        (0, 20.0),
        (30_000, 50.0),
        (60_000, 80.0),
        (90_000, 110.0),
    ]
    refused = await http.get(
        "/api/v1/assets/m1/history?point=name&start=1970-01-01T00:00:00Z&end=1970-01-01T00:02:00Z&agg=mean",
        headers=headers["viewer"],
    )
    assert refused.status_code == 422
    assert "cannot take the mean of the string point" in refused.text
    too_many = await http.get(
        "/api/v1/assets/m1/history?point=kw&start=1970-01-01T00:00:00Z&end=2000-01-01T00:00:00Z&every=1s",
        headers=headers["viewer"],
    )
    assert too_many.status_code == 422


async def test_the_room_file_and_the_summary(client: Client) -> None:
    http, headers = client.http, client.headers
    admin, viewer = headers["admin"], headers["viewer"]
    for path, body in [
        ("sites", {"id": "hq", "name": "HQ"}),
        ("buildings", {"id": "b1", "site_id": "hq", "name": "B1"}),
        ("floors", {"id": "f1", "building_id": "b1", "name": "1F"}),
        ("rooms", {"id": "r1", "floor_id": "f1", "name": "Server room", "kind": "server_room"}),
        ("assets", {"id": "th-1", "name": "Sensor", "category": "environment", "room_id": "r1"}),
        ("assets", {"id": "crac-1", "name": "CRAC", "category": "crac", "room_id": "r1"}),
        ("assets", {"id": "pc-9", "name": "Spare PC", "category": "office", "lifecycle": "idle"}),
        (
            "bindings",
            {"asset_id": "th-1", "device": "th-1", "effective_from": "2020-01-01T00:00:00Z"},
        ),
        (
            "bindings",
            {"asset_id": "crac-1", "device": "crac-1", "effective_from": "2020-01-01T00:00:00Z"},
        ),
        (
            "bindings",
            {"asset_id": "pc-9", "device": "pc-9", "effective_from": "2020-01-01T00:00:00Z"},
        ),
        ("work_orders", {"asset_id": "crac-1", "title": "Filter"}),
    ]:
        assert (await http.post(f"/api/v1/{path}", json=body, headers=admin)).status_code == 201
    live = client.app.state.services.live
    now = int(time.time() * 1000)
    for device, values in [("th-1", {"temperature": 23.5}), ("pc-9", {"on": False})]:
        data = {"ts": now, "seq": 1, "measurement": "m", "values": values}
        live.apply(Topic(TopicKind.DATA, "hq", "gw-1", device), orjson.dumps(data))

    room = (await http.get("/api/v1/rooms/r1", headers=viewer)).json()
    assert room["location"]["building"]["id"] == "b1"
    assert [(a["asset"]["id"], a["status"]) for a in room["assets"]] == [
        ("crac-1", "maintenance"),
        ("th-1", "ok"),
    ]
    assert room["status_counts"]["ok"] == 1
    assert room["environment"] == [{"device": "th-1", "ts": now, "values": {"temperature": 23.5}}]
    assert [o["title"] for o in room["work_orders"]] == ["Filter"]
    assert (await http.get("/api/v1/rooms/nowhere", headers=viewer)).status_code == 404

    summary = (await http.get("/api/v1/summary", headers=viewer)).json()
    assert summary["assets"] == 3
    assert summary["by_status"]["idle"] == 1
    assert summary["by_site"]["hq"]["maintenance"] == 1
    assert summary["by_site"][""]["idle"] == 1
    assert summary["by_category"]["environment"]["ok"] == 1
    assert summary["availability"] == round(2 / 3, 4)  # ok + idle of 3 known
    assert [a["asset"]["id"] for a in summary["idle"]] == ["pc-9"]


def ledger_csv(rows: int, *, bad: dict[int, dict[str, str]] | None = None) -> str:
    """A ledger of ``rows`` assets; ``bad`` overrides cells by data row index."""
    header = ["id", "name", "category", "room_id", "cost", "purchase_date", "lifecycle", "tags"]
    lines = [",".join(header)]
    for n in range(rows):
        row = {
            "id": f"pc-{n:05d}",
            "name": f"办公电脑 {n}",
            "category": "office",
            "room_id": "r1",
            "cost": "4999.00",
            "purchase_date": "2023-05-01",
            "lifecycle": "in_service",
            "tags": "it;desk",
        }
        row.update((bad or {}).get(n, {}))
        lines.append(",".join(row[h] for h in header))
    return "\n".join(lines) + "\n"


async def test_a_5000_row_ledger_imports_in_seconds_and_bad_rows_are_named(
    client: Client,
) -> None:
    http, headers = client.http, client.headers
    admin = headers["admin"]
    for path, body in [
        ("sites", {"id": "hq", "name": "HQ"}),
        ("buildings", {"id": "b1", "site_id": "hq", "name": "B1"}),
        ("floors", {"id": "f1", "building_id": "b1", "name": "1F"}),
        ("rooms", {"id": "r1", "floor_id": "f1", "name": "Office"}),
    ]:
        assert (await http.post(f"/api/v1/{path}", json=body, headers=admin)).status_code == 201
    csv_type = {**admin, "Content-Type": "text/csv"}

    broken = ledger_csv(
        50,
        bad={
            3: {"cost": "cheap"},
            7: {"purchase_date": "1694131200"},
            9: {"room_id": "r404", "lifecycle": "lost"},
            12: {"id": "pc-00000"},
            20: {"id": "Bad Id"},
        },
    )
    report = await http.post("/api/v1/assets/import?dry_run=true", content=broken, headers=csv_type)
    assert report.status_code == 422
    named = {(e["row"], e["column"]) for e in report.json()["errors"]}
    # data row n is spreadsheet row n + 2 (the header is row 1)
    assert named == {(5, "cost"), (9, "purchase_date"), (11, "lifecycle"), (14, "id"), (22, "id")}
    report = await http.post(
        "/api/v1/assets/import?dry_run=false", content=broken, headers=csv_type
    )
    assert report.status_code == 422
    assert (await http.get("/api/v1/assets", headers=admin)).json()["total"] == 0  # all or nothing

    room_gone = ledger_csv(3, bad={1: {"room_id": "r404"}})
    report = await http.post("/api/v1/assets/import", content=room_gone, headers=csv_type)
    assert [(e["row"], e["column"], e["message"]) for e in report.json()["errors"]] == [
        (3, "room_id", "no room 'r404'")
    ]

    good = ledger_csv(5_000)
    started = time.monotonic()
    dry = await http.post("/api/v1/assets/import?dry_run=true", content=good, headers=csv_type)
    assert dry.json() == {
        "dry_run": True,
        "rows": 5000,
        "created": 5000,
        "updated": 0,
        "errors": [],
    }
    done = await http.post("/api/v1/assets/import?dry_run=false", content=good, headers=csv_type)
    elapsed = time.monotonic() - started
    assert done.json()["created"] == 5000
    print(f"5,000-row ledger: dry run and import in {elapsed:.2f} s")
    assert (await http.get("/api/v1/assets?limit=1", headers=admin)).json()["total"] == 5000

    formula = {"name": '=HYPERLINK("http://evil","x")'}
    assert (await http.patch("/api/v1/assets/pc-00001", json=formula, headers=admin)).is_success
    exported = await http.get("/api/v1/assets/export", headers=headers["viewer"])
    assert exported.content.startswith("\ufeff".encode())
    assert "'=HYPERLINK" in exported.text  # a spreadsheet shows it as text, does not run it
    again = await http.post(
        "/api/v1/assets/import?dry_run=false", content=exported.content, headers=csv_type
    )
    assert (again.json()["created"], again.json()["updated"]) == (0, 5000)

    book = await http.get("/api/v1/assets/export?format=xlsx", headers=headers["viewer"])
    xlsx = {**admin, "Content-Type": book.headers["content-type"]}
    back = await http.post("/api/v1/assets/import?dry_run=true", content=book.content, headers=xlsx)
    assert (back.json()["updated"], back.json()["errors"]) == (5000, [])
    kept = (await http.get("/api/v1/assets/pc-00001", headers=admin)).json()["asset"]["name"]
    assert kept == formula["name"]  # the CSV import read it back without the quote
    one = (await http.get("/api/v1/assets/pc-00042", headers=admin)).json()["asset"]
    assert (one["name"], one["cost"], one["tags"]) == ("办公电脑 42", "4999.00", ["it", "desk"])

    gbk = "id,name,category\npc-gbk,旧电脑,office\n".encode("gb18030")
    assert (await http.post("/api/v1/assets/import", content=gbk, headers=csv_type)).json()[
        "created"
    ] == 1
    unknown = await http.post(
        "/api/v1/assets/import", content="id,name,category,colour\n", headers=csv_type
    )
    assert unknown.json()["errors"] == [{"row": 1, "column": "colour", "message": "unknown column"}]
    wrong_type = await http.post(
        "/api/v1/assets/import",
        content=b"{}",
        headers={**admin, "Content-Type": "application/json"},
    )
    assert wrong_type.status_code == 415
    not_xlsx = await http.post("/api/v1/assets/import", content=b"PK\x03\x04junk", headers=xlsx)
    assert not_xlsx.status_code == 422


async def test_documents_are_kept_as_uploaded(client: Client) -> None:
    http, headers = client.http, client.headers
    operator, viewer = headers["operator"], headers["viewer"]
    asset = {"id": "ups-1", "name": "UPS", "category": "ups"}
    assert (
        await http.post("/api/v1/assets", json=asset, headers=headers["admin"])
    ).status_code == 201
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 100
    made = await http.post(
        "/api/v1/assets/ups-1/documents?name=维护手册 v2.pdf",
        content=pdf,
        headers={**operator, "Content-Type": "application/pdf"},
    )
    assert made.status_code == 201, made.text
    info = made.json()
    assert (info["name"], info["content_type"], info["size"]) == (
        "维护手册 v2.pdf",
        "application/pdf",
        len(pdf),
    )
    odd = await http.post(
        "/api/v1/assets/ups-1/documents?name=x",
        content=b"x",
        headers={**operator, "Content-Type": "text/html\r\nX-Evil: 1"},
    )
    assert odd.json()["content_type"] == "application/octet-stream"
    listed = (await http.get("/api/v1/documents?asset_id=ups-1", headers=viewer)).json()
    in_file = (await http.get("/api/v1/assets/ups-1", headers=viewer)).json()["documents"]
    assert in_file == listed
    assert [d["name"] for d in listed] == ["x", "维护手册 v2.pdf"]
    got = await http.get(f"/api/v1/documents/{info['id']}/content", headers=viewer)
    assert got.content == pdf
    assert got.headers["content-type"] == "application/pdf"
    assert "filename*=UTF-8''%E7%BB%B4" in got.headers["content-disposition"]
    assert (await http.get(f"/api/v1/documents/{info['id']}", headers=viewer)).json() == info
    denied = await http.post("/api/v1/assets/ups-1/documents?name=y", content=b"y", headers=viewer)
    assert denied.status_code == 403
    nowhere = await http.post(
        "/api/v1/assets/nope/documents?name=y", content=b"y", headers=operator
    )
    assert nowhere.status_code == 404
    assert (
        await http.delete(f"/api/v1/documents/{info['id']}", headers=operator)
    ).status_code == 204
    assert (
        await http.get(f"/api/v1/documents/{info['id']}/content", headers=viewer)
    ).status_code == 404


async def test_silences_are_made_changed_and_ended(client: Client) -> None:
    http, operator = client.http, client.headers["operator"]
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 7200))
    past = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    body = {"matchers": {"asset": "ups-a"}, "ends_at": soon, "comment": "battery swap"}
    made = await http.post("/api/v1/silences", json=body, headers=operator)
    assert made.status_code == 201, made.text
    silence = made.json()
    assert silence["active"] is True
    assert silence["created_by"] == "test operator"
    number = silence["id"]
    for bad in [{**body, "ends_at": past}, {**body, "matchers": {}}, {"ends_at": soon}]:
        assert (await http.post("/api/v1/silences", json=bad, headers=operator)).status_code == 422

    change = {"ends_at": later, "matchers": {"room": "b1-101"}, "comment": "whole room"}
    changed = await http.patch(f"/api/v1/silences/{number}", json=change, headers=operator)
    assert changed.status_code == 200, changed.text
    assert changed.json()["matchers"] == {"room": "b1-101"}
    assert changed.json()["ends_at"] == later
    back = await http.patch(f"/api/v1/silences/{number}", json={"ends_at": past}, headers=operator)
    assert back.status_code == 422
    # shaped like every other validation error, as the OpenAPI description documents it
    assert back.json()["detail"] == [
        {
            "loc": ["body", "ends_at"],
            "msg": "must be after starts_at and after now",
            "type": "value_error",
        }
    ]
    unknown = await http.patch("/api/v1/silences/999", json={"comment": "x"}, headers=operator)
    assert unknown.status_code == 404
    extra = await http.patch(f"/api/v1/silences/{number}", json={"id": 5}, headers=operator)
    assert extra.status_code == 422
    got = (await http.get(f"/api/v1/silences/{number}", headers=operator)).json()
    assert (got["comment"], got["ends_at"]) == ("whole room", later)

    assert (await http.delete(f"/api/v1/silences/{number}", headers=operator)).status_code == 204
    ended = (await http.get(f"/api/v1/silences/{number}", headers=operator)).json()
    assert ended["active"] is False
    assert (await http.get("/api/v1/silences", headers=operator)).json() == []
    listed = (await http.get("/api/v1/silences?expired=true", headers=operator)).json()
    assert [s["id"] for s in listed] == [number]
    too_late = await http.patch(
        f"/api/v1/silences/{number}", json={"ends_at": later}, headers=operator
    )
    assert too_late.status_code == 409
    assert "has ended" in too_late.text
