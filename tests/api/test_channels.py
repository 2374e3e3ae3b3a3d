"""The notification channels: every body sent is byte for byte what facmon has always sent.

The golden data in ``tests/api/cases/channels.json`` was captured from the code before the
channels became one module each; a change to a body shows up here as a diff.
"""

from __future__ import annotations

import json
import os
import smtplib
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import yaml

from api.alerts.channels.base import DeliveryError, Message, Target
from api.alerts.channels.registry import CHANNELS, deliver, parse_target, register
from api.alerts.channels.smtp import SmtpConfig
from api.alerts.outbox import alert_data, notification
from api.config import ApiConfig
from api.registry.models import Alert, AlertState
from facmon.config import ConfigError, load_config

GOLDEN = Path(__file__).parent / "cases" / "channels.json"
WRITE = os.environ.get("FACMON_WRITE_GOLDEN") == "1"

TARGETS = [
    "https://hooks.example.com/facmon?x=1",
    "http://user:pw@hooks.example.com/facmon",
    "wecom+https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY",
    "dingtalk+https://oapi.dingtalk.com/robot/send?access_token=TOKEN",
    "dingtalk+https://oapi.dingtalk.com/robot/send?access_token=TOKEN&secret=SEC",
    "feishu+https://open.feishu.cn/open-apis/bot/v2/hook/TOKEN",
    "feishu+https://open.feishu.cn/open-apis/bot/v2/hook/TOKEN?secret=SEC",
    "mailto:ops@example.com, duty@example.com",
]
BAD_TARGETS = [
    "ftp://example.com/x",
    "mailto:",
    "mailto:nobody",
    "wecom+https://qyapi.weixin.qq.com/cgi-bin/webhook/send",
    "dingtalk+https://oapi.dingtalk.com/robot/send?secret=SEC",
    "slack+https://hooks.slack.com/x",
    "https:///no-host",
]
ANSWERS: list[tuple[int, Any]] = [
    (200, {"errcode": 0, "errmsg": "ok"}),
    (200, {"errcode": 310000, "errmsg": "sign not match"}),
    (200, {"code": 19021, "msg": "sign match fail"}),
    (200, {"StatusCode": 0, "StatusMessage": "success"}),
    (200, ["not", "a", "mapping"]),
    (200, "not json"),
    (500, {"error": "down"}),
]


def _alert(number: int, state: AlertState = AlertState.FIRING) -> Alert:
    started = datetime(2026, 3, 2, 1, 2, 3 + number, tzinfo=UTC)
    return Alert(
        id=f"a-00000000000{number}",
        fingerprint=f"server-room-hot/ths-{number}/",
        rule="server-room-hot",
        kind="threshold",
        severity="critical" if number % 2 else "warning",
        state=state,
        subject=f"ths-{number}",
        labels={
            "site": "hq",
            "site_name": "总部",
            "building_name": "1号楼",
            "room_name": "机房",
            "asset_name": f"温湿度 {number}",
            "device": f"ths-{number}",
        },
        values={"temperature": 28.5 + number},
        summary=f"temperature is {28.5 + number}, above 27",
        summary_zh=f"temperature 为 {28.5 + number}，高于 27",
        started_at=started,
        resolved_at=started if state is AlertState.RESOLVED else None,
    )


def _messages() -> dict[str, Message]:
    made: dict[str, Message] = {}
    for language in ("zh", "en"):
        for what, alerts in (
            ("firing", [_alert(1)]),
            ("firing", [_alert(1), _alert(2), _alert(3)]),
            ("resolved", [_alert(2, AlertState.RESOLVED)]),
            ("reminder", [_alert(1)]),
            ("escalation", [_alert(1), _alert(2)]),
        ):
            title, text = notification(alerts, language, what)
            name = f"{language}-{what}-{len(alerts)}"
            made[name] = Message(title, text, what, language, [alert_data(a) for a in alerts])
    return made


class _Mail:
    sent: ClassVar[list[bytes]] = []

    def __init__(self, host: str, port: int, timeout: float, **_: Any) -> None:
        self.host = host

    def __enter__(self) -> _Mail:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def starttls(self, **_: Any) -> None:
        return None

    def login(self, user: str, password: str) -> None:
        return None

    def send_message(self, mail: Any) -> None:
        _Mail.sent.append(bytes(mail))


async def _render(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    monkeypatch.setattr(time, "time", lambda: 1_772_500_000.123)
    monkeypatch.setattr(smtplib, "SMTP", _Mail)
    smtp = SmtpConfig(host="mail.example.com", sender="facmon@example.com", username="u")
    seen: list[dict[str, str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append({"url": str(request.url), "body": request.content.decode()})
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})

    out: dict[str, Any] = {"targets": {}, "bodies": {}, "refusals": {}, "bad": {}}
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        for text in TARGETS:
            target = parse_target(text)
            out["targets"][text] = {"kind": target.kind, "url": target.url, "shown": target.shown}
            for name, message in _messages().items():
                seen.clear()
                _Mail.sent.clear()
                await deliver(target, message, http, smtp)
                sent = list(seen) or [{"mail": m.decode()} for m in _Mail.sent]
                out["bodies"][f"{target.kind} {text} {name}"] = sent
    message = _messages()["zh-firing-1"]
    for text in TARGETS[:-1]:
        target = parse_target(text)
        for status, body in ANSWERS:

            def refuse(request: httpx.Request, status: int = status, body: Any = body) -> Any:
                if body == "not json":
                    return httpx.Response(status, text=body)
                return httpx.Response(status, json=body)

            async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
                try:
                    await deliver(target, message, http, smtp)
                    said = ""
                except DeliveryError as exc:
                    said = exc.reason
            out["refusals"][f"{text} {status} {json.dumps(body, ensure_ascii=False)}"] = said
    for text in BAD_TARGETS:
        with pytest.raises(ValueError) as caught:
            parse_target(text)
        out["bad"][text] = str(caught.value)
    try:
        await deliver(parse_target(TARGETS[-1]), message, http, None)
    except DeliveryError as exc:
        out["no_smtp"] = exc.reason
    time.tzset()
    return out


async def test_every_channel_sends_the_bodies_it_always_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rendered = await _render(monkeypatch)
    monkeypatch.delenv("TZ")
    time.tzset()
    if WRITE:
        GOLDEN.write_text(json.dumps(rendered, ensure_ascii=False, indent=1) + "\n")
    golden = json.loads(GOLDEN.read_text())
    for section in ("targets", "bodies", "refusals", "bad"):
        assert rendered[section] == golden[section], section
    assert rendered["no_smtp"] == golden["no_smtp"]


def test_a_target_of_no_channel_is_an_error_at_load_naming_it_without_secrets(
    tmp_path: Path,
) -> None:
    text = "slack+https://user:pw@hooks.slack.com/x?token=T0K3N&secret=S3C&team=ops"
    routes = [{"name": "ops", "targets": ["https://hooks.example.com/x", text]}]
    path = tmp_path / "api.yaml"
    path.write_text(yaml.safe_dump({"alerts": {"routes": routes}}))
    with pytest.raises(ConfigError) as caught:
        load_config(ApiConfig, path, env={})
    said = str(caught.value)
    assert "alerts.routes[0].targets" in said
    assert "slack+https://hooks.slack.com/x?token=%2A%2A%2A&secret=%2A%2A%2A&team=ops" in said
    assert "T0K3N" not in said
    assert "S3C" not in said
    assert "pw@" not in said


def test_every_channel_is_registered_once_and_a_second_registration_is_refused() -> None:
    assert list(CHANNELS) == ["webhook", "wecom", "dingtalk", "feishu", "email"]
    with pytest.raises(ValueError, match="registered twice"):
        register(CHANNELS["wecom"])


async def test_a_target_of_an_unknown_kind_is_not_sent_as_another_channels_body() -> None:
    target = Target("slack", "https://hooks.slack.com/x")
    message = _messages()["en-firing-1"]
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(lambda _: httpx.Response(200))
    ) as http:
        with pytest.raises(KeyError):
            await deliver(target, message, http, None)
