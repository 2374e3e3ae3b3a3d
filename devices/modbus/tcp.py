"""A lean Modbus TCP connection (MBAP framing, Modbus Messaging on TCP/IP v1.0b §3).

The gateway's TCP buses use it instead of pymodbus: one request in flight, no retries of
its own, responses checked strictly (transaction id, unit, function, byte count) and
returned as the raw register bytes the block decoder reads. RTU framing and serial lines
stay with pymodbus.
"""

from __future__ import annotations

import asyncio
import socket

from devices.fieldbus import BusUnavailable, DeviceException, DeviceTimeout, GarbageResponse
from devices.modbus import mbap


class ModbusTcpConnection(asyncio.Protocol):
    """One TCP connection to a Modbus server; :meth:`exchange` sends a PDU and awaits its answer."""

    def __init__(self) -> None:
        """Start unconnected; :func:`connect` makes one."""
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiting: tuple[int, int, asyncio.Future[bytes]] | None = None
        self._transaction = 0
        self.lost: Exception | None = None

    @property
    def connected(self) -> bool:
        """Whether the connection is open."""
        return self._transport is not None and not self._transport.is_closing()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport (asyncio sets TCP_NODELAY on stream sockets)."""
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        """Fail the request in flight."""
        self.lost = exc or ConnectionResetError("connection closed by the device")
        self._transport = None
        if self._waiting is not None and not self._waiting[2].done():
            self._waiting[2].set_exception(BusUnavailable(str(self.lost)))

    def data_received(self, data: bytes) -> None:
        """Collect bytes until a whole MBAP frame is there, then answer the waiting request."""
        self._buffer += data
        while len(self._buffer) >= mbap.HEADER.size:
            transaction, protocol, length, unit = mbap.HEADER.unpack_from(self._buffer)
            if not mbap.valid_header(protocol, length):
                self._garbage(f"not a Modbus TCP frame (protocol {protocol}, length {length})")
                return
            if len(self._buffer) < 6 + length:
                return
            pdu = bytes(self._buffer[mbap.HEADER.size : 6 + length])
            del self._buffer[: 6 + length]
            waiting = self._waiting
            if waiting is None or transaction != waiting[0]:
                continue  # a late answer to a request that already timed out
            if unit != waiting[1]:
                self._garbage(f"answer from unit {unit} to a request for unit {waiting[1]}")
                return
            if not waiting[2].done():
                waiting[2].set_result(pdu)

    def _garbage(self, reason: str) -> None:
        self._buffer.clear()
        if self._waiting is not None and not self._waiting[2].done():
            self._waiting[2].set_exception(GarbageResponse(reason))

    async def exchange(self, unit: int, pdu: bytes, timeout_s: float) -> bytes:
        """Send ``pdu`` to ``unit`` and return the response PDU (an exception PDU raises).

        Raises:
            BusUnavailable, DeviceTimeout, DeviceException, GarbageResponse: see each.
        """
        if self._transport is None:
            raise BusUnavailable(str(self.lost or "not connected"))
        self._transaction = (self._transaction + 1) & 0xFFFF
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting = (self._transaction, unit, future)
        self._transport.write(mbap.frame(self._transaction, unit, pdu))
        try:
            async with asyncio.timeout(timeout_s):  # not wait_for: on 3.11 it can lose a cancel
                response = await future
        except TimeoutError:
            raise DeviceTimeout(f"no answer within {timeout_s} s") from None
        finally:
            self._waiting = None
        if response[0] == pdu[0] | 0x80:
            raise DeviceException(response[1] if len(response) > 1 else 0, "Modbus")
        if response[0] != pdu[0]:
            raise GarbageResponse(f"answer to function {response[0]:#04x}, asked {pdu[0]:#04x}")
        return response

    def close(self) -> None:
        """Close the connection."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None


async def connect(host: str, port: int, timeout_s: float) -> ModbusTcpConnection:
    """Open a connection.

    Raises:
        BusUnavailable: the endpoint refused, or did not answer within ``timeout_s``.
    """
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout_s):
            _, protocol = await loop.create_connection(
                ModbusTcpConnection, host, port, family=socket.AF_UNSPEC
            )
    except (OSError, TimeoutError) as exc:
        raise BusUnavailable(f"cannot connect to {host}:{port}: {exc or 'timeout'}") from None
    return protocol
