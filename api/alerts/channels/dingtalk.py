"""DingTalk (钉钉) robots: ``dingtalk+https://oapi.dingtalk.com/robot/send?access_token=TOKEN``.

With ``&secret=SEC`` the request is signed (the secret itself is not sent).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import urlencode

from api.alerts.channels.base import Message, PostedChannel, Target, text_of
from api.alerts.channels.registry import register


class DingTalk(PostedChannel):
    """A DingTalk robot: a text message, signed in the URL when the target has a secret."""

    name = "dingtalk"
    schemes = ("dingtalk",)
    form = "dingtalk+https://..."
    needs = ("access_token", "a DingTalk robot URL has ?access_token=...")

    def render(self, target: Target, message: Message) -> tuple[dict[str, Any], str]:
        """A text message; the URL carries ``timestamp`` (ms) and ``sign`` when signed."""
        url = target.url
        if target.secret:
            stamp = str(int(time.time() * 1000))
            signed = hmac.new(
                target.secret.encode(), f"{stamp}\n{target.secret}".encode(), hashlib.sha256
            ).digest()
            url += "&" + urlencode({"timestamp": stamp, "sign": base64.b64encode(signed)})
        return {"msgtype": "text", "text": {"content": text_of(message)}}, url


register(DingTalk())
