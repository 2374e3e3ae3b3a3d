"""Alerts end to end in a running `facmon api`: from messages on a real Mosquitto to a real
HTTP receiver, real robots' endpoints on loopback and a real SMTP server."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from api.registry.tokens import new_token
from bench.harness.mosquitto import MosquittoServer
from facmon.contract import Topic, TopicKind
from facmon.net import free_port
from tests.integration.processes import FacmonProcess, start_api, wait_for
from tests.integration.receivers import Received

pytestmark = pytest.mark.integration

# Secrets no signature or log line can hold by chance (a two-letter one sometimes stood in
# the base64 of DingTalk's signature).
WECOM_KEY = "wecom-key-never-logged"
DINGTALK_SECRET = "dingtalk-secret-never-sent"
FEISHU_SECRET = "feishu-secret-never-sent"

ADMIN = new_token()
PREFIX = "facmon-alerts"
"""A prefix of its own: what other tests leave retained on the broker is not seen."""
RULES = {
    "rules": [
        {
            "id": "hot",
            "kind": "threshold",
            "point": "temperature",
            "above": 27,
            "clear": 25,
            "for": "1s",
            "severity": "critical",
            "match": {"room_kinds": ["server_room"]},
        },
        {"id": "comm", "kind": "comm_loss", "factor": 3},
        {"id": "faults", "kind": "fault"},
        {"id": "forced", "kind": "door_forced", "severity": "critical"},
    ],
    "inhibit": [
        {
            "source": {"rule": "comm", "key": "gateway"},
            "target": {"rule": "comm"},
            "equal": ["gateway"],
        }
    ],
}
ESTATE = [
    ("sites", {"id": "hq", "name": "总部"}),
    ("buildings", {"id": "b1", "site_id": "hq", "name": "1号楼"}),
    ("floors", {"id": "b1-1f", "building_id": "b1", "name": "1F"}),
    ("rooms", {"id": "r1", "floor_id": "b1-1f", "name": "机房", "kind": "server_room"}),
    ("assets", {"id": "th-a", "name": "温湿度 A", "category": "environment", "room_id": "r1"}),
    ("assets", {"id": "ups-a", "name": "UPS A", "category": "ups", "room_id": "r1"}),
    ("assets", {"id": "door-a", "name": "机房门", "category": "door", "room_id": "r1"}),
    ("assets", {"id": "th-b", "name": "温湿度 B", "category": "environment", "room_id": "r1"}),
    *(
        ("bindings", {"asset_id": a, "device": d, "effective_from": "2020-01-01T00:00:00Z"})
        for a, d in (("th-a", "th-1"), ("ups-a", "ups-1"), ("door-a", "door-1"), ("th-b", "th-2"))
    ),
]


@dataclass
class Api:
    process: FacmonProcess
    base: str
    port: int
    folder: Path
    config: dict[str, Any]

    def get(self, path: str) -> Any:
        response = httpx.get(f"{self.base}{path}", headers=HEADERS)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, body: dict[str, Any], status: int = 200) -> Any:
        response = httpx.post(f"{self.base}{path}", json=body, headers=HEADERS)
        assert response.status_code == status, response.text
        return response.json()


HEADERS = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture(scope="module")
def api(
    tmp_path_factory: pytest.TempPathFactory,
    mosquitto: MosquittoServer,
    received: tuple[Received, int, int],
) -> Iterator[Api]:
    _, http_port, smtp_port = received
    folder = tmp_path_factory.mktemp("alerts")
    (folder / "rules.yaml").write_text(yaml.safe_dump(RULES, allow_unicode=True))
    hook = f"http://127.0.0.1:{http_port}"
    config = {
        "prefix": PREFIX,
        "alerts": {
            "defaults": False,
            "rules": [str(folder / "rules.yaml")],
            "smtp": {
                "host": "127.0.0.1",
                "port": smtp_port,
                "security": "none",
                "sender": "alerts@example.com",
            },
            "routes": [
                {
                    "name": "ops",
                    "language": "zh",
                    "group_interval_s": 2,
                    "targets": [f"{hook}/hook", "mailto:ops@example.com"],
                },
                {
                    "name": "robots",
                    "match": {"severities": ["critical"]},
                    "language": "en",
                    "targets": [
                        f"wecom+{hook}/wecom?key={WECOM_KEY}",
                        f"dingtalk+{hook}/fail?access_token=T1&secret={DINGTALK_SECRET}",
                        f"feishu+{hook}/feishu/TOKEN?secret={FEISHU_SECRET}",
                    ],
                },
                {
                    "name": "oncall",
                    "match": {"rules": ["hot"]},
                    "language": "en",
                    "group_interval_s": 0,
                    "renotify_s": 2,
                    "escalate_after_s": 4,
                    "targets": [f"{hook}/esc"],
                    "escalate_to": [f"{hook}/boss"],
                },
            ],
        },
    }
    port = free_port()
    process, base = start_api(folder, mosquitto.url, ADMIN, port, **config)
    made = Api(process, base, port, folder, config)
    for path, body in ESTATE:
        made.post(f"/api/v1/{path}", body, 201)
    yield made
    for device in (
        None,
        "th-1",
        "th-2",
        "ups-1",
        "door-1",
    ):  # retained: other tests share the broker
        kind = TopicKind.STATUS if device is None else TopicKind.STATE
        topic = str(Topic(kind, "hq", "gw-1", device, PREFIX))
        subprocess.run(
            [
                "mosquitto_pub",
                "-h",
                mosquitto.host,
                "-p",
                str(mosquitto.port),
                "-r",
                "-n",
                "-t",
                topic,
            ],
            check=True,
            timeout=10,
        )
    assert made.process.stop() == 0
    log = made.process.log(100_000)
    assert "Traceback" not in log, log
    for secret in (WECOM_KEY, DINGTALK_SECRET, FEISHU_SECRET):
        assert secret not in log


def publish(
    broker: MosquittoServer,
    kind: TopicKind,
    device: str | None,
    body: dict[str, Any],
    retain: bool = False,
) -> None:
    topic = Topic(kind, "hq", "gw-1", device, PREFIX)
    subprocess.run(
        [
            "mosquitto_pub",
            "-h",
            broker.host,
            "-p",
            str(broker.port),
            "-q",
            "1",
            *(["-r"] if retain else []),
            "-t",
            str(topic),
            "-m",
            orjson.dumps(body).decode(),
        ],
        check=True,
        timeout=10,
    )


def now_ms() -> int:
    return int(time.time() * 1000)


def state(broker: MosquittoServer, device: str, profile: str, every: float = 60.0) -> None:
    """The device's state, retained as its gateway publishes it."""
    publish(
        broker,
        TopicKind.STATE,
        device,
        {"state": "online", "since": now_ms(), "profile": profile, "report_every_s": every},
        retain=True,
    )


def data(broker: MosquittoServer, device: str, values: dict[str, Any], seq: int = 1) -> None:
    publish(
        broker,
        TopicKind.DATA,
        device,
        {"ts": now_ms(), "seq": seq, "measurement": "m", "values": values},
    )


def alerts(api: Api, query: str = "") -> list[dict[str, Any]]:
    return api.get(f"/api/v1/alerts?{query}")["items"]  # type: ignore[no-any-return]


def test_an_alert_fires_once_is_told_everywhere_and_resolves(
    api: Api, mosquitto: MosquittoServer, received: tuple[Received, int, int]
) -> None:
    got = received[0]
    wait_for(
        lambda: httpx.get(f"{api.base}/healthz").json()["broker_connected"] or None,
        30,
        "the API on the broker",
        [api.process],
    )
    watcher = subprocess.Popen(
        [
            "mosquitto_sub",
            "-h",
            mosquitto.host,
            "-p",
            str(mosquitto.port),
            "-q",
            "1",
            "-v",
            "-t",
            f"{PREFIX}/v1/alerts/#",
            "-W",
            "60",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.5)
    state(mosquitto, "th-1", "th-sensor")
    for n in range(4):  # above 27 for more than a second, then it must not fire again
        data(mosquitto, "th-1", {"temperature": 28.0 + n / 4, "humidity": 50.0}, seq=n + 1)
        time.sleep(0.5)
    (hook,) = wait_for(lambda: got.hooks("firing") or None, 20, "the webhook", [api.process])
    (alert,) = hook["alerts"]
    assert (alert["rule"], alert["severity"], alert["labels"]["asset"]) == (
        "hot",
        "critical",
        "th-a",
    )
    assert hook["title"].startswith("[严重] 1号楼 机房 温湿度 A: temperature 为 28")
    mail = wait_for(lambda: got.mails or None, 20, "the e-mail", [api.process])[0]
    parsed = message_from_bytes(mail.content)
    assert str(make_header(decode_header(parsed["Subject"]))) == hook["title"]
    assert mail.rcpt_tos == ["ops@example.com"]
    wecom = wait_for(lambda: got.at("/wecom") or None, 20, "the WeCom robot", [api.process])
    assert wecom[0][1]["text"]["content"].startswith("[CRITICAL] 1号楼 机房 温湿度 A")
    feishu = wait_for(lambda: got.at("/feishu") or None, 20, "the Feishu robot")
    assert {"timestamp", "sign", "msg_type"} <= set(feishu[0][1])
    dingtalk = wait_for(lambda: got.at("/fail") or None, 20, "the DingTalk robot")
    assert "sign=" in dingtalk[0][0]
    assert "timestamp=" in dingtalk[0][0]
    assert DINGTALK_SECRET not in dingtalk[0][0]  # the secret signs, it is not sent

    (stored,) = alerts(api, "state=open")
    assert stored["id"] == alert["id"]
    assert [a["id"] for a in alerts(api, "asset=th-a&site=hq")] == [alert["id"]]
    assert alerts(api, "asset=th-b") == []
    assert [a["id"] for a in alerts(api, "room=r1&building=b1")] == [alert["id"]]
    assert api.get("/api/v1/alerts?room=nowhere")["total"] == 0
    deliveries = api.get(f"/api/v1/alerts/{alert['id']}")["deliveries"]
    by_target = {d["target"]: d for d in deliveries}
    assert (
        by_target[f"wecom+http://127.0.0.1:{received[1]}/wecom?key=%2A%2A%2A"]["status"] == "sent"
    )
    failed = [d for d in deliveries if "fail" in d["target"]]
    assert failed[0]["status"] == "pending"
    assert failed[0]["last_error"] == "dingtalk refused it: code 310000 sign not match"
    wait_for(lambda: len(got.at("/fail")) >= 2 or None, 30, "a retry of the refused delivery")

    data(mosquitto, "th-1", {"temperature": 24.0}, seq=10)
    resolved = wait_for(lambda: got.hooks("resolved") or None, 20, "the resolution")
    assert resolved[0]["alerts"][0]["state"] == "resolved"
    assert len(got.hooks("firing")) == 1  # once, not at every reading
    (done,) = alerts(api, "state=resolved")
    assert done["resolved_by"] == "auto"
    # The lifecycle on the broker, for the collector (and Grafana's annotations).
    time.sleep(1)
    watcher.terminate()
    lines = [line.split(" ", 1) for line in watcher.communicate()[0].splitlines()]
    told = [(topic, orjson.loads(body)) for topic, body in lines]
    hot = [(t, b["state"]) for t, b in told if b["rule"] == "hot"]
    assert hot == [(f"{PREFIX}/v1/alerts/hq", "firing"), (f"{PREFIX}/v1/alerts/hq", "resolved")]


def test_silences_maintenance_and_inhibition_keep_alerts_quiet(
    api: Api, mosquitto: MosquittoServer, received: tuple[Received, int, int]
) -> None:
    got = received[0]
    before = len(got.hooks())
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    silence = api.post("/api/v1/silences", {"matchers": {"asset": "ups-a"}, "ends_at": until}, 201)
    state(mosquitto, "ups-1", "ups")
    time.sleep(1.5)  # the silence is read by the alert manager
    data(mosquitto, "ups-1", {"battery_low": True, "load_pct": 40})
    quiet = wait_for(lambda: alerts(api, "rule=faults") or None, 20, "the UPS alert")
    assert quiet[0]["quiet"] == f"silenced by silence #{silence['id']}"

    order = api.post("/api/v1/work_orders", {"asset_id": "door-a", "title": "Lock repair"}, 201)
    state(mosquitto, "door-1", "door-controller")
    time.sleep(1.5)
    publish(
        mosquitto,
        TopicKind.EVENT,
        "door-1",
        {"ts": now_ms(), "seq": 1, "type": "door_forced", "attrs": {}},
    )
    forced = wait_for(lambda: alerts(api, "rule=forced") or None, 20, "the door alert")
    assert forced[0]["quiet"] == f"work order #{order['id']} is open on door-a"

    publish(mosquitto, TopicKind.STATUS, None, {"state": "offline", "ts": now_ms()}, retain=True)
    gone = wait_for(
        lambda: [a for a in alerts(api, "rule=comm") if a["labels"]["key"] == "gateway"] or None,
        20,
        "the gateway alert",
    )
    assert gone[0]["quiet"] == ""
    # th-1 reports every 60 s by its state; say 1 s so that silence comes soon.
    state(mosquitto, "th-1", "th-sensor", every=1.0)
    data(mosquitto, "th-1", {"temperature": 22.0}, seq=20)
    silent = wait_for(
        lambda: list(alerts(api, "rule=comm&device=th-1")) or None, 20, "th-1's silence"
    )
    assert silent[0]["quiet"] == f"inhibited by alert {gone[0]['id']}"
    time.sleep(3)  # groups flushed
    told = [a["rule"] for h in got.hooks()[before:] for a in h["alerts"]]
    assert told == ["comm"]  # the gateway only: nothing silenced, maintained or inhibited
    publish(mosquitto, TopicKind.STATUS, None, {"state": "online", "ts": now_ms()}, retain=True)


def test_unacknowledged_alerts_are_reminded_and_escalated_and_streamed(
    api: Api, mosquitto: MosquittoServer, received: tuple[Received, int, int]
) -> None:
    got = received[0]

    def about(prefix: str, alert_id: str) -> list[str]:
        return [b["what"] for _, b in got.at(prefix) if alert_id in [a["id"] for a in b["alerts"]]]

    with httpx.stream(
        "GET", f"{api.base}/api/v1/alerts/stream", headers=HEADERS, timeout=30
    ) as stream:
        lines = stream.iter_lines()
        assert next(lines).startswith("retry:")
        assert next(lines) == ""
        assert next(lines) == "event: open"
        state(mosquitto, "th-2", "th-sensor")
        for n in range(4):
            data(mosquitto, "th-2", {"temperature": 28.5}, seq=100 + n)
            time.sleep(0.5)
        (alert,) = wait_for(lambda: alerts(api, "device=th-2") or None, 20, "th-2's alert")
        events = []
        for line in lines:
            if line.startswith("data:") and alert["id"] in line:
                events.append(orjson.loads(line[5:]))
                break
        assert events[0]["state"] == "firing"
        # Not acknowledged: reminded every 2 s, escalated after 4 s, once.
        wait_for(lambda: about("/boss", alert["id"]) or None, 20, "the escalation")
        assert about("/boss", alert["id"]) == ["escalation"]
        told = about("/esc", alert["id"])
        assert told[0] == "firing"
        assert "reminder" in told
        api.post(f"/api/v1/alerts/{alert['id']}/acknowledge", {"comment": "on my way"})
        for line in lines:
            if line.startswith("data:") and alert["id"] in line:
                assert orjson.loads(line[5:])["state"] == "acknowledged"
                break
    reminded = len(about("/esc", alert["id"]))
    time.sleep(4)  # acknowledged: no more reminders
    assert len(about("/esc", alert["id"])) == reminded
    assert about("/boss", alert["id"]) == ["escalation"]
    data(mosquitto, "th-2", {"temperature": 20.0}, seq=110)
    wait_for(lambda: "resolved" in about("/esc", alert["id"]) or None, 20, "the resolution")


def test_people_acknowledge_comment_resolve_and_a_restart_keeps_open_alerts(
    api: Api, mosquitto: MosquittoServer, received: tuple[Received, int, int]
) -> None:
    got = received[0]
    (ups,) = alerts(api, "rule=faults&state=open")
    acked = api.post(f"/api/v1/alerts/{ups['id']}/acknowledge", {"comment": "on it"})
    assert (acked["state"], acked["acknowledged_by"]) == ("acknowledged", "bootstrap")
    again = httpx.post(
        f"{api.base}/api/v1/alerts/{ups['id']}/acknowledge", json={}, headers=HEADERS
    )
    assert again.status_code == 409
    api.post(f"/api/v1/alerts/{ups['id']}/comments", {"text": "battery ordered"})
    order = api.post(f"/api/v1/alerts/{ups['id']}/work_order", {"assignee": "王工"}, 201)
    assert (order["asset_id"], order["alert_id"]) == ("ups-a", ups["id"])
    notes = [n["what"] for n in api.get(f"/api/v1/alerts/{ups['id']}")["notes"]]
    assert notes[:3] == ["fired", "acknowledged", "comment"]

    open_before = {a["id"] for a in alerts(api, "state=open")}
    hooks_before = len(got.hooks())
    assert api.process.stop() == 0
    process, _ = start_api(api.folder, mosquitto.url, ADMIN, api.port, **api.config)
    api.process = process
    assert {a["id"] for a in alerts(api, "state=open")} == open_before
    data(mosquitto, "ups-1", {"battery_low": True}, seq=30)  # still true: no new alert
    time.sleep(2)
    assert {a["id"] for a in alerts(api, "state=open")} == open_before
    data(mosquitto, "ups-1", {"battery_low": False}, seq=31)  # cleared: resolved
    wait_for(
        lambda: api.get(f"/api/v1/alerts/{ups['id']}")["alert"]["state"] == "resolved" or None,
        20,
        "the UPS alert resolved after the restart",
    )
    resolved = api.post(
        f"/api/v1/alerts/{alerts(api, 'rule=forced')[0]['id']}/resolve", {"comment": "false alarm"}
    )
    assert resolved["resolved_by"] == "bootstrap"
    assert [h["what"] for h in got.hooks()[hooks_before:]] in ([], ["resolved"])
    print(f"\n{len(open_before)} open alerts kept over the restart, none fired again")
    assert api.process.stop() == 0  # the fixture's checks follow
