"""Serve simulated devices over Modbus TCP (MBAP framing, Modbus Messaging on TCP/IP v1.0b §3)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from devices.library import resolve_profile
from devices.sim.memory import DeviceMemory
from devices.sim.model import SimConfig, SimEndpoint
from devices.sim.pdu import GATEWAY_TARGET_FAILED, answer, exception

log = logging.getLogger(__name__)

_MBAP = struct.Struct(">HHHB")
_MAX_PDU = 253


@dataclass
class ModbusTcpSimulator:
    """One listening endpoint with the devices behind it, keyed by unit id.

    ``clock`` returns seconds; it drives the dynamics and is injectable for tests.
    """

    endpoint: SimEndpoint
    devices: dict[int, DeviceMemory]
    clock: Callable[[], float] = time.time
    port: int = 0
    requests: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        """Listen until cancelled."""
        server = await asyncio.start_server(
            self._serve, self.endpoint.host, self.endpoint.port, reuse_address=True
        )
        self.port = server.sockets[0].getsockname()[1]
        log.info(
            "simulating %d device(s) on %s:%d", len(self.devices), self.endpoint.host, self.port
        )
        self.ready.set()
        async with server:
            await server.serve_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                header = await reader.readexactly(_MBAP.size)
                transaction, protocol, length, unit = _MBAP.unpack(header)
                if protocol != 0 or not 2 <= length <= _MAX_PDU + 1:
                    break  # not Modbus TCP: drop the connection as devices do
                pdu = await reader.readexactly(length - 1)
                response = self._answer(unit, pdu)
                writer.write(_MBAP.pack(transaction, 0, len(response) + 1, unit) + response)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except asyncio.CancelledError:
            # The server is shutting down. On Python 3.11, asyncio's stream callback calls
            # task.exception() on a handler that ends cancelled and logs a spurious error,
            # so the handler ends normally instead.
            writer.close()
            return
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    def _answer(self, unit: int, pdu: bytes) -> bytes:
        self.requests += 1
        memory = self.devices.get(unit)
        if memory is None:
            return exception(pdu[0] if pdu else 0, GATEWAY_TARGET_FAILED)
        memory.refresh(self.clock())
        return answer(memory, pdu)


def build_simulators(config: SimConfig) -> list[ModbusTcpSimulator]:
    """Build one simulator per endpoint from the configuration.

    Raises:
        devices.library.ProfileError: a device names a missing or invalid profile.
    """
    simulators = []
    for endpoint in config.endpoints:
        devices = {}
        for device in endpoint.devices:
            seed = zlib.crc32(f"{config.seed}/{device.id}".encode())
            devices[device.unit] = DeviceMemory(resolve_profile(device.profile), seed)
        simulators.append(ModbusTcpSimulator(endpoint, devices))
    return simulators


async def run(config: SimConfig) -> None:
    """Run every endpoint of ``config`` until cancelled."""
    async with asyncio.TaskGroup() as group:
        for simulator in build_simulators(config):
            group.create_task(simulator.run())
