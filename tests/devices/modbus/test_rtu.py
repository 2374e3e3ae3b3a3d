"""RTU framing: CRC-16 and frame lengths."""

from __future__ import annotations

from devices.modbus import rtu


def test_crc_of_the_classic_example() -> None:
    # Read one holding register at 0 from unit 1: 01 03 00 00 00 01, CRC 84 0A on the wire.
    assert rtu.frame(1, bytes.fromhex("030000 0001".replace(" ", ""))) == bytes.fromhex(
        "010300000001840A"
    )
    assert rtu.check(bytes.fromhex("010300000001840A"))
    assert not rtu.check(bytes.fromhex("010300000001840B"))


def test_request_lengths() -> None:
    assert rtu.request_length(bytes.fromhex("01030000000184")) == 8
    assert rtu.request_length(bytes.fromhex("01100001000204")) == 13
    assert rtu.request_length(bytes.fromhex("012B0E01000000")) is None
