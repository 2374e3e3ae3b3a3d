"""The gateway's uplink: an ordered outgoing queue published to the broker at QoS 1."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections import deque
from dataclasses import dataclass

import aiomqtt

from facmon import __version__
from facmon.backoff import Backoff
from facmon.contract import Envelope, StatusEnvelope, Topic, TopicKind
from facmon.mqtt import BrokerConfig

log = logging.getLogger(__name__)

WINDOW = 64
"""Publishes in flight at once; paho keeps them in order on the wire."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message waiting for the broker."""

    topic: str
    payload: bytes
    retain: bool


class Uplink:
    """Publishes envelopes in order, reconnecting with backoff; announces the gateway's status.

    The queue is bounded by ``limit``: when full, the oldest message is dropped and counted
    in ``dropped``. The gateway's ``status`` topic carries ``online`` while connected and,
    through the MQTT will, ``offline`` when the connection is lost.
    """

    def __init__(
        self, broker: BrokerConfig, site: str, gateway: str, prefix: str, limit: int
    ) -> None:
        """Prepare the queue; :meth:`run` connects."""
        self.broker = broker
        self.status_topic = str(Topic(TopicKind.STATUS, site, gateway, prefix=prefix))
        self.client_id = broker.client_id or f"facmon-gw-{site}-{gateway}"
        self.limit = limit
        self.dropped = 0
        self.published = 0
        self.connected = asyncio.Event()
        self._queue: deque[Outgoing] = deque()
        self._pending = asyncio.Event()

    def send(self, topic: Topic, envelope: Envelope) -> None:
        """Queue ``envelope`` for ``topic``; never blocks."""
        if len(self._queue) >= self.limit:
            self._queue.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 10_000 == 0:
                log.warning(
                    "uplink queue full (%d): %d message(s) dropped so far", self.limit, self.dropped
                )
        self._queue.append(Outgoing(str(topic), envelope.to_json(), topic.retained))
        self._pending.set()

    @property
    def depth(self) -> int:
        """Messages waiting to be published."""
        return len(self._queue)

    async def run(self) -> None:
        """Connect, publish everything queued, reconnect after any loss; until cancelled."""
        backoff = Backoff()
        reported = False
        while True:
            try:
                async with self._client() as client:
                    log.info("uplink connected to %s", self.broker.url)
                    reported = False
                    backoff.reset()
                    await client.publish(self.status_topic, _status("online"), qos=1, retain=True)
                    self.connected.set()
                    try:
                        await self._drain(client)
                    finally:
                        self.connected.clear()
                        await _announce_offline(client, self.status_topic)
            except aiomqtt.MqttError as exc:
                if not reported:
                    log.warning("uplink to %s lost: %s; retrying", self.broker.url, exc)
                    reported = True
                await asyncio.sleep(backoff.next())

    def _client(self) -> aiomqtt.Client:
        password = self.broker.password.get_secret_value() if self.broker.password else None
        return aiomqtt.Client(
            self.broker.host,
            self.broker.port,
            identifier=self.client_id,
            username=self.broker.username,
            password=password,
            keepalive=self.broker.keepalive_s,
            will=aiomqtt.Will(self.status_topic, _status("offline"), qos=1, retain=True),
            tls_context=ssl.create_default_context() if self.broker.tls else None,
            timeout=10,
        )

    async def _drain(self, client: aiomqtt.Client) -> None:
        while True:
            if not self._queue:
                self._pending.clear()
                await self._pending.wait()
                continue
            batch = [self._queue.popleft() for _ in range(min(WINDOW, len(self._queue)))]
            try:
                await asyncio.gather(
                    *(client.publish(m.topic, m.payload, qos=1, retain=m.retain) for m in batch)
                )
            except BaseException:
                self._queue.extendleft(reversed(batch))  # resend in order after reconnecting
                raise
            self.published += len(batch)


async def _announce_offline(client: aiomqtt.Client, topic: str) -> None:
    try:
        async with asyncio.timeout(2):
            await client.publish(topic, _status("offline"), qos=1, retain=True)
    except (aiomqtt.MqttError, TimeoutError):
        pass  # the will says the same once the broker notices


def _status(state: str) -> bytes:
    envelope = StatusEnvelope.model_validate(
        {"state": state, "ts": int(time.time() * 1000), "version": __version__}
    )
    return envelope.to_json()
