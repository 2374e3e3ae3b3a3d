"""The demo's chat robots answer as WeCom, DingTalk and Feishu do and keep what they got."""

from __future__ import annotations

import json

import httpx

from api.alerts.channels.registry import parse_target
from launcher.demo_receiver import Receiver, targets


async def test_the_robots_answer_as_the_real_ones_and_list_each_body_as_sent() -> None:
    receiver = Receiver("127.0.0.1", 9)
    kinds = []
    transport = httpx.ASGITransport(app=receiver.app)
    async with httpx.AsyncClient(transport=transport, base_url=receiver.base) as http:
        for text in targets(receiver.base):
            target = parse_target(text)  # the channels accept every target
            kinds.append(target.kind)
            body = {"msgtype": "text", "text": {"content": f"<b>{target.kind}</b> 告警"}}
            answer = await http.post(target.url, content=json.dumps(body, ensure_ascii=False))
            assert answer.status_code == 200
            code = answer.json().get("errcode", answer.json().get("StatusCode"))
            assert code == 0, answer.json()
        refused = await http.post("/robot/send?access_token=demo", content=b"not json")
        assert refused.json()["errcode"] != 0
        kept = (await http.get("/messages")).json()
        page = (await http.get("/")).text
    assert kinds == ["wecom", "dingtalk", "feishu"]
    assert [m["robot"] for m in kept] == kinds
    assert kept[0]["body"]["text"]["content"] == "<b>wecom</b> 告警"
    assert "&lt;b&gt;feishu&lt;/b&gt; 告警" in page
    assert "企业微信 WeCom" in page
    assert "Notifications the demo" in page
    assert "://" not in page  # nothing is loaded from anywhere
