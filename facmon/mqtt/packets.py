"""MQTT 3.1.1 and 5 packets as bytes: built for sending, parsed straight from what is read.

Pure functions over bytes, no I/O: what a client needs to hold a QoS 1 session (CONNECT,
SUBSCRIBE, PUBLISH, PUBACK, PINGREQ, DISCONNECT out; CONNACK, SUBACK, PUBLISH, PUBACK,
PINGRESP, DISCONNECT in). Section numbers cite the MQTT 5.0 standard (OASIS, 2019); 3.1.1
packets are the same without the properties.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

CONNECT, CONNACK, PUBLISH, PUBACK = 0x10, 0x20, 0x30, 0x40
SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 0x82, 0x90, 0xC0, 0xD0, 0xE0
"""Fixed-header first bytes (§2.1.2): the packet type, with SUBSCRIBE's required flags."""

PING = bytes([PINGREQ, 0])
"""A whole PINGREQ packet."""

NO_LOCAL = 0x04
"""Subscription option (§3.8.3.1): the broker does not send a client its own publishes."""

SESSION_EXPIRY_INTERVAL, RECEIVE_MAXIMUM, SERVER_KEEP_ALIVE = 0x11, 0x21, 0x13
"""MQTT 5 property identifiers (§2.2.2.2) that this client sends or reads."""

# MQTT 5 property identifiers by how their value is encoded (§2.2.2.2), to skip or read them.
_BYTE_PROPS = {0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A}
_TWO_BYTE_PROPS = {0x13, 0x21, 0x22, 0x23}
_FOUR_BYTE_PROPS = {0x02, 0x11, 0x18, 0x27}
_STRING_PROPS = {0x03, 0x08, 0x09, 0x12, 0x15, 0x16, 0x1A, 0x1C, 0x1F}  # binary data alike
_VARINT_PROPS = {0x0B}
_USER_PROPERTY = 0x26

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
    """The broker sent something a client cannot accept, or refused it."""


def varint(value: int) -> bytes:
    """Encode ``value`` (0 to 268,435,455) as a variable byte integer (§1.5.5)."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | 0x80 if value else byte)
        if not value:
            return bytes(out)


def prefixed(text: str | bytes) -> bytes:
    """Encode ``text`` as a UTF-8 string or binary data: a two-byte length, then the bytes."""
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("!H", len(raw)) + raw


def packet(header: int, body: bytes) -> bytes:
    """Return a whole packet: its fixed header's first byte, the remaining length, ``body``."""
    return bytes([header]) + varint(len(body)) + body


def _varint_at(data: bytes | bytearray, at: int, what: str) -> tuple[int, int] | None:
    """The variable byte integer at ``at`` and the offset after it; None if cut short."""
    value, shift = 0, 0
    while True:
        if at >= len(data):
            return None
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if byte < 0x80:
            return value, at
        shift += 7
        if shift > 21:
            raise ProtocolError(f"malformed {what}")


def read_varint(data: bytes | bytearray, at: int) -> tuple[int, int]:
    """Return the variable byte integer at ``at`` and the offset after it.

    Raises:
        ProtocolError: longer than four bytes, or cut short.
    """
    found = _varint_at(data, at, "variable byte integer")
    if found is None:
        raise ProtocolError("malformed variable byte integer")
    return found


def read_properties(data: bytes, at: int) -> tuple[dict[int, int], int]:
    """Read MQTT 5 properties at ``at``: the integer ones by id, and the offset after them.

    String, binary and user properties are skipped.

    Raises:
        ProtocolError: an unknown property, or a length that does not add up.
    """
    length, at = read_varint(data, at)
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
            found[ident], at = read_varint(data, at)
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


def connect(
    client_id: str,
    *,
    v5: bool,
    keepalive_s: int,
    username: str | None = None,
    password: str | None = None,
    session_expiry_s: int = 0,
    receive_maximum: int = 65_535,
) -> bytes:
    """Return a CONNECT packet (§3.1) that keeps the session (Clean Start 0).

    Args:
        client_id: the client identifier.
        v5: MQTT 5 (with the two properties below) rather than 3.1.1.
        keepalive_s: the keep-alive interval, seconds.
        username: sent when given.
        password: sent when given along with ``username``.
        session_expiry_s: MQTT 5: how long the broker keeps the session after a disconnect.
        receive_maximum: MQTT 5: QoS 1 messages the broker may have unacknowledged (at most
            65,535).
    """
    flags = 0
    payload = prefixed(client_id)
    if username is not None:
        flags |= 0x80
        payload += prefixed(username)
        if password is not None:
            flags |= 0x40
            payload += prefixed(password)
    head = prefixed("MQTT") + bytes([5 if v5 else 4, flags]) + struct.pack("!H", keepalive_s)
    if v5:
        props = bytes([SESSION_EXPIRY_INTERVAL]) + struct.pack("!I", session_expiry_s)
        props += bytes([RECEIVE_MAXIMUM]) + struct.pack("!H", min(receive_maximum, 65_535))
        head += varint(len(props)) + props
    return packet(CONNECT, head + payload)


def subscribe(topics: Iterable[str], *, v5: bool, packet_id: int = 1) -> bytes:
    """Return a SUBSCRIBE packet (§3.8) for ``topics`` at QoS 1.

    With MQTT 5, No Local is set on every topic filter but shared ones (``$share/...``),
    where the standard forbids it (§3.8.3.1).
    """
    body = packet_id.to_bytes(2, "big") + (b"\x00" if v5 else b"")
    for topic in topics:
        options = 1
        if v5 and not topic.startswith("$share/"):
            options |= NO_LOCAL
        body += prefixed(topic) + bytes([options])
    return packet(SUBSCRIBE, body)


def publish(packet_id: int, topic: str, payload: bytes, *, v5: bool, dup: bool) -> bytes:
    """Return a QoS 1 PUBLISH packet (§3.3), marked as a redelivery when ``dup``."""
    header = PUBLISH | 0x02 | (0x08 if dup else 0)
    body = prefixed(topic) + packet_id.to_bytes(2, "big") + (b"\x00" if v5 else b"") + payload
    return packet(header, body)


def pubacks(packet_ids: Iterable[int]) -> bytes:
    """Return one PUBACK packet (§3.4, reason Success left out) per id, back to back."""
    return b"".join(b"\x40\x02" + pid.to_bytes(2, "big") for pid in packet_ids)


def disconnect(*, v5: bool) -> bytes:
    """Return a DISCONNECT packet (§3.14); with MQTT 5, reason Normal and no properties."""
    return packet(DISCONNECT, b"\x00\x00" if v5 else b"")


def frame(buffer: bytes | bytearray, at: int) -> tuple[int, int, int] | None:
    """Find the packet that starts at ``at``: its first byte, where its body starts and ends.

    Returns None while the packet is not all in ``buffer`` yet.

    Raises:
        ProtocolError: the remaining length is longer than four bytes.
    """
    # The remaining length's loop is written out: this runs once per message received.
    size = len(buffer)
    length, start, shift = 0, at + 1, 0
    while True:
        if start >= size:
            return None
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
        return None
    return buffer[at], start, end


def read_publish(
    buffer: bytes | bytearray, header: int, start: int, end: int, *, v5: bool
) -> tuple[str, bytes, int, int]:
    """Read the PUBLISH packet whose body is ``buffer[start:end]`` (§3.3).

    Returns:
        The topic, the payload, the packet id (0 at QoS 0) and the QoS.

    Raises:
        ProtocolError: the topic name is not UTF-8.
    """
    qos = (header >> 1) & 0x03
    topic_end = start + 2 + ((buffer[start] << 8) | buffer[start + 1])
    try:
        topic = buffer[start + 2 : topic_end].decode()
    except UnicodeDecodeError:
        raise ProtocolError("a topic name is not UTF-8") from None
    packet_id, body = 0, topic_end
    if qos:
        packet_id = (buffer[topic_end] << 8) | buffer[topic_end + 1]
        body += 2
    if v5:
        props, body = read_varint(buffer, body)
        body += props
    return topic, bytes(buffer[body:end]), packet_id, qos


def read_connack(body: bytes, *, v5: bool) -> tuple[bool, int | None]:
    """Read a CONNACK's body (§3.2): whether the session was present, and the keep-alive.

    The keep-alive is MQTT 5's Server Keep Alive, in seconds; None when the broker sets none.

    Raises:
        ProtocolError: the broker refused the connection (the reason in words), or the
            packet is malformed.
    """
    if len(body) < 2:
        raise ProtocolError("malformed CONNACK")
    if body[1]:
        table = _REASONS_V5 if v5 else _CONNACK_V311
        raise ProtocolError(f"connection refused: {table.get(body[1], f'code {body[1]}')}")
    keep_alive = None
    if v5:
        props, _ = read_properties(body, 2)
        keep_alive = props.get(SERVER_KEEP_ALIVE)
    return bool(body[0] & 0x01), keep_alive


def read_suback(body: bytes, *, v5: bool) -> str | None:
    """Read a SUBACK's body (§3.9): its first refusal, in words; None if all were granted."""
    at = 2
    if v5:
        _, at = read_properties(body, at)
    for code in body[at:]:
        if code >= 0x80:
            return _REASONS_V5.get(code, f"code 0x{code:02x}") if v5 else "failure"
    return None


def read_puback(body: bytes) -> tuple[int, str | None]:
    """Read a PUBACK's body (§3.4): the packet id, and the broker's refusal in words if any."""
    packet_id = int.from_bytes(body[:2], "big")
    if len(body) > 2 and body[2] >= 0x80:
        return packet_id, _REASONS_V5.get(body[2], f"reason 0x{body[2]:02x}")
    return packet_id, None


def read_disconnect(body: bytes) -> str:
    """Read the reason, in words, of a DISCONNECT the broker sent (§3.14)."""
    return _REASONS_V5.get(body[0], f"code 0x{body[0]:02x}") if body else "no reason"
