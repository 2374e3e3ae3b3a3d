"""Answer a Modbus request PDU from a :class:`DeviceMemory` (pure; no sockets).

Function codes and exception codes follow the Modbus Application Protocol v1.1b3, §6 and §7.
"""

from __future__ import annotations

import struct
import sys

from devices.modbus.memory import AddressError, DeviceMemory
from devices.modbus.pdu import (
    ILLEGAL_DATA_ADDRESS,
    ILLEGAL_DATA_VALUE,
    ILLEGAL_FUNCTION,
    MAX_BITS,
    MAX_REGISTERS,
    READ_TABLES,
    WRITE_MULTIPLE_COILS,
    WRITE_MULTIPLE_REGISTERS,
    WRITE_SINGLE_COIL,
    WRITE_SINGLE_REGISTER,
    exception,
    pack_bits,
)


def answer(memory: DeviceMemory, pdu: bytes) -> bytes:
    """Return the response PDU to ``pdu``, or an exception response."""
    if not pdu:
        return exception(0, ILLEGAL_FUNCTION)
    function = pdu[0]
    try:
        table = READ_TABLES.get(function)
        if table is not None:
            read = _read_bits if table.is_bits else _read_registers
            return read(memory, function, pdu)
        if function == WRITE_SINGLE_COIL:
            address, value = struct.unpack(">HH", pdu[1:5])
            if value not in (0x0000, 0xFF00):
                return exception(function, ILLEGAL_DATA_VALUE)
            memory.write_bits(address, [value == 0xFF00])
            return pdu[:5]
        if function == WRITE_SINGLE_REGISTER:
            address, value = struct.unpack(">HH", pdu[1:5])
            memory.write_registers(address, [value])
            return pdu[:5]
        if function == WRITE_MULTIPLE_COILS:
            return _write_coils(memory, pdu)
        if function == WRITE_MULTIPLE_REGISTERS:
            return _write_registers(memory, pdu)
    except struct.error:
        return exception(function, ILLEGAL_DATA_VALUE)
    except AddressError:
        return exception(function, ILLEGAL_DATA_ADDRESS)
    return exception(function, ILLEGAL_FUNCTION)


def _read_bits(memory: DeviceMemory, function: int, pdu: bytes) -> bytes:
    address, count = struct.unpack(">HH", pdu[1:5])
    if not 1 <= count <= MAX_BITS:
        return exception(function, ILLEGAL_DATA_VALUE)
    packed = pack_bits(memory.read_bits(READ_TABLES[function], address, count))
    return bytes((function, len(packed))) + packed


def _read_registers(memory: DeviceMemory, function: int, pdu: bytes) -> bytes:
    address, count = struct.unpack(">HH", pdu[1:5])
    if not 1 <= count <= MAX_REGISTERS:
        return exception(function, ILLEGAL_DATA_VALUE)
    registers = memory.read_registers(READ_TABLES[function], address, count)
    if sys.byteorder == "little":  # the wire is big-endian (§4.2)
        registers.byteswap()
    return bytes((function, 2 * count)) + registers.tobytes()


def _write_coils(memory: DeviceMemory, pdu: bytes) -> bytes:
    address, count, size = struct.unpack(">HHB", pdu[1:6])
    if not 1 <= count <= 1968 or size != (count + 7) // 8 or len(pdu) != 6 + size:
        return exception(WRITE_MULTIPLE_COILS, ILLEGAL_DATA_VALUE)
    data = pdu[6:]
    memory.write_bits(address, [bool(data[i // 8] >> (i % 8) & 1) for i in range(count)])
    return pdu[:5]


def _write_registers(memory: DeviceMemory, pdu: bytes) -> bytes:
    address, count, size = struct.unpack(">HHB", pdu[1:6])
    if not 1 <= count <= 123 or size != 2 * count or len(pdu) != 6 + size:
        return exception(WRITE_MULTIPLE_REGISTERS, ILLEGAL_DATA_VALUE)
    memory.write_registers(address, list(struct.unpack(f">{count}H", pdu[6:])))
    return pdu[:5]
