"""The demo's chat robots: a receiver on loopback answering as WeCom, DingTalk and Feishu do.

The demo's notification route sends to it (:func:`targets`), so that what the teams would
read is seen without an account anywhere: it keeps each body as it was sent and lists them at
``GET /`` (a page with no request leaving the machine) and ``GET /messages`` (JSON).
"""

from __future__ import annotations

import asyncio
import html
import json
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

KEPT = 500
"""Bodies kept (the oldest go first)."""


@dataclass(frozen=True)
class Robot:
    """One kind of robot: the path its webhooks have and how it answers a good message."""

    kind: str
    label: str
    path: str
    target: str
    """The demo's target URL for it, ``{base}`` standing for the receiver."""
    answer: dict[str, Any]


ROBOTS = (
    Robot(
        "wecom",
        "企业微信 WeCom",
        "/cgi-bin/webhook/send",
        "wecom+{base}/cgi-bin/webhook/send?key=demo",
        {"errcode": 0, "errmsg": "ok"},
    ),
    Robot(
        "dingtalk",
        "钉钉 DingTalk",
        "/robot/send",
        "dingtalk+{base}/robot/send?access_token=demo",
        {"errcode": 0, "errmsg": "ok"},
    ),
    Robot(
        "feishu",
        "飞书 Feishu",
        "/open-apis/bot/v2/hook/{token}",
        "feishu+{base}/open-apis/bot/v2/hook/demo",
        {"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"},
    ),
)
BAD_BODY = {"errcode": 40035, "errmsg": "invalid parameter: the body is not JSON"}
"""The answer to a body that is not JSON (robots answer HTTP 200 with an error code)."""


@dataclass(frozen=True)
class Received:
    """One body a robot got: which robot, when (epoch s), the path and the body as sent."""

    robot: str
    at: float
    path: str
    body: str


def targets(base: str) -> list[str]:
    """The notification targets of every robot at the receiver ``base`` (``http://host:port``)."""
    return [robot.target.format(base=base) for robot in ROBOTS]


class Receiver:
    """The robots' HTTP endpoints on ``host:port`` and what they received."""

    def __init__(self, host: str, port: int) -> None:
        """Listen on ``host:port`` once :meth:`run` runs."""
        self.host, self.port = host, port
        self.received: deque[Received] = deque(maxlen=KEPT)
        routes = [Route(r.path, self._robot(r), methods=["POST"]) for r in ROBOTS]
        routes += [Route("/", self._page), Route("/messages", self._messages)]
        self.app = Starlette(routes=routes)

    @property
    def url(self) -> str:
        """The receiver's page."""
        return f"http://{self.host}:{self.port}/"

    @property
    def base(self) -> str:
        """The receiver's address, without a path."""
        return f"http://{self.host}:{self.port}"

    async def run(self) -> None:
        """Serve until cancelled."""
        server = uvicorn.Server(
            uvicorn.Config(
                self.app, host=self.host, port=self.port, log_config=None, access_log=False
            )
        )
        task = asyncio.create_task(server.serve())
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            server.should_exit = True
            await task
            raise

    def _robot(self, robot: Robot) -> Any:
        async def receive(request: Request) -> Response:
            raw = (await request.body()).decode("utf-8", "replace")
            try:
                json.loads(raw)
            except ValueError:
                return JSONResponse(BAD_BODY)
            self.received.append(Received(robot.kind, time.time(), request.url.path, raw))
            return JSONResponse(robot.answer)

        return receive

    async def _messages(self, request: Request) -> Response:
        return JSONResponse(
            [
                {"robot": r.robot, "at": r.at, "path": r.path, "body": json.loads(r.body)}
                for r in self.received
            ]
        )

    async def _page(self, request: Request) -> Response:
        labels = {r.kind: r.label for r in ROBOTS}
        rows = "".join(
            f"<tr><td>{time.strftime('%H:%M:%S', time.localtime(r.at))}</td>"
            f"<td>{html.escape(labels[r.robot])}</td>"
            f"<td><pre>{html.escape(_pretty(r.body))}</pre></td></tr>"
            for r in reversed(self.received)
        )
        empty = '<tr><td colspan="3">尚未收到通知 No notification yet</td></tr>'
        return HTMLResponse(PAGE.format(count=len(self.received), rows=rows or empty))


def _pretty(body: str) -> str:
    return json.dumps(json.loads(body), ensure_ascii=False, indent=2)


PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="5">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>演示机器人收到的通知 Notifications the demo's robots received</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border-bottom: 1px solid #ddd; padding: .4rem; text-align: left; vertical-align: top; }}
pre {{ margin: 0; white-space: pre-wrap; }}
</style></head><body>
<h1>演示机器人收到的通知 <span lang="en">Notifications the demo's robots received</span></h1>
<p>企业微信、钉钉、飞书机器人将收到的消息正文，原样保存（共 {count} 条，每 5 秒刷新）。
<span lang="en">The bodies WeCom, DingTalk and Feishu robots would get, as sent
({count} kept; refreshed every 5 s).</span></p>
<table><thead><tr><th>时间 <span lang="en">Time</span></th>
<th>机器人 <span lang="en">Robot</span></th>
<th>正文 <span lang="en">Body</span></th></tr></thead>
<tbody>{rows}</tbody></table>
</body></html>
"""
