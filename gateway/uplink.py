"""The gateway's uplink: envelopes go through the disk spool to the broker at QoS 1, in order.

Pollers hand envelopes to :meth:`Uplink.send` (never blocking). Every ``flush_s`` the
buffer is committed to the :class:`~gateway.spool.Spool`, which numbers data and event
envelopes (``seq``). The publisher sends the oldest spooled messages, a window at a time,
and removes them only once the broker has acknowledged them; after any connection loss it
reconnects with backoff and resends from the spool. Nothing is lost while the broker is
away, across a restart or a SIGKILL, up to the spool's bound (drops are counted).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

import aiomqtt

from facmon import __version__
from facmon.backoff import Backoff
from facmon.contract import (
    ContractError,
    Envelope,
    StatusEnvelope,
    Topic,
    TopicKind,
    subscription,
)
from facmon.mqtt import BrokerConfig, async_client
from facmon.types import Value
from gateway.spool import Pending, Spool, SpoolError

log = logging.getLogger(__name__)

WINDOW = 256
"""Messages published before waiting for their acknowledgements; paho keeps their order."""
FLUSH_S = 0.05
"""How often the send buffer is committed to the spool."""
FAREWELL_S = 2.0
"""How long a stopping gateway goes on sending what it holds before it lets go."""


class Uplink:
    """Publishes envelopes through the spool; announces the gateway's ``status``.

    The ``status`` topic carries ``online`` while connected and, through the MQTT will,
    ``offline`` when the connection is lost. ``buffer_limit`` bounds the memory buffer
    used while the spool cannot be written (disk full); past it the oldest are dropped and
    counted in ``dropped_unspooled``.
    """

    def __init__(
        self,
        broker: BrokerConfig,
        site: str,
        gateway: str,
        prefix: str,
        spool: Spool,
        buffer_limit: int = 100_000,
    ) -> None:
        """Prepare; :meth:`run` connects."""
        self.broker = broker
        self.spool = spool
        self.status_topic = str(Topic(TopicKind.STATUS, site, gateway, prefix=prefix))
        self.client_id = broker.client_id or f"facmon-gw-{site}-{gateway}"
        self.buffer_limit = buffer_limit
        self.published = 0
        self.reconnects = 0
        self.dropped_unspooled = 0
        self.connected = asyncio.Event()
        self.prefix = prefix
        self.commands_filter = subscription(TopicKind.CMD, prefix, site, gateway)
        self.on_command: Callable[[Topic, bytes], Coroutine[Any, Any, None]] | None = None
        """Called for each message on this gateway's ``.../cmd`` topics."""
        self._command_tasks: set[asyncio.Task[None]] = set()
        self._buffer: deque[Pending] = deque()
        self._spooled = asyncio.Event()
        self._spool_failing = False

    def send(self, topic: Topic, envelope: Envelope) -> None:
        """Queue ``envelope`` for ``topic``; never blocks. Its ``seq`` is set when spooled."""
        if len(self._buffer) >= self.buffer_limit:
            self._buffer.popleft()
            self.dropped_unspooled += 1
        body = envelope.model_dump(mode="python", exclude_none=True)
        numbered = "seq" in type(envelope).model_fields
        self._buffer.append(Pending(str(topic), body, topic.retained, numbered))

    def send_data(
        self,
        topic: Topic,
        ts: int,
        measurement: str,
        values: dict[str, Value],
        quality: dict[str, str],
    ) -> None:
        """Queue a data envelope built by the gateway's own decoder; never blocks.

        The decoder only yields what the contract accepts (slugs from a validated profile,
        finite numbers, bounded strings), so the hot path skips re-validating each value;
        tests hold the decoder's output against :class:`DataEnvelope`.
        """
        if len(self._buffer) >= self.buffer_limit:
            self._buffer.popleft()
            self.dropped_unspooled += 1
        body = {"ts": ts, "measurement": measurement, "values": values, "quality": quality}
        self._buffer.append(Pending(str(topic), body, False, True))

    @property
    def depth(self) -> int:
        """Messages waiting: buffered plus spooled."""
        return len(self._buffer) + self.spool.depth

    @property
    def dropped(self) -> int:
        """Messages dropped because the spool was full or could not be written."""
        return self.spool.dropped + self.dropped_unspooled

    def flush(self) -> None:
        """Commit the buffer to the spool now (also done every ``FLUSH_S``)."""
        if not self._buffer:
            return
        batch = list(self._buffer)
        try:
            self.spool.append(batch)
        except SpoolError as exc:
            if not self._spool_failing:
                log.error(
                    "cannot write the spool (%s); holding %d message(s) in memory", exc, len(batch)
                )
                self._spool_failing = True
            return
        if self._spool_failing:
            log.info("spool writable again")
            self._spool_failing = False
        for _ in batch:
            self._buffer.popleft()
        self._spooled.set()

    async def run(self) -> None:
        """Flush and publish until cancelled; on the way out, flush what is buffered."""
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._flush_forever())
                group.create_task(self._publish_forever())
        finally:
            self.flush()

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_S)
            self.flush()

    async def _publish_forever(self) -> None:
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
                        async with asyncio.TaskGroup() as group:
                            group.create_task(self._drain(client))
                            if self.on_command is not None:
                                group.create_task(self._listen(client))
                    finally:
                        self.connected.clear()
                        await self._send_what_is_left(client)
                        await _announce_offline(client, self.status_topic)
            except* aiomqtt.MqttError as errors:
                exc = errors.exceptions[0]
                self.reconnects += 1
                if not reported:
                    log.warning(
                        "uplink to %s lost: %s; spooling until it is back", self.broker.url, exc
                    )
                    reported = True
                await asyncio.sleep(backoff.next())

    def _client(self) -> aiomqtt.Client:
        client = async_client(
            self.broker,
            identifier=self.client_id,
            will=aiomqtt.Will(self.status_topic, _status("offline"), qos=1, retain=True),
            max_inflight_messages=WINDOW,
        )
        client.pending_calls_threshold = (
            2 * WINDOW
        )  # a full window in flight is the plan, not a fault
        return client

    async def _listen(self, client: aiomqtt.Client) -> None:
        await client.subscribe(self.commands_filter, qos=1)
        async for message in client.messages:
            if self.on_command is None or not isinstance(message.payload, bytes | bytearray):
                continue
            try:
                topic = Topic.parse(str(message.topic), self.prefix)
            except ContractError:
                continue
            task = asyncio.create_task(self.on_command(topic, bytes(message.payload)))
            self._command_tasks.add(task)
            task.add_done_callback(self._command_tasks.discard)

    async def _drain(self, client: aiomqtt.Client) -> None:
        while True:
            batch = self.spool.peek(WINDOW)
            if not batch:
                self._spooled.clear()
                await self._spooled.wait()
                continue
            await asyncio.gather(
                *(client.publish(m.topic, m.payload, qos=1, retain=m.retain) for m in batch)
            )
            try:
                self.spool.remove(batch)
            except SpoolError as exc:  # they will be sent again: at least once, never lost
                log.error("cannot remove published messages from the spool: %s", exc)
                await asyncio.sleep(1)
            self.published += len(batch)

    async def _send_what_is_left(self, client: aiomqtt.Client) -> None:
        """On the way out (stopped, or the link lost), send what is held, for a moment.

        Stopping a gateway then leaves nothing behind in its spool in the usual case; what
        is still there after ``FAREWELL_S`` (or cannot be sent) goes at the next start.
        """
        self.flush()
        try:
            async with asyncio.timeout(FAREWELL_S):
                while batch := self.spool.peek(WINDOW):
                    await asyncio.gather(
                        *(client.publish(m.topic, m.payload, qos=1, retain=m.retain) for m in batch)
                    )
                    self.spool.remove(batch)
                    self.published += len(batch)
        except (aiomqtt.MqttError, TimeoutError, SpoolError):
            pass  # kept in the spool: sent at the next connection


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
