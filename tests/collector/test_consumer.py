"""The MQTT session's packet parsing, fed the way a network delivers bytes: in any pieces."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.consumer import BrokerSession, Inbound, _Link
from facmon.mqtt import BrokerConfig
from facmon.mqtt.packets import ProtocolError, packet, prefixed, varint


class Transport(asyncio.Transport):
    """Records what the session writes; reading can be paused like a socket's."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.reading = True
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True


def publish(topic: str, payload: bytes, mid: int, *, v5: bool, qos: int = 1) -> bytes:
    body = prefixed(topic) + (mid.to_bytes(2, "big") if qos else b"")
    if v5:
        props = b"\x01\x01" + b"\x03" + prefixed("application/json") + b"\x26" + prefixed("k") * 2
        body += varint(len(props)) + props
    return packet(0x30 | (qos << 1), body + payload)


def link(v5: bool, max_unacked: int = 1_000) -> tuple[_Link, list[Inbound], Transport]:
    got: list[Inbound] = []
    session = BrokerSession(
        BrokerConfig(), "c", ["t/#"], got.append, "5" if v5 else "3.1.1", max_unacked=max_unacked
    )
    protocol = _Link(session, 1)
    transport = Transport()
    protocol.connection_made(transport)
    session._link = protocol
    return protocol, got, transport


@settings(max_examples=60, deadline=None)
@given(
    v5=st.booleans(),
    messages=st.lists(
        st.tuples(st.text(min_size=1, max_size=30), st.binary(max_size=400), st.integers(0, 1)),
        min_size=1,
        max_size=20,
    ),
    cuts=st.lists(st.integers(1, 64), min_size=1, max_size=50),
)
def test_any_fragmentation_delivers_the_same_messages(
    v5: bool, messages: list[tuple[str, bytes, int]], cuts: list[int]
) -> None:
    async def run() -> list[Inbound]:
        protocol, got, _ = link(v5)
        stream = b"".join(
            publish(t, p, mid + 1, v5=v5, qos=q) for mid, (t, p, q) in enumerate(messages)
        )
        stream += b"\xd0\x00"  # a PINGRESP among them
        at, index = 0, 0
        while at < len(stream):
            size = cuts[index % len(cuts)]
            protocol.data_received(stream[at : at + size])
            at, index = at + size, index + 1
        return got

    got = asyncio.run(run())
    assert [(m.topic, m.payload, m.qos) for m in got] == messages
    assert [m.mid for m in got] == [i + 1 if q else 0 for i, (_, _, q) in enumerate(messages)]


def test_reading_stops_at_max_unacked_and_resumes_on_acks() -> None:
    async def run() -> None:
        protocol, got, transport = link(v5=True, max_unacked=3)
        protocol.data_received(b"".join(publish("t", b"x", mid, v5=True) for mid in range(1, 6)))
        assert len(got) == 3
        assert not transport.reading
        protocol.session.ack(got[:2])
        assert transport.written == b"\x40\x02\x00\x01\x40\x02\x00\x02"
        assert [m.mid for m in got] == [1, 2, 3, 4, 5]  # the rest of what had been read
        assert protocol.unacked == 3
        assert not transport.reading  # full again
        protocol.session.ack(got[2:])
        assert transport.reading

    asyncio.run(run())


def test_acks_for_an_earlier_connection_are_not_sent() -> None:
    async def run() -> None:
        protocol, got, transport = link(v5=False)
        protocol.data_received(publish("t", b"x", 7, v5=False))
        stale = Inbound("t", b"x", 9, 1, connection=0)
        protocol.session.ack([stale, *got])
        assert transport.written == b"\x40\x02\x00\x07"

    asyncio.run(run())


@pytest.mark.parametrize(
    ("packet", "reason"),
    [
        (b"\x20\x02\x00\x05", "connection refused: not authorised"),
        (b"\x90\x03\x00\x01\x80", "subscription to \\['t/#'\\] refused"),
        (b"\x62\x02\x00\x01", "unexpected packet type 0x60"),
        (publish("t", b"x", 1, v5=False, qos=2), "QoS 2"),
        (b"\x30\x05\x00\x02\xff\xfex", "not UTF-8"),
    ],
)
def test_what_cannot_be_accepted_closes_the_connection_with_the_reason(
    packet: bytes, reason: str
) -> None:
    async def run() -> Any:
        protocol, _, transport = link(v5=False)
        protocol.data_received(packet)
        assert transport.closed
        with pytest.raises(ProtocolError, match=reason):
            await protocol.closed

    asyncio.run(run())
