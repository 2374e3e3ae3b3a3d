"""Modbus RTU framing (Modbus over Serial Line v1.02 §2.5): unit, PDU, CRC-16 (pure)."""

from __future__ import annotations


def _table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _table()


def crc16(data: bytes) -> int:
    """Return the Modbus CRC-16 of ``data`` (polynomial 0xA001 reflected, initial 0xFFFF)."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ byte) & 0xFF]
    return crc


def frame(unit: int, pdu: bytes) -> bytes:
    """Return the RTU frame of ``pdu`` for ``unit``; the CRC goes low byte first."""
    body = bytes((unit,)) + pdu
    return body + crc16(body).to_bytes(2, "little")


def check(frame_bytes: bytes) -> bool:
    """Return whether a whole frame's CRC is right."""
    return len(frame_bytes) >= 4 and crc16(frame_bytes[:-2]) == int.from_bytes(
        frame_bytes[-2:], "little"
    )


def request_length(head: bytes) -> int | None:
    """Return the whole length of a request frame from its first 7 bytes, or None if unknown.

    Fixed-length requests (function codes 1 to 6) are 8 bytes; writes of many coils or
    registers (15, 16) carry their byte count in the seventh byte.
    """
    function = head[1]
    if 1 <= function <= 6:
        return 8
    if function in (0x0F, 0x10) and len(head) >= 7:
        return 9 + head[6]
    return None
