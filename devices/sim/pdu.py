"""Answer a Modbus request PDU from a :class:`DeviceMemory` (pure; no sockets).

Function codes and exception codes follow the Modbus Application Protocol v1.1b3, §6 and §7.
"""

from __future__ import annotations

import struct
import sys

from devices.profile import Table
from devices.sim.memory import AddressError, DeviceMemory

ILLEGAL_FUNCTION = 0x01
ILLEGAL_DATA_ADDRESS = 0x02
ILLEGAL_DATA_VALUE = 0x03
SERVER_DEVICE_FAILURE = 0x04
GATEWAY_TARGET_FAILED = 0x0B

_READ_BITS = {0x01: Table.COIL, 0x02: Table.DISCRETE}
_READ_REGISTERS = {0x03: Table.HOLDING, 0x04: Table.INPUT}


def exception(function: int, code: int) -> bytes:
    """Return an exception response PDU (§7)."""
    return bytes((function | 0x80, code))


def answer(memory: DeviceMemory, pdu: bytes) -> bytes:
    """Return the response PDU to ``pdu``, or an exception response."""
    if not pdu:
        return exception(0, ILLEGAL_FUNCTION)
    function = pdu[0]
    try:
        if function in _READ_BITS:
            return _read_bits(memory, function, pdu)
        if function in _READ_REGISTERS:
            return _read_registers(memory, function, pdu)
        if function == 0x05:
            address, value = struct.unpack(">HH", pdu[1:5])
            if value not in (0x0000, 0xFF00):
                return exception(function, ILLEGAL_DATA_VALUE)
            memory.write_bits(address, [value == 0xFF00])
            return pdu[:5]
        if function == 0x06:
            address, value = struct.unpack(">HH", pdu[1:5])
            memory.write_registers(address, [value])
            return pdu[:5]
        if function == 0x0F:
            return _write_coils(memory, pdu)
        if function == 0x10:
            return _write_registers(memory, pdu)
    except struct.error:
        return exception(function, ILLEGAL_DATA_VALUE)
    except AddressError:
        return exception(function, ILLEGAL_DATA_ADDRESS)
    return exception(function, ILLEGAL_FUNCTION)


def _read_bits(memory: DeviceMemory, function: int, pdu: bytes) -> bytes:
    address, count = struct.unpack(">HH", pdu[1:5])
    if not 1 <= count <= 2000:
        return exception(function, ILLEGAL_DATA_VALUE)
    bits = memory.read_bits(_READ_BITS[function], address, count)
    packed = bytearray((count + 7) // 8)
    for index, bit in enumerate(bits):
        if bit:
            packed[index // 8] |= 1 << (index % 8)
    return bytes((function, len(packed))) + bytes(packed)


def _read_registers(memory: DeviceMemory, function: int, pdu: bytes) -> bytes:
    address, count = struct.unpack(">HH", pdu[1:5])
    if not 1 <= count <= 125:
        return exception(function, ILLEGAL_DATA_VALUE)
    registers = memory.read_registers(_READ_REGISTERS[function], address, count)
    if sys.byteorder == "little":  # the wire is big-endian (§4.2)
        registers.byteswap()
    return bytes((function, 2 * count)) + registers.tobytes()


def _write_coils(memory: DeviceMemory, pdu: bytes) -> bytes:
    address, count, size = struct.unpack(">HHB", pdu[1:6])
    if not 1 <= count <= 1968 or size != (count + 7) // 8 or len(pdu) != 6 + size:
        return exception(0x0F, ILLEGAL_DATA_VALUE)
    data = pdu[6:]
    memory.write_bits(address, [bool(data[i // 8] >> (i % 8) & 1) for i in range(count)])
    return pdu[:5]


def _write_registers(memory: DeviceMemory, pdu: bytes) -> bytes:
    address, count, size = struct.unpack(">HHB", pdu[1:6])
    if not 1 <= count <= 123 or size != 2 * count or len(pdu) != 6 + size:
        return exception(0x10, ILLEGAL_DATA_VALUE)
    memory.write_registers(address, list(struct.unpack(f">{count}H", pdu[6:])))
    return pdu[:5]
