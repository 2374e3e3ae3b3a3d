"""Modbus PDUs (pure): function and exception codes, requests and answers.

Modbus Application Protocol v1.1b3: data model §4.3, function codes §6, exceptions §7.
"""

from __future__ import annotations

import struct

from devices.fieldbus import GarbageResponse
from devices.modbus.tables import Table

READ_FUNCTIONS = {Table.COIL: 0x01, Table.DISCRETE: 0x02, Table.HOLDING: 0x03, Table.INPUT: 0x04}
"""The read function code of each table (§6.1 to §6.4)."""
READ_TABLES = {code: table for table, code in READ_FUNCTIONS.items()}
"""The table each read function code reads."""
WRITE_SINGLE_COIL = 0x05
WRITE_SINGLE_REGISTER = 0x06
WRITE_MULTIPLE_COILS = 0x0F
WRITE_MULTIPLE_REGISTERS = 0x10
WRITE_FUNCTIONS = {Table.COIL: WRITE_MULTIPLE_COILS, Table.HOLDING: WRITE_MULTIPLE_REGISTERS}
"""The multiple-write function code of each writable table (§6.11, §6.12)."""

ILLEGAL_FUNCTION = 0x01
ILLEGAL_DATA_ADDRESS = 0x02
ILLEGAL_DATA_VALUE = 0x03
SERVER_DEVICE_FAILURE = 0x04
GATEWAY_TARGET_FAILED = 0x0B

EXCEPTION_MEANINGS = {
    ILLEGAL_FUNCTION: "illegal function",
    ILLEGAL_DATA_ADDRESS: "illegal data address",
    ILLEGAL_DATA_VALUE: "illegal data value",
    SERVER_DEVICE_FAILURE: "server device failure",
    0x05: "acknowledge",
    0x06: "server device busy",
    0x08: "memory parity error",
    0x0A: "gateway path unavailable",
    GATEWAY_TARGET_FAILED: "gateway target device failed to respond",
}
"""Each exception code in words (§7)."""

REFUSALS = frozenset((ILLEGAL_DATA_ADDRESS, ILLEGAL_DATA_VALUE))
"""Exception codes a device answers for a block it does not accept whole."""

MAX_REGISTERS = 125
"""Most registers one read request may ask for (§6.3, §6.4)."""
MAX_BITS = 2000
"""Most coils or discrete inputs one read request may ask for (§6.1, §6.2)."""

_READ = struct.Struct(">BHH")


def meaning(code: int) -> str:
    """Return what exception ``code`` means, in words."""
    return EXCEPTION_MEANINGS.get(code, f"exception {code:#04x}")


def exception(function: int, code: int) -> bytes:
    """Return an exception response PDU (§7)."""
    return bytes((function | 0x80, code))


def pack_bits(bits: list[bool]) -> bytes:
    """Return bits packed eight to a byte, the first in the lowest bit (§6.1, §6.11)."""
    packed = bytearray((len(bits) + 7) // 8)
    for index, bit in enumerate(bits):
        if bit:
            packed[index // 8] |= 1 << (index % 8)
    return bytes(packed)


def read_pdu(function: int, address: int, count: int) -> bytes:
    """Return the PDU of a read (function 1 to 4)."""
    return _READ.pack(function, address, count)


def read_answer(response: bytes, count: int, bits: bool) -> bytes | list[bool]:
    """Return the registers (as bytes) or bits of a read response.

    Raises:
        GarbageResponse: the byte count does not match the request.
    """
    expected = (count + 7) // 8 if bits else 2 * count
    if len(response) < 2 or response[1] != expected or len(response) != 2 + expected:
        raise GarbageResponse(f"answer of {len(response) - 2} data bytes to a read of {count}")
    data = response[2:]
    if bits:
        return [bool(data[i // 8] >> (i % 8) & 1) for i in range(count)]
    return data


def write_pdu(function: int, address: int, values: list[int] | list[bool]) -> bytes:
    """Return the PDU of a multiple write (15 coils, 16 registers)."""
    if function == WRITE_MULTIPLE_COILS:
        packed = pack_bits([bool(v) for v in values])
        return struct.pack(">BHHB", function, address, len(values), len(packed)) + packed
    return struct.pack(
        f">BHHB{len(values)}H", function, address, len(values), 2 * len(values), *values
    )
