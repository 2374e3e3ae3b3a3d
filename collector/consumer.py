"""The collector's MQTT session: persistent, QoS 1, messages acknowledged by hand.

A small asyncio MQTT client (3.1.1 and 5) that does only what the collector needs, because
a profile showed paho-mqtt spending more time per message than all of the collector's own
work: several ``recv`` calls and MQTT 5 property objects per message, and a thread whose
every hand-over to the event loop is a wake-up under the GIL. Here packets are parsed
straight out of the bytes each read returns, on the event loop that stores them, and a
batch's acknowledgements go out in one write.

A message is acknowledged only by :meth:`BrokerSession.ack`, which the collector calls once
the batch holding it is durable. Message ids belong to one connection: after a reconnect
the broker redelivers whatever was not acknowledged, so acks for messages of an earlier
connection are skipped.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from facmon.backoff import Backoff
from facmon.mqtt import BrokerConfig

log = logging.getLogger(__name__)

_CONNECT, _CONNACK, _PUBLISH, _PUBACK = 0x10, 0x20, 0x30, 0x40
_SUBSCRIBE, _SUBACK, _PINGREQ, _PINGRESP, _DISCONNECT = 0x82, 0x90, 0xC0, 0xD0, 0xE0
_NO_LOCAL = 0x04
_OUTBOX_LIMIT = 10_000

# MQTT 5 property identifiers by how their value is encoded (§2.2.2.2), to skip or read them.
_BYTE_PROPS = {0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A}
_TWO_BYTE_PROPS = {0x13, 0x21, 0x22, 0x23}
_FOUR_BYTE_PROPS = {0x02, 0x11, 0x18, 0x27}
_STRING_PROPS = {0x03, 0x08, 0x09, 0x12, 0x15, 0x16, 0x1A, 0x1C, 0x1F}  # binary data alike
_VARINT_PROPS = {0x0B}
_USER_PROPERTY = 0x26
_SERVER_KEEP_ALIVE = 0x13

_CONNACK_V311 = {
    1: "unacceptable protocol version",
    2: "client id rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorised",
}
_REASONS_V5 = {
    0x80: "unspecified error",
    0x81: "malformed packet",
    0x82: "protocol error",
    0x84: "unsupported protocol version",
    0x85: "client identifier not valid",
    0x86: "bad user name or password",
    0x87: "not authorized",
    0x88: "server unavailable",
    0x89: "server busy",
    0x8A: "banned",
    0x8E: "session taken over",
    0x8F: "topic filter invalid",
    0x90: "topic name invalid",
    0x93: "receive maximum exceeded",
    0x95: "packet too large",
    0x97: "quota exceeded",
    0x9E: "shared subscriptions not supported",
}


class ProtocolError(Exception):
    """The broker sent something this client cannot accept, or refused it."""


@dataclass(frozen=True, slots=True)
class Inbound:
    """A received message and what is needed to acknowledge it."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    connection: int


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | 0x80 if value else byte)
        if not value:
            return bytes(out)


def _string(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("!H", len(raw)) + raw


def _packet(header: int, body: bytes) -> bytes:
    return bytes([header]) + _varint(len(body)) + body


def _read_varint(data: bytes | bytearray, at: int) -> tuple[int, int]:
    """Return the variable byte integer at ``at`` and the offset after it."""
    value, shift = 0, 0
    while True:
        if at >= len(data) or shift > 21:
            raise ProtocolError("malformed variable byte integer")
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if byte < 0x80:
            return value, at
        shift += 7


def _properties(data: bytes, at: int) -> tuple[dict[int, int], int]:
    """Read MQTT 5 properties at ``at``: the integer ones by id, and the offset after them."""
    length, at = _read_varint(data, at)
    end = at + length
    found: dict[int, int] = {}
    while at < end:
        ident = data[at]
        at += 1
        if ident in _BYTE_PROPS:
            found[ident], at = data[at], at + 1
        elif ident in _TWO_BYTE_PROPS:
            found[ident], at = int.from_bytes(data[at : at + 2], "big"), at + 2
        elif ident in _FOUR_BYTE_PROPS:
            found[ident], at = int.from_bytes(data[at : at + 4], "big"), at + 4
        elif ident in _VARINT_PROPS:
            found[ident], at = _read_varint(data, at)
        elif ident in _STRING_PROPS:
            at += 2 + int.from_bytes(data[at : at + 2], "big")
        elif ident == _USER_PROPERTY:
            at += 2 + int.from_bytes(data[at : at + 2], "big")
            at += 2 + int.from_bytes(data[at : at + 2], "big")
        else:
            raise ProtocolError(f"unknown MQTT 5 property 0x{ident:02x}")
    if at != end:
        raise ProtocolError("malformed properties")
    return found, end


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
            link.send(_packet(_DISCONNECT, b"\x00\x00" if self._v5 else b""))
            link.transport.close()

    def ack(self, messages: Iterable[Inbound]) -> None:
        """Acknowledge those of ``messages`` that came on the current connection."""
        link = self._link
        if link is None:
            return
        current = link.connection
        acks = b"".join(
            b"\x40\x02" + m.mid.to_bytes(2, "big")
            for m in messages
            if m.qos and m.connection == current
        )
        if acks:
            link.send(acks)
            link.acknowledged(len(acks) // 4)

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
            self._link.send(self._publish_packet(pid, topic, payload, dup=False))

    def _allocate(self) -> int:
        for _ in range(65_535):
            self._next_pid = self._next_pid % 65_535 + 1
            if self._next_pid not in self._outbox:
                return self._next_pid
        raise ProtocolError("no free packet id")  # unreachable below the outbox limit

    def _publish_packet(self, pid: int, topic: str, payload: bytes, *, dup: bool) -> bytes:
        header = _PUBLISH | 0x02 | (0x08 if dup else 0)
        body = _string(topic) + pid.to_bytes(2, "big") + (b"\x00" if self._v5 else b"") + payload
        return _packet(header, body)

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
                link.send(self._subscribe_packet())
                await link.suback
            for pid, (topic, payload) in self._outbox.items():
                link.send(self._publish_packet(pid, topic, payload, dup=True))
            log.info("connected to %s (session present: %s)", self.broker.url, session_present)
            self.connected.set()
            await link.keep_alive()
        finally:
            transport.close()

    def _connect_packet(self) -> bytes:
        flags = 0
        payload = _string(self.client_id)
        if self.broker.username is not None:
            flags |= 0x80
            payload += _string(self.broker.username)
            if self.broker.password is not None:
                flags |= 0x40
                payload += _string(self.broker.password.get_secret_value())
        head = _string("MQTT") + bytes([5 if self._v5 else 4, flags])
        head += struct.pack("!H", self.broker.keepalive_s)
        if self._v5:
            props = b"\x11" + struct.pack("!I", self._session_expiry_s)
            props += b"\x21" + struct.pack("!H", min(self._max_unacked, 65_535))
            head += _varint(len(props)) + props
        return _packet(_CONNECT, head + payload)

    def _subscribe_packet(self) -> bytes:
        body = b"\x00\x01" + (b"\x00" if self._v5 else b"")
        for topic in self.topics:
            options = 1
            if self._v5 and not topic.startswith("$share/"):
                # No Local: this client's own dead letters do not come back to it. MQTT 5
                # forbids it on a shared subscription, where they come back and are skipped.
                options |= _NO_LOCAL
            body += _string(topic) + bytes([options])
        return _packet(_SUBSCRIBE, body)


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
                    self.send(bytes([_PINGREQ, 0]))

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
        at, size = 0, len(buffer)
        deliver, connection, v5 = self.session._deliver, self.connection, self.v5
        limit = self.session._max_unacked
        while size - at >= 2 and self.unacked < limit:
            header = buffer[at]
            length, start = 0, at + 1
            shift = 0
            while True:
                if start >= size:
                    return at  # the length itself is incomplete
                byte = buffer[start]
                length |= (byte & 0x7F) << shift
                start += 1
                if byte < 0x80:
                    break
                shift += 7
                if shift > 21:
                    raise ProtocolError("malformed remaining length")
            end = start + length
            if end > size:
                return at
            kind = header & 0xF0
            if kind == _PUBLISH:
                qos = (header >> 1) & 0x03
                topic_end = start + 2 + ((buffer[start] << 8) | buffer[start + 1])
                try:
                    topic = buffer[start + 2 : topic_end].decode()
                except UnicodeDecodeError:
                    raise ProtocolError("a topic name is not UTF-8") from None
                mid, body = 0, topic_end
                if qos:
                    if qos > 1:
                        raise ProtocolError("QoS 2 delivery on a QoS 1 subscription")
                    mid = (buffer[topic_end] << 8) | buffer[topic_end + 1]
                    body += 2
                    self.unacked += 1
                if v5:
                    props, body = _read_varint(buffer, body)
                    body += props
                deliver(Inbound(topic, bytes(buffer[body:end]), mid, qos, connection))
            else:
                self._control(kind, bytes(buffer[start:end]))
            at = end
        return at

    def _control(self, kind: int, body: bytes) -> None:
        if kind == _PUBACK:
            self.session._outbox.pop(int.from_bytes(body[:2], "big"), None)
            if len(body) > 2 and body[2] >= 0x80:
                reason = _REASONS_V5.get(body[2], f"reason 0x{body[2]:02x}")
                log.warning("the broker refused a publish: %s", reason)
        elif kind == _CONNACK:
            if len(body) < 2:
                raise ProtocolError("malformed CONNACK")
            if body[1]:
                table = _REASONS_V5 if self.v5 else _CONNACK_V311
                raise ProtocolError(f"connection refused: {table.get(body[1], f'code {body[1]}')}")
            if self.v5:
                props, _ = _properties(body, 2)
                self.keepalive_s = props.get(_SERVER_KEEP_ALIVE, self.keepalive_s) or 3600
            if not self.connack.done():
                self.connack.set_result(bool(body[0] & 0x01))
        elif kind == _SUBACK:
            at = 2
            if self.v5:
                _, at = _properties(body, at)
            for code in body[at:]:
                if code >= 0x80:
                    reason = _REASONS_V5.get(code, f"code 0x{code:02x}") if self.v5 else "failure"
                    raise ProtocolError(f"subscription to {self.session.topics} refused: {reason}")
            if not self.suback.done():
                self.suback.set_result(None)
        elif kind == _DISCONNECT:
            reason = _REASONS_V5.get(body[0], f"code 0x{body[0]:02x}") if body else "no reason"
            raise ProtocolError(f"the broker disconnected: {reason}")
        elif kind != _PINGRESP:
            raise ProtocolError(f"unexpected packet type 0x{kind:02x}")
