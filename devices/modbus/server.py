"""Serve simulated devices over TCP: Modbus TCP (MBAP) or RTU frames over TCP.

Framing follows Modbus Messaging on TCP/IP v1.0b §3 (MBAP) and Modbus over Serial Line
v1.02 §2.5 (RTU). A device's :class:`~devices.sim.behaviour.Behaviour` can make it hang,
answer garbage, answer exceptions or answer late; an endpoint's link can go down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from devices.library import resolve_profile
from devices.modbus import mbap, rtu
from devices.modbus.answer import answer
from devices.modbus.endpoint import SimEndpoint
from devices.modbus.memory import DeviceMemory
from devices.modbus.pdu import (
    GATEWAY_TARGET_FAILED,
    ILLEGAL_DATA_VALUE,
    ILLEGAL_FUNCTION,
    SERVER_DEVICE_FAILURE,
    exception,
)
from devices.profile import Profile
from devices.sim.behaviour import Behaviour, SimulatedDevice

log = logging.getLogger(__name__)


@dataclass
class ModbusTcpSimulator:
    """One listening endpoint with the devices behind it, keyed by unit id.

    ``clock`` returns epoch seconds; it drives the dynamics and is injectable for tests.
    """

    endpoint: SimEndpoint
    devices: dict[int, DeviceMemory]
    clock: Callable[[], float] = time.time
    by_id: dict[str, SimulatedDevice] = field(default_factory=dict)
    """The devices by device id (what a scenario names)."""
    port: int = 0
    requests: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    _rng: random.Random = field(default_factory=lambda: random.Random(7))
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _link_up: asyncio.Event = field(default_factory=asyncio.Event)
    _link_down: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        """Listen until cancelled; while the link is down, accept nothing."""
        self.set_link(up=True)
        self.port = self.endpoint.port
        while True:
            server = await asyncio.start_server(
                self._serve, self.endpoint.host, self.port, reuse_address=True
            )
            self.port = server.sockets[0].getsockname()[1]
            if not self.ready.is_set():
                log.info(
                    "simulating %d device(s) on %s:%d (%s)",
                    len(self.devices),
                    self.endpoint.host,
                    self.port,
                    self.endpoint.framing,
                )
                self.ready.set()
            async with server:
                await self._link_down.wait()
                server.close()
                for writer in list(self._writers):
                    writer.close()
            await self._link_up.wait()

    def set_link(self, up: bool) -> None:
        """Bring the endpoint's link up or down (down: close the listener and connections)."""
        (self._link_down if up else self._link_up).clear()
        (self._link_up if up else self._link_down).set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            if self.endpoint.framing == "rtu":
                await self._serve_rtu(reader, writer)
            else:
                await self._serve_tcp(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except asyncio.CancelledError:
            # The server is shutting down. On Python 3.11, asyncio's stream callback calls
            # task.exception() on a handler that ends cancelled and logs a spurious error,
            # so the handler ends normally instead.
            writer.close()
            return
        finally:
            self._writers.discard(writer)
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            header = await reader.readexactly(mbap.HEADER.size)
            transaction, protocol, length, unit = mbap.HEADER.unpack(header)
            if not mbap.valid_header(protocol, length):
                return  # not Modbus TCP: drop the connection as devices do
            pdu = await reader.readexactly(length - 1)
            response = await self._respond(unit, pdu)
            if response is not None:
                writer.write(mbap.frame(transaction, unit, response))
                await writer.drain()

    async def _serve_rtu(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readexactly(7)
            length = rtu.request_length(head)
            if length is None:
                with contextlib.suppress(TimeoutError):  # unknown function: swallow the rest
                    async with asyncio.timeout(0.05):
                        await reader.read(512)
                writer.write(rtu.frame(head[0], exception(head[1], ILLEGAL_FUNCTION)))
                await writer.drain()
                continue
            frame = head + await reader.readexactly(length - 7)
            if not rtu.check(frame):
                continue  # a device ignores a frame with a bad CRC (§2.5.1.2)
            unit, pdu = frame[0], frame[1:-2]
            if unit not in self.devices:
                continue  # on a serial line only the addressed device answers
            response = await self._respond(unit, pdu)
            if response is not None:
                writer.write(rtu.frame(unit, response))
                await writer.drain()

    async def _respond(self, unit: int, pdu: bytes) -> bytes | None:
        """Return the response PDU, or None for no answer at all."""
        self.requests += 1
        memory = self.devices.get(unit)
        function = pdu[0] if pdu else 0
        if memory is None:
            return exception(function, GATEWAY_TARGET_FAILED)
        behaviour = memory.behaviour
        if behaviour.mode == "hang":
            return None
        if behaviour.mode == "exception":
            return exception(function, SERVER_DEVICE_FAILURE)
        if behaviour.mode == "garbage":
            size = self._rng.randint(1, 12)
            return bytes((function, 0xFF)) + self._rng.randbytes(size)
        if behaviour.mode == "slow":
            await asyncio.sleep(behaviour.delay_s)
        too_long = behaviour.max_block and int.from_bytes(pdu[3:5], "big") > behaviour.max_block
        if function in (3, 4) and len(pdu) >= 5 and too_long:
            return exception(function, ILLEGAL_DATA_VALUE)
        memory.refresh(self.clock())
        return answer(memory, pdu)


def simulate_endpoint(
    endpoint: SimEndpoint,
    seed: int,
    utc_offset_h: float,
    profiles: dict[str, Profile],
    clock: Callable[[], float] = time.time,
) -> ModbusTcpSimulator:
    """Build the simulator of one endpoint; ``profiles`` caches profiles by reference.

    Each device's values follow from ``seed`` and its id; office hours from ``utc_offset_h``.

    Raises:
        devices.library.ProfileError: a device names a missing or invalid profile.
    """
    devices: dict[int, DeviceMemory] = {}
    by_id: dict[str, SimulatedDevice] = {}
    for device in endpoint.devices:
        if device.profile not in profiles:
            profiles[device.profile] = resolve_profile(device.profile)
        own_seed = zlib.crc32(f"{seed}/{device.id}".encode())
        memory = DeviceMemory(profiles[device.profile], own_seed, utc_offset_h)
        memory.behaviour = Behaviour(max_block=device.max_block)
        devices[device.unit] = by_id[device.id] = memory
    return ModbusTcpSimulator(endpoint, devices, clock, by_id=by_id)
