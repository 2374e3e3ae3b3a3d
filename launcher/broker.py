"""The embedded MQTT broker (amqtt) that ``facmon demo`` runs in-process.

It speaks MQTT 3.1.1 only and keeps sessions in memory: fine for a demo on one machine, not
for production, where Mosquitto or EMQX take its place by configuration.
"""

from __future__ import annotations

import asyncio
import logging

from amqtt.broker import Broker

log = logging.getLogger(__name__)


class EmbeddedBroker:
    """An anonymous MQTT 3.1.1 broker listening on ``host:port``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 1883) -> None:
        """Configure; :meth:`run` listens."""
        self.host = host
        self.port = port
        self.ready = asyncio.Event()

    @property
    def url(self) -> str:
        """The broker's ``mqtt://`` URL."""
        return f"mqtt://{self.host}:{self.port}"

    async def run(self) -> None:
        """Serve until cancelled."""
        broker = Broker(
            {
                "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
                "plugins": {
                    "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
                },
            }
        )
        await broker.start()
        log.info("embedded MQTT broker on %s", self.url)
        self.ready.set()
        try:
            await asyncio.Event().wait()
        finally:
            await broker.shutdown()
