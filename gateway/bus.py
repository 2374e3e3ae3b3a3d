"""One owner per Modbus line or endpoint: one client, one request in flight, writes first.

Modbus TCP, RTU frames over TCP (a serial server) and RTU on a local serial port all go
through :class:`ModbusEndpoint`. Requests are serialised by a :class:`BusLock` in which
downlink writes overtake queued polls. After a failure the connection is closed and made
again on the next request, so a reset line recovers by itself.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Any

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.framer import FramerType
from pymodbus.pdu import ExceptionResponse

from devices.blocks import registers_to_bytes
from devices.profile import Table
from gateway import modbus_tcp
from gateway.config import Bus, RtuOverTcpBus, SerialBus, TcpBus
from gateway.errors import BusError, BusUnavailable, DeviceException, DeviceTimeout, GarbageResponse

__all__ = [
    "NORMAL",
    "SUSPECT",
    "URGENT",
    "BusError",
    "BusLock",
    "BusUnavailable",
    "DeviceException",
    "DeviceTimeout",
    "GarbageResponse",
    "ModbusEndpoint",
]

log = logging.getLogger(__name__)


ILLEGAL_DATA_ADDRESS = 0x02
ILLEGAL_DATA_VALUE = 0x03


URGENT, NORMAL, SUSPECT = 0, 1, 2
"""Bus priorities: downlink writes, polls of healthy devices, polls of failing devices."""


class BusLock:
    """A lock with FIFO waiters in three priority lanes (:data:`URGENT` first).

    Polls of devices that are failing wait behind those of healthy devices, so a healthy
    device waits at most for the one exchange in flight, never for a queue of timeouts.
    """

    def __init__(self) -> None:
        """Start unlocked."""
        self._locked = False
        self._lanes: list[collections.deque[asyncio.Future[None]]] = [
            collections.deque() for _ in range(3)
        ]

    async def acquire(self, priority: int = NORMAL) -> None:
        """Wait for the bus."""
        if not self._locked and not any(self._lanes):
            self._locked = True
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._lanes[priority].append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # it was handed to us just as we were cancelled
            elif future in self._lanes[priority]:  # release() may have dropped it already
                self._lanes[priority].remove(future)
            raise

    def release(self) -> None:
        """Hand the bus to the next waiter, in priority order."""
        for lane in self._lanes:
            while lane:
                future = lane.popleft()
                if not future.done():
                    future.set_result(None)
                    return
        self._locked = False


class ModbusEndpoint:
    """The single owner of one Modbus line or TCP connection."""

    def __init__(self, config: Bus) -> None:
        """Prepare; the client is made (inside the event loop) and connected on first use."""
        self.config = config
        self.lock = BusLock()
        self.requests = 0
        self.reconnects = 0
        self._client: Any = None

    def _make_client(self) -> Any:
        config = self.config
        common: dict[str, Any] = {
            "timeout": config.timeout_s,
            "retries": 0,
            "reconnect_delay": 0,
            "name": f"bus-{config.id}",
        }
        if isinstance(config, SerialBus):
            return AsyncModbusSerialClient(
                config.port,
                framer=FramerType.RTU,
                baudrate=config.baudrate,
                parity=config.parity,
                stopbits=config.stopbits,
                bytesize=config.bytesize,
                **common,
            )
        framer = FramerType.RTU if isinstance(config, RtuOverTcpBus) else FramerType.SOCKET
        return AsyncModbusTcpClient(config.host, port=config.port, framer=framer, **common)

    async def read(
        self, unit: int, table: Table, address: int, count: int, priority: int = NORMAL
    ) -> bytes | list[bool]:
        """Read ``count`` registers (as big-endian bytes) or bits of ``table`` from ``address``.

        Raises:
            BusUnavailable, DeviceTimeout, DeviceException, GarbageResponse: see each.
        """
        await self.lock.acquire(priority)
        try:
            if isinstance(self.config, TcpBus):
                pdu = modbus_tcp.read_pdu(_FUNCTIONS[table], address, count)
                response = await self._exchange_tcp(unit, pdu)
                return modbus_tcp.read_answer(response, count, table.is_bits)
            answer = await self._exchange(unit, _READS[table], address, count)
        finally:
            self.lock.release()
        if table.is_bits:
            bits = [bool(b) for b in answer.bits[:count]]
            if len(bits) < count:
                raise GarbageResponse(f"asked for {count}, got {len(bits)}")
            return bits
        registers = answer.registers
        if len(registers) < count:
            raise GarbageResponse(f"asked for {count}, got {len(registers)}")
        return registers_to_bytes(registers[:count])

    async def write(
        self, unit: int, table: Table, address: int, values: list[int] | list[bool]
    ) -> None:
        """Write coils or holding registers, ahead of queued polls.

        Raises:
            BusUnavailable, DeviceTimeout, DeviceException, GarbageResponse: see each.
        """
        await self.lock.acquire(URGENT)
        try:
            if isinstance(self.config, TcpBus):
                function = 0x0F if table is Table.COIL else 0x10
                await self._exchange_tcp(unit, modbus_tcp.write_pdu(function, address, values))
                return
            method = "write_coils" if table is Table.COIL else "write_registers"
            await self._exchange(unit, method, address, values)
        finally:
            self.lock.release()

    async def _exchange_tcp(self, unit: int, pdu: bytes) -> bytes:
        assert isinstance(self.config, TcpBus)
        connection: modbus_tcp.ModbusTcpConnection | None = self._client
        if connection is None or not connection.connected:
            try:
                connection = self._client = await modbus_tcp.connect(
                    self.config.host, self.config.port, self.config.timeout_s
                )
            except BusUnavailable:
                self.reconnects += 1
                raise
        self.requests += 1
        try:
            return await connection.exchange(unit, pdu, self.config.timeout_s)
        except (DeviceTimeout, GarbageResponse, BusUnavailable):
            connection.close()  # a late or garbled answer must not be taken for the next one
            raise
        finally:
            if self.config.inter_frame_s:
                await asyncio.sleep(self.config.inter_frame_s)

    async def _exchange(self, unit: int, method: str, address: int, argument: Any) -> Any:
        if self._client is None:
            self._client = self._make_client()
        client = self._client
        if not client.connected and not await client.connect():
            self.reconnects += 1
            raise BusUnavailable(f"cannot connect to {_where(self.config)}")
        self.requests += 1
        call = getattr(client, method)
        try:
            if method.startswith("read"):
                response = await call(address, count=argument, device_id=unit)
            else:
                response = await call(address, argument, device_id=unit)
        except TimeoutError:
            client.close()
            raise DeviceTimeout(f"no answer within {self.config.timeout_s} s") from None
        except ModbusException as exc:
            client.close()
            text = str(exc).lower()
            if "timeout" in text or "no response" in text:
                raise DeviceTimeout(f"no answer within {self.config.timeout_s} s") from None
            if "decode" in text or "unable to" in text or "crc" in text or "invalid" in text:
                raise GarbageResponse(str(exc)) from None
            raise BusUnavailable(str(exc)) from None
        finally:
            if self.config.inter_frame_s:
                await asyncio.sleep(self.config.inter_frame_s)
        if isinstance(response, ExceptionResponse) or response.isError():
            raise DeviceException(getattr(response, "exception_code", 0))
        return response

    def close(self) -> None:
        """Close the connection."""
        if self._client is not None:
            self._client.close()


_FUNCTIONS = {Table.COIL: 0x01, Table.DISCRETE: 0x02, Table.HOLDING: 0x03, Table.INPUT: 0x04}
_READS = {
    Table.HOLDING: "read_holding_registers",
    Table.INPUT: "read_input_registers",
    Table.COIL: "read_coils",
    Table.DISCRETE: "read_discrete_inputs",
}


def _where(config: Bus) -> str:
    if isinstance(config, SerialBus):
        return config.port
    return f"{config.host}:{config.port}"
