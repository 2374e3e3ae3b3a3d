"""MQTT packets as bytes (facmon.mqtt.packets): built as the standard spells them, parsed back."""

from __future__ import annotations

import pytest

from facmon.mqtt.packets import (
    PING,
    ProtocolError,
    connect,
    disconnect,
    frame,
    packet,
    prefixed,
    pubacks,
    publish,
    read_connack,
    read_disconnect,
    read_properties,
    read_puback,
    read_publish,
    read_suback,
    read_varint,
    subscribe,
    varint,
)


def test_varints_round_trip() -> None:
    for value in (0, 127, 128, 16_383, 16_384, 2_097_151, 268_435_455):
        encoded = varint(value)
        assert read_varint(encoded, 0) == (value, len(encoded))
    with pytest.raises(ProtocolError):
        read_varint(b"\xff\xff\xff\xff\x01", 0)
    with pytest.raises(ProtocolError, match="malformed variable byte integer"):
        read_varint(b"\x80", 0)  # cut short


def test_properties_are_read_and_skipped() -> None:
    props = b"\x13\x00\x3c" + b"\x21\x00\x0a" + b"\x1f" + prefixed("why") + b"\x26" + prefixed("a")
    props += prefixed("b")
    found, end = read_properties(varint(len(props)) + props, 0)
    assert found == {0x13: 60, 0x21: 10}
    assert end == len(props) + 1
    with pytest.raises(ProtocolError, match="unknown MQTT 5 property"):
        read_properties(b"\x02\x7f\x00", 0)
    with pytest.raises(ProtocolError, match="malformed properties"):
        read_properties(b"\x02\x13\x00\x3c", 0)  # a two-byte property in a length of 2


def test_connect_311_with_credentials() -> None:
    sent = connect("c1", v5=False, keepalive_s=30, username="u", password="p")
    body = b"\x00\x04MQTT\x04\xc0\x00\x1e" + b"\x00\x02c1" + b"\x00\x01u" + b"\x00\x01p"
    assert sent == bytes([0x10, len(body)]) + body


def test_connect_5_asks_for_a_session_expiry_and_a_receive_maximum() -> None:
    sent = connect("c", v5=True, keepalive_s=60, session_expiry_s=604_800, receive_maximum=100_000)
    props = b"\x11\x00\x09\x3a\x80" + b"\x21\xff\xff"  # receive maximum capped at 65,535
    body = b"\x00\x04MQTT\x05\x00\x00\x3c" + bytes([len(props)]) + props + b"\x00\x01c"
    assert sent == bytes([0x10, len(body)]) + body


def test_a_password_without_a_user_name_is_not_sent() -> None:
    assert connect("c", v5=False, keepalive_s=5, password="p") == connect(
        "c", v5=False, keepalive_s=5
    )


def test_subscribe_sets_no_local_except_on_shared_subscriptions() -> None:
    sent = subscribe(["a/#", "$share/g/b"], v5=True)
    body = b"\x00\x01\x00" + b"\x00\x03a/#\x05" + b"\x00\x0a$share/g/b\x01"
    assert sent == bytes([0x82, len(body)]) + body
    assert subscribe(["a/#"], v5=False) == b"\x82\x08\x00\x01\x00\x03a/#\x01"


def test_publish_qos1_and_its_redelivery() -> None:
    assert publish(7, "t", b"x", v5=False, dup=False) == b"\x32\x06\x00\x01t\x00\x07x"
    assert publish(7, "t", b"x", v5=True, dup=True) == b"\x3a\x07\x00\x01t\x00\x07\x00x"


def test_control_packets() -> None:
    assert pubacks([1, 258]) == b"\x40\x02\x00\x01\x40\x02\x01\x02"
    assert pubacks([]) == b""
    assert PING == b"\xc0\x00"
    assert disconnect(v5=True) == b"\xe0\x02\x00\x00"
    assert disconnect(v5=False) == b"\xe0\x00"


def test_frame_waits_for_the_whole_packet() -> None:
    whole = packet(0x30, b"y" * 200)  # a two-byte remaining length
    assert frame(whole, 0) == (0x30, 3, 203)
    for cut in range(len(whole)):
        assert frame(whole[:cut], 0) is None
    assert frame(b"\xd0\x00" + whole, 2) == (0x30, 5, 205)
    with pytest.raises(ProtocolError, match="malformed remaining length"):
        frame(b"\x30\xff\xff\xff\xff\x01", 0)


@pytest.mark.parametrize("v5", [False, True])
def test_publish_parses_back(v5: bool) -> None:
    sent = publish(513, "facmon/v1/s/g/d/data", b'{"seq":1}', v5=v5, dup=False)
    header, start, end = frame(sent, 0) or (0, 0, 0)
    assert read_publish(sent, header, start, end, v5=v5) == (
        "facmon/v1/s/g/d/data",
        b'{"seq":1}',
        513,
        1,
    )


def test_publish_qos0_has_no_packet_id_and_its_properties_are_skipped() -> None:
    props = b"\x01\x01" + b"\x03" + prefixed("application/json")
    sent = packet(0x30, prefixed("t") + varint(len(props)) + props + b"payload")
    header, start, end = frame(sent, 0) or (0, 0, 0)
    assert read_publish(sent, header, start, end, v5=True) == ("t", b"payload", 0, 0)


def test_a_topic_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(ProtocolError, match="not UTF-8"):
        read_publish(b"\x30\x05\x00\x02\xff\xfex", 0x30, 2, 7, v5=False)


def test_connack() -> None:
    assert read_connack(b"\x01\x00", v5=False) == (True, None)
    assert read_connack(b"\x00\x00\x03\x13\x00\x3c", v5=True) == (False, 60)
    assert read_connack(b"\x00\x00\x00", v5=True) == (False, None)
    with pytest.raises(ProtocolError, match="connection refused: not authorised"):
        read_connack(b"\x00\x05", v5=False)
    with pytest.raises(ProtocolError, match="connection refused: bad user name or password"):
        read_connack(b"\x00\x86\x00", v5=True)
    with pytest.raises(ProtocolError, match="code 9"):
        read_connack(b"\x00\x09", v5=False)
    with pytest.raises(ProtocolError, match="malformed CONNACK"):
        read_connack(b"\x00", v5=False)


def test_suback_names_the_first_refusal() -> None:
    assert read_suback(b"\x00\x01\x01", v5=False) is None
    assert read_suback(b"\x00\x01\x80", v5=False) == "failure"
    assert read_suback(b"\x00\x01\x00\x01\x9e", v5=True) == "shared subscriptions not supported"
    assert read_suback(b"\x00\x01\x00\xa0", v5=True) == "code 0xa0"


def test_puback_and_disconnect_reasons() -> None:
    assert read_puback(b"\x01\x02") == (258, None)
    assert read_puback(b"\x00\x07\x00") == (7, None)
    assert read_puback(b"\x00\x07\x97") == (7, "quota exceeded")
    assert read_puback(b"\x00\x07\xa5") == (7, "reason 0xa5")
    assert read_disconnect(b"\x8e") == "session taken over"
    assert read_disconnect(b"") == "no reason"
    assert read_disconnect(b"\xa1") == "code 0xa1"
