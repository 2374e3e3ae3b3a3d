"""JSON webhooks: ``https://hooks.example.com/facmon`` (or ``http://``), the alerts as data."""

from __future__ import annotations

from typing import Any

from api.alerts.channels.base import Message, PostedChannel, Target
from api.alerts.channels.registry import register


class Webhook(PostedChannel):
    """A JSON webhook: the notification and its alerts as data, any 2xx answer is taken."""

    name = "webhook"
    schemes = ("http", "https")
    form = "http(s)://..."
    robot = False

    def render(self, target: Target, message: Message) -> tuple[dict[str, Any], str]:
        """The notification as data (``version`` 1)."""
        return {
            "version": "1",
            "what": message.what,
            "title": message.title,
            "text": message.text,
            "language": message.language,
            "alerts": message.alerts,
        }, target.url


register(Webhook())
