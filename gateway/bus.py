"""One owner per Modbus endpoint: one client, one lock, one request in flight."""

from __future__ import annotations

import asyncio
import logging

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.pdu import ExceptionResponse

from devices.profile import Table
from gateway.config import TcpBus

log = logging.getLogger(__name__)


class BusError(Exception):
    """A read failed; ``kind`` names the failure for metrics and device state."""

    kind = "error"


class BusUnavailable(BusError):
    """The endpoint cannot be reached (connection refused, reset, closed)."""

    kind = "unreachable"


class DeviceTimeout(BusError):
    """The device did not answer within the bus timeout."""

    kind = "timeout"


class DeviceException(BusError):
    """The device answered with a Modbus exception response."""

    kind = "exception"

    def __init__(self, code: int) -> None:
        """Record the exception code (Modbus Application Protocol §7)."""
        super().__init__(f"Modbus exception {code:#04x}")
        self.code = code


class GarbageResponse(BusError):
    """The device answered something that is not a valid response to the request."""

    kind = "garbage"


class ModbusTcpEndpoint:
    """The single owner of one Modbus TCP endpoint; requests are serialised by a lock."""

    def __init__(self, config: TcpBus) -> None:
        """Prepare; the client is made (inside the event loop) and connected on the first read."""
        self.config = config
        self._lock = asyncio.Lock()
        self._client: AsyncModbusTcpClient | None = None

    async def read(
        self, unit: int, table: Table, address: int, count: int
    ) -> list[int] | list[bool]:
        """Read ``count`` registers or bits of ``table`` from ``address`` at ``unit``.

        Raises:
            BusUnavailable, DeviceTimeout, DeviceException, GarbageResponse: see each.
        """
        async with self._lock:
            if self._client is None:
                self._client = AsyncModbusTcpClient(
                    self.config.host,
                    port=self.config.port,
                    timeout=self.config.timeout_s,
                    retries=0,
                    reconnect_delay=0,
                    name=f"bus-{self.config.id}",
                )
            if not self._client.connected and not await self._client.connect():
                raise BusUnavailable(f"cannot connect to {self.config.host}:{self.config.port}")
            try:
                response = await self._call(unit, table, address, count)
            except TimeoutError:
                self._client.close()
                raise DeviceTimeout(f"no answer within {self.config.timeout_s} s") from None
            except ModbusException as exc:
                self._client.close()
                text = str(exc)
                if "timeout" in text.lower() or "no response" in text.lower():
                    raise DeviceTimeout(text) from None
                raise BusUnavailable(text) from None
        if isinstance(response, ExceptionResponse) or response.isError():
            raise DeviceException(getattr(response, "exception_code", 0))
        block: list[int] | list[bool] = response.bits if table.is_bits else response.registers
        if len(block) < count:
            raise GarbageResponse(f"asked for {count}, got {len(block)}")
        return block[:count]

    async def _call(self, unit: int, table: Table, address: int, count: int):  # type: ignore[no-untyped-def]
        client = self._client
        assert client is not None
        if table is Table.HOLDING:
            return await client.read_holding_registers(address, count=count, device_id=unit)
        if table is Table.INPUT:
            return await client.read_input_registers(address, count=count, device_id=unit)
        if table is Table.COIL:
            return await client.read_coils(address, count=count, device_id=unit)
        return await client.read_discrete_inputs(address, count=count, device_id=unit)

    def close(self) -> None:
        """Close the connection."""
        if self._client is not None:
            self._client.close()
