"""The collector's MQTT session: persistent, QoS 1, messages acknowledged by hand.

A small asyncio MQTT client (3.1.1 and 5) that does only what the collector needs, because
a profile showed paho-mqtt spending more time per message than all of the collector's own
work: several ``recv`` calls and MQTT 5 property objects per message, and a thread whose
every hand-over to the event loop is a wake-up under the GIL. Here packets are parsed
straight out of the bytes each read returns (:mod:`facmon.mqtt.packets` builds and reads
them), on the event loop that stores them, and a batch's acknowledgements go out in one
write. This module keeps the session: connect, subscribe, deliver, acknowledge, reconnect.

A message is acknowledged only by :meth:`BrokerSession.ack`, which the collector calls once
the batch holding it is durable. Message ids belong to one connection: after a reconnect
the broker redelivers whatever was not acknowledged, so acks for messages of an earlier
connection are skipped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from facmon.backoff import Backoff
from facmon.mqtt import BrokerConfig, packets
from facmon.mqtt.packets import ProtocolError

log = logging.getLogger(__name__)

_OUTBOX_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class Inbound:
    """A received message and what is needed to acknowledge it."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    connection: int


class BrokerSession:
    """One persistent MQTT session with manual acknowledgements, reconnecting by itself."""

    def __init__(
        self,
        broker: BrokerConfig,
        client_id: str,
        topics: list[str],
        deliver: Callable[[Inbound], None],
        protocol: str = "5",
        session_expiry_s: int = 7 * 86_400,
        max_unacked: int = 20_000,
    ) -> None:
        """Prepare the session; ``deliver`` is called on the event loop for each message."""
        self.broker = broker
        self.client_id = client_id
        self.topics = topics
        self._deliver = deliver
        self._v5 = protocol == "5"
        self._session_expiry_s = session_expiry_s
        self._max_unacked = max_unacked
        self.connected = asyncio.Event()
        self._connection = 0
        self._link: _Link | None = None
        self._outbox: dict[int, tuple[str, bytes]] = {}
        self._next_pid = 0

    async def run(self) -> None:
        """Connect, subscribe, receive; after any loss reconnect with backoff. Cancel to stop."""
        backoff = Backoff(1, 30)
        while True:
            try:
                await self._session()
                backoff.reset()
            except (OSError, ProtocolError, TimeoutError) as exc:
                log.warning("broker %s: %s; reconnecting", self.broker.url, exc or repr(exc))
            finally:
                self.connected.clear()
                self._link = None
            await asyncio.sleep(backoff.next())

    @property
    def unacked(self) -> int:
        """Messages received on the current connection and not yet acknowledged."""
        return self._link.unacked if self._link is not None else 0

    def stop(self) -> None:
        """Disconnect cleanly (the session stays on the broker)."""
        link = self._link
        if link is not None:
            link.send(packets.disconnect(v5=self._v5))
            link.transport.close()

    def ack(self, messages: Iterable[Inbound]) -> None:
        """Acknowledge those of ``messages`` that came on the current connection."""
        link = self._link
        if link is None:
            return
        current = link.connection
        mids = [m.mid for m in messages if m.qos and m.connection == current]
        if mids:
            link.send(packets.pubacks(mids))
            link.acknowledged(len(mids))

    def publish(self, topic: str, payload: bytes) -> None:
        """Publish at QoS 1; kept until the broker acknowledges it, and resent after a reconnect.

        At most 10,000 wait; beyond that the oldest is dropped with a warning.
        """
        if len(self._outbox) >= _OUTBOX_LIMIT:
            dropped = next(iter(self._outbox))
            del self._outbox[dropped]
            log.warning("%d publishes wait for the broker: dropped the oldest", _OUTBOX_LIMIT)
        pid = self._allocate()
        self._outbox[pid] = (topic, payload)
        if self._link is not None:
            self._link.send(packets.publish(pid, topic, payload, v5=self._v5, dup=False))

    def _allocate(self) -> int:
        for _ in range(65_535):
            self._next_pid = self._next_pid % 65_535 + 1
            if self._next_pid not in self._outbox:
                return self._next_pid
        raise ProtocolError("no free packet id")  # unreachable below the outbox limit

    async def _session(self) -> None:
        loop = asyncio.get_running_loop()
        context = self.broker.tls_context()
        self._connection += 1
        async with asyncio.timeout(30):
            transport, link = await loop.create_connection(
                lambda: _Link(self, self._connection),
                self.broker.host,
                self.broker.port,
                ssl=context,
                server_hostname=self.broker.host if context else None,
            )
        try:
            async with asyncio.timeout(30):
                self._link = link
                link.send(self._connect_packet())
                session_present = await link.connack
                link.send(packets.subscribe(self.topics, v5=self._v5))
                await link.suback
            for pid, (topic, payload) in self._outbox.items():
                link.send(packets.publish(pid, topic, payload, v5=self._v5, dup=True))
            log.info("connected to %s (session present: %s)", self.broker.url, session_present)
            self.connected.set()
            await link.keep_alive()
        finally:
            transport.close()

    def _connect_packet(self) -> bytes:
        password = self.broker.password
        return packets.connect(
            self.client_id,
            v5=self._v5,
            keepalive_s=self.broker.keepalive_s,
            username=self.broker.username,
            password=password.get_secret_value() if password is not None else None,
            session_expiry_s=self._session_expiry_s,
            receive_maximum=self._max_unacked,
        )


class _Link(asyncio.Protocol):
    """One connection: parses what the broker sends, straight from the received bytes."""

    def __init__(self, session: BrokerSession, connection: int) -> None:
        loop = asyncio.get_running_loop()
        self.session = session
        self.v5 = session._v5
        self.connection = connection
        self.connack: asyncio.Future[bool] = loop.create_future()
        self.suback: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.keepalive_s = session.broker.keepalive_s
        self.transport: asyncio.Transport
        self.unacked = 0
        self.paused = False
        self._buffer = bytearray()
        self._last_sent = self._last_received = time.monotonic()
        self._controls: dict[int, Callable[[bytes], None]] = {
            packets.PUBACK: self._on_puback,
            packets.CONNACK: self._on_connack,
            packets.SUBACK: self._on_suback,
            packets.DISCONNECT: self._on_disconnect,
            packets.PINGRESP: self._on_pingresp,
        }

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        error = exc or ConnectionError("connection closed by the broker")
        for waiter in (self.connack, self.suback, self.closed):
            if not waiter.done():
                waiter.set_exception(error)
                waiter.exception()  # whoever awaits it still gets it; nobody else must

    def send(self, data: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(data)
            self._last_sent = time.monotonic()

    def acknowledged(self, count: int) -> None:
        """Note ``count`` acknowledgements sent; read again once below the limit."""
        self.unacked -= count
        if self.paused and self.unacked < self.session._max_unacked:
            self.paused = False
            self.transport.resume_reading()
            self._consume()  # what was read before the pause

    async def keep_alive(self) -> None:
        """Ping when idle; give up on a broker silent for 1.5 keep-alive periods."""
        period = self.keepalive_s / 2
        while True:
            try:
                async with asyncio.timeout(period):
                    await asyncio.shield(self.closed)
            except TimeoutError:
                now = time.monotonic()
                # While reading is paused the broker's answers wait unread: no verdict then.
                if not self.paused and now - self._last_received > 1.5 * self.keepalive_s:
                    raise TimeoutError("no answer to keep-alive pings") from None
                if now - self._last_sent >= period:
                    self.send(packets.PING)

    def _fail(self, error: ProtocolError) -> None:
        self.connection_lost(error)
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        self._last_received = time.monotonic()
        self._buffer += data
        self._consume()

    def _consume(self) -> None:
        buffer = self._buffer
        try:
            used = self._parse(buffer)
        except ProtocolError as exc:
            self._fail(exc)
            return
        if used:
            del buffer[:used]
        if self.unacked >= self.session._max_unacked and not self.paused:
            # The broker should stop at the Receive Maximum by itself, but Mosquitto 2.0 was
            # measured handing a client draining a backlog far more; memory stays bounded
            # anyway: at most max_unacked messages plus one read (256 KiB) of raw bytes.
            self.paused = True
            self.transport.pause_reading()

    def _parse(self, buffer: bytearray) -> int:
        """Handle the complete packets in ``buffer``; return how many bytes they took.

        Stops early once ``max_unacked`` messages wait for their acknowledgement.
        """
        at = 0
        deliver, connection, v5 = self.session._deliver, self.connection, self.v5
        limit = self.session._max_unacked
        while self.unacked < limit:
            found = packets.frame(buffer, at)
            if found is None:
                return at
            header, start, end = found
            kind = header & 0xF0
            if kind == packets.PUBLISH:
                topic, payload, mid, qos = packets.read_publish(buffer, header, start, end, v5=v5)
                if qos:
                    if qos > 1:
                        raise ProtocolError("QoS 2 delivery on a QoS 1 subscription")
                    self.unacked += 1
                deliver(Inbound(topic, payload, mid, qos, connection))
            else:
                self._control(kind, bytes(buffer[start:end]))
            at = end
        return at

    def _control(self, kind: int, body: bytes) -> None:
        handle = self._controls.get(kind)
        if handle is None:
            raise ProtocolError(f"unexpected packet type 0x{kind:02x}")
        handle(body)

    def _on_puback(self, body: bytes) -> None:
        pid, refusal = packets.read_puback(body)
        self.session._outbox.pop(pid, None)
        if refusal is not None:
            log.warning("the broker refused a publish: %s", refusal)

    def _on_connack(self, body: bytes) -> None:
        session_present, keep_alive = packets.read_connack(body, v5=self.v5)
        if self.v5:
            self.keepalive_s = (self.keepalive_s if keep_alive is None else keep_alive) or 3600
        if not self.connack.done():
            self.connack.set_result(session_present)

    def _on_suback(self, body: bytes) -> None:
        refusal = packets.read_suback(body, v5=self.v5)
        if refusal is not None:
            raise ProtocolError(f"subscription to {self.session.topics} refused: {refusal}")
        if not self.suback.done():
            self.suback.set_result(None)

    def _on_disconnect(self, body: bytes) -> None:
        raise ProtocolError(f"the broker disconnected: {packets.read_disconnect(body)}")

    def _on_pingresp(self, body: bytes) -> None:
        """Nothing to do: any packet received counts as the broker being alive."""
