"""WeCom (企业微信) group robots: ``wecom+https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY``."""

from __future__ import annotations

from typing import Any

from api.alerts.channels.base import Message, PostedChannel, Target, text_of
from api.alerts.channels.registry import register


class WeCom(PostedChannel):
    """A WeCom group robot: a text message; it refuses with HTTP 200 and an ``errcode``."""

    name = "wecom"
    schemes = ("wecom",)
    form = "wecom+https://..."
    needs = ("key", "a WeCom robot URL has ?key=...")

    def render(self, target: Target, message: Message) -> tuple[dict[str, Any], str]:
        """A text message of the title and the text."""
        return {"msgtype": "text", "text": {"content": text_of(message)}}, target.url


register(WeCom())
