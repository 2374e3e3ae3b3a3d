"""The MBAP header of Modbus TCP (Modbus Messaging on TCP/IP v1.0b §3.1.3), for client and server.

A frame is the 7-byte header (transaction id, protocol id 0, length of what follows the
length field, unit id) and the PDU.
"""

from __future__ import annotations

import struct

HEADER = struct.Struct(">HHHB")
"""Transaction id, protocol id, length, unit id: big-endian."""
MAX_PDU = 253
"""Longest PDU a frame carries (§4.1 of the application protocol)."""


def frame(transaction: int, unit: int, pdu: bytes) -> bytes:
    """Return the MBAP frame of ``pdu`` for ``unit``."""
    return HEADER.pack(transaction, 0, len(pdu) + 1, unit) + pdu


def valid_header(protocol: int, length: int) -> bool:
    """Whether a header's protocol id and length are those of a Modbus TCP frame."""
    return protocol == 0 and 2 <= length <= MAX_PDU + 1
