"""One owner per Modbus line or endpoint: one client, one request in flight, writes first.

Modbus TCP goes through the lean connection of :mod:`devices.modbus.tcp`; RTU frames over
TCP (a serial server) and RTU on a local serial port through pymodbus. Both implement
:class:`devices.fieldbus.Bus`: requests are serialised by a :class:`~devices.fieldbus.BusLock`
in which downlink writes overtake queued polls, and after a failure the connection is
closed and made again on the next request, so a reset line recovers by itself.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.framer import FramerType
from pymodbus.pdu import ExceptionResponse

from devices.fieldbus import (
    NORMAL,
    URGENT,
    BusError,
    BusLock,
    BusUnavailable,
    DeviceException,
    DeviceTimeout,
    FieldDevice,
    GarbageResponse,
    PollResult,
    WriteRefused,
)
from devices.modbus import pdu, tcp
from devices.modbus.blocks import registers_to_bytes
from devices.modbus.codec import CodecError
from devices.modbus.config import RtuOverTcpBus, SerialBus, TcpBus
from devices.modbus.decoding import encode_point
from devices.modbus.plan import ReadPlan, ReadRequest, split
from devices.modbus.tables import Table
from devices.profile import Point
from facmon.types import Value

log = logging.getLogger(__name__)

ModbusBusConfig = TcpBus | RtuOverTcpBus | SerialBus
"""The config of any Modbus bus."""


class ModbusBus(abc.ABC):
    """What every Modbus bus does alike: execute a read plan (adapting it), write a point.

    A subclass reads and writes one block on its wire (:meth:`_read`, :meth:`_write`).
    """

    def __init__(self, config: ModbusBusConfig) -> None:
        """Prepare; the connection is made (inside the event loop) on first use."""
        self.config = config
        self.lock = BusLock()
        self.requests = 0
        self.reconnects = 0

    @abc.abstractmethod
    async def connect(self) -> None:
        """Open the connection if it is not open.

        Raises:
            BusUnavailable: the endpoint cannot be reached.
        """

    async def execute(
        self, device: FieldDevice, plan: ReadPlan, priority: int, wall: Callable[[], float]
    ) -> PollResult:
        """Read every request of ``plan`` from ``device``; ``wall`` stamps the first answer.

        A block the device refuses (exception 02 or 03) is split until it is accepted; the
        smaller plan is the result's ``plan``, kept for the next poll. The first timeout or
        broken link ends the poll: the rest would fail alike.
        """
        result = PollResult(plan)
        pending = deque(plan.requests)
        learned: list[ReadRequest] = []
        while pending:
            request = pending.popleft()
            try:
                block = await self.read(
                    device.unit, request.table, request.address, request.count, priority
                )
            except DeviceException as exc:
                result.failures.append(exc)
                if exc.code in pdu.REFUSALS and len(request.points) > 1:
                    log.info(
                        "device %s refused %d registers at %s %d (%s: %s); "
                        "reading in smaller blocks",
                        device.id,
                        request.count,
                        request.table,
                        request.address,
                        exc,
                        pdu.meaning(exc.code),
                    )
                    pending.extendleft(reversed(split(request)))
                    continue
                result.fail(exc, request.points)
                learned.append(request)
                continue
            except BusError as exc:
                result.failures.append(exc)
                result.fail(exc, [p for r in (request, *pending) for p in r.points])
                learned += [request, *pending]
                break
            if result.ts is None:
                result.ts = int(wall() * 1000)  # when the device answered
            good, bad = request.decode(block)
            result.values.update(good)
            result.quality.update(bad)
            learned.append(request)
        result.plan = ReadPlan(plan.profile, tuple(learned))
        return result

    async def read(
        self, unit: int, table: Table, address: int, count: int, priority: int = NORMAL
    ) -> bytes | list[bool]:
        """Read ``count`` registers (as big-endian bytes) or bits of ``table`` from ``address``.

        Raises:
            BusUnavailable, DeviceTimeout, DeviceException, GarbageResponse: see each.
        """
        await self.lock.acquire(priority)
        try:
            return await self._read(unit, table, address, count)
        finally:
            self.lock.release()

    async def write(self, device: FieldDevice, point: Point, value: Value) -> None:
        """Write ``value`` to a coil or holding-register point, ahead of queued polls.

        Raises:
            WriteRefused: the point is not a coil or holding register, or the value does
                not fit it (kind, limits, type).
            BusUnavailable, DeviceTimeout, DeviceException, GarbageResponse: see each.
        """
        if point.table not in pdu.WRITE_FUNCTIONS or point.address is None:
            raise WriteRefused(f"{point.name} is not writable")
        try:
            words = encode_point(point, value)
        except CodecError as exc:
            raise WriteRefused(str(exc)) from None
        await self.lock.acquire(URGENT)
        try:
            await self._write(device.unit, point.table, point.address, words)
        finally:
            self.lock.release()

    @abc.abstractmethod
    async def _read(self, unit: int, table: Table, address: int, count: int) -> bytes | list[bool]:
        """Read one block on the wire (the lock is held)."""

    @abc.abstractmethod
    async def _write(
        self, unit: int, table: Table, address: int, values: list[int] | list[bool]
    ) -> None:
        """Write one block on the wire (the lock is held)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close the connection."""


class ModbusTcpBus(ModbusBus):
    """A Modbus TCP endpoint, through the lean connection of :mod:`devices.modbus.tcp`."""

    def __init__(self, config: TcpBus) -> None:
        """Prepare; nothing connects until the first request."""
        super().__init__(config)
        self.tcp = config
        self._connection: tcp.ModbusTcpConnection | None = None

    async def connect(self) -> None:
        """Open the connection if it is not open.

        Raises:
            BusUnavailable: the endpoint refused, or did not answer in time.
        """
        if self._connection is None or not self._connection.connected:
            try:
                self._connection = await tcp.connect(
                    self.tcp.host, self.tcp.port, self.tcp.timeout_s
                )
            except BusUnavailable:
                self.reconnects += 1
                raise

    async def _read(self, unit: int, table: Table, address: int, count: int) -> bytes | list[bool]:
        request = pdu.read_pdu(pdu.READ_FUNCTIONS[table], address, count)
        response = await self._exchange(unit, request)
        return pdu.read_answer(response, count, table.is_bits)

    async def _write(
        self, unit: int, table: Table, address: int, values: list[int] | list[bool]
    ) -> None:
        await self._exchange(unit, pdu.write_pdu(pdu.WRITE_FUNCTIONS[table], address, values))

    async def _exchange(self, unit: int, request: bytes) -> bytes:
        await self.connect()
        connection = self._connection
        assert connection is not None
        self.requests += 1
        try:
            return await connection.exchange(unit, request, self.tcp.timeout_s)
        except (DeviceTimeout, GarbageResponse, BusUnavailable):
            connection.close()  # a late or garbled answer must not be taken for the next one
            raise
        finally:
            if self.tcp.inter_frame_s:
                await asyncio.sleep(self.tcp.inter_frame_s)

    def close(self) -> None:
        """Close the connection."""
        if self._connection is not None:
            self._connection.close()


class PymodbusBus(ModbusBus):
    """A Modbus RTU line (serial, or RTU frames over TCP) through a pymodbus client."""

    def __init__(self, config: RtuOverTcpBus | SerialBus, make_client: Callable[..., Any]) -> None:
        """Prepare; ``make_client(config)`` is called inside the event loop on first use."""
        super().__init__(config)
        self.line = config
        self._make_client = make_client
        self._client: Any = None

    async def connect(self) -> None:
        """Open the connection if it is not open.

        Raises:
            BusUnavailable: the line or serial server cannot be opened.
        """
        if self._client is None:
            self._client = self._make_client(self.line)
        if not self._client.connected and not await self._client.connect():
            self.reconnects += 1
            raise BusUnavailable(f"cannot connect to {self.line.where}")

    async def _read(self, unit: int, table: Table, address: int, count: int) -> bytes | list[bool]:
        answer = await self._exchange(unit, _READS[table], address, count)
        values = answer.bits if table.is_bits else answer.registers
        if len(values[:count]) < count:
            raise GarbageResponse(f"asked for {count}, got {len(values[:count])}")
        if table.is_bits:
            return [bool(b) for b in values[:count]]
        return registers_to_bytes(values[:count])

    async def _write(
        self, unit: int, table: Table, address: int, values: list[int] | list[bool]
    ) -> None:
        method = "write_coils" if table is Table.COIL else "write_registers"
        await self._exchange(unit, method, address, values)

    async def _exchange(self, unit: int, method: str, address: int, argument: Any) -> Any:
        await self.connect()
        client = self._client
        self.requests += 1
        call = getattr(client, method)
        try:
            if method.startswith("read"):
                response = await call(address, count=argument, device_id=unit)
            else:
                response = await call(address, argument, device_id=unit)
        except TimeoutError:
            client.close()
            raise DeviceTimeout(f"no answer within {self.line.timeout_s} s") from None
        except ModbusException as exc:
            client.close()
            text = str(exc).lower()
            if "timeout" in text or "no response" in text:
                raise DeviceTimeout(f"no answer within {self.line.timeout_s} s") from None
            if "decode" in text or "unable to" in text or "crc" in text or "invalid" in text:
                raise GarbageResponse(str(exc)) from None
            raise BusUnavailable(str(exc)) from None
        finally:
            if self.line.inter_frame_s:
                await asyncio.sleep(self.line.inter_frame_s)
        if isinstance(response, ExceptionResponse) or response.isError():
            raise DeviceException(getattr(response, "exception_code", 0), "Modbus")
        return response

    def close(self) -> None:
        """Close the connection."""
        if self._client is not None:
            self._client.close()


_READS = {
    Table.HOLDING: "read_holding_registers",
    Table.INPUT: "read_input_registers",
    Table.COIL: "read_coils",
    Table.DISCRETE: "read_discrete_inputs",
}


def _common(config: RtuOverTcpBus | SerialBus) -> dict[str, Any]:
    return {
        "timeout": config.timeout_s,
        "retries": 0,
        "reconnect_delay": 0,
        "name": f"bus-{config.id}",
    }


def serial_client(config: SerialBus) -> AsyncModbusSerialClient:
    """Return the pymodbus client of a local serial line (RTU framing)."""
    return AsyncModbusSerialClient(
        config.port,
        framer=FramerType.RTU,
        baudrate=config.baudrate,
        parity=config.parity,
        stopbits=config.stopbits,
        bytesize=config.bytesize,
        **_common(config),
    )


def rtu_over_tcp_client(config: RtuOverTcpBus) -> AsyncModbusTcpClient:
    """Return the pymodbus client of a serial server passing RTU frames through TCP."""
    return AsyncModbusTcpClient(
        config.host, port=config.port, framer=FramerType.RTU, **_common(config)
    )
