"""Feishu (飞书) or Lark robots: ``feishu+https://open.feishu.cn/open-apis/bot/v2/hook/TOKEN``.

With ``?secret=SEC`` the body is signed (the secret itself is not sent).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from api.alerts.channels.base import Message, PostedChannel, Target, text_of
from api.alerts.channels.registry import register


class Feishu(PostedChannel):
    """A Feishu robot: a text message, signed in the body when the target has a secret."""

    name = "feishu"
    schemes = ("feishu",)
    form = "feishu+https://..."

    def shown_path(self, path: str) -> str:
        """The token is the last part of the path: hidden."""
        return path.rstrip("/").rpartition("/")[0] + "/***"

    def render(self, target: Target, message: Message) -> tuple[dict[str, Any], str]:
        """A text message; with ``timestamp`` (s) and ``sign`` when signed."""
        body: dict[str, Any] = {"msg_type": "text", "content": {"text": text_of(message)}}
        if target.secret:  # Feishu signs with the string as key and an empty message
            stamp = str(int(time.time()))
            key = f"{stamp}\n{target.secret}".encode()
            body["timestamp"] = stamp
            body["sign"] = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
        return body, target.url


register(Feishu())
