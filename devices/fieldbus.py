"""What every field protocol offers the gateway: one bus interface, one error family, one lock.

A field protocol (Modbus now; SNMP, DL/T 645 and YD/T 1363.3 next) is one package under
``devices/`` that implements :class:`Bus`, describes itself in one :class:`FieldProtocol`
and is listed in :mod:`devices.protocols`. The poller, scheduler, spool and uplink see only
what is declared here, so they never know which protocol they drive.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import Field

from facmon.config import ConfigModel
from facmon.types import Slug, Value

if TYPE_CHECKING:
    from devices.profile import Point, Profile


class BusError(Exception):
    """A request failed; ``kind`` names the failure for metrics and device state."""

    kind = "error"


class BusUnavailable(BusError):
    """The endpoint cannot be reached (connection refused, reset, closed)."""

    kind = "unreachable"


class DeviceTimeout(BusError):
    """The device did not answer within the bus timeout."""

    kind = "timeout"


class DeviceException(BusError):
    """The device answered with an exception response (a refusal, with the protocol's code)."""

    kind = "exception"

    def __init__(self, code: int, protocol: str) -> None:
        """Record the exception code that ``protocol`` (its name, e.g. Modbus) answered."""
        super().__init__(f"{protocol} exception {code:#04x}")
        self.code = code


class GarbageResponse(BusError):
    """The device answered something that is not a valid response to the request."""

    kind = "garbage"


class WriteRefused(ValueError):
    """A value cannot be written to a point: not writable, wrong kind, outside its limits."""


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


class BusConfig(ConfigModel):
    """What every bus of every protocol is configured with; a protocol's models extend it."""

    id: Slug
    """Bus id (slug), referred to by devices."""
    timeout_s: float = Field(default=1.0, gt=0, le=60)
    """Seconds to wait for an answer before the request counts as a timeout."""
    inter_frame_s: float = Field(default=0.0, ge=0, le=1)
    """Pause between the end of one exchange and the next request (slow RS-485 devices)."""

    @property
    def connections_wanted(self) -> int:
        """How many parallel owners (connections) the gateway opens for this bus."""
        return 1


class FieldDevice(Protocol):
    """A device as a bus addresses it: its id, and its address on the bus."""

    @property
    def id(self) -> str:
        """Device id (slug)."""

    @property
    def unit(self) -> int:
        """Address of the device on its bus (Modbus unit id)."""


class Plan(Protocol):
    """A compiled read plan: whatever a protocol's bus executes to read a profile once."""

    @property
    def profile(self) -> Profile:
        """The profile the plan reads."""


@dataclass
class PollResult:
    """What executing a read plan once gave: values, ``bad`` flags, and what failed.

    ``plan`` is the plan to execute next time (a protocol may adapt it to the device, as
    Modbus splits blocks a device refuses). ``failures`` holds every failed request's error,
    ``error`` the one that left points without a value.
    """

    plan: Any
    ts: int | None = None
    """When the device answered first (epoch ms), None when it never did."""
    values: dict[str, Value] = field(default_factory=dict)
    quality: dict[str, str] = field(default_factory=dict)
    error: BusError | None = None
    failures: list[BusError] = field(default_factory=list)

    def fail(self, error: BusError, points: Sequence[Point]) -> None:
        """Mark ``points`` bad because of ``error``."""
        self.error = error
        self.quality.update((p.name, "bad") for p in points)


class Bus(Protocol):
    """The single owner of one line or connection: one request in flight, writes first.

    A bus connects on first use and again after a failure, so a reset line recovers by
    itself; a dead device costs one timeout, never the bus.
    """

    requests: int
    """Requests sent so far."""

    async def connect(self) -> None:
        """Open the connection if it is not open.

        Raises:
            BusUnavailable: the endpoint cannot be reached.
        """

    async def execute(
        self, device: FieldDevice, plan: Any, priority: int, wall: Callable[[], float]
    ) -> PollResult:
        """Execute ``plan`` for ``device`` once at ``priority``; ``wall`` stamps the answer.

        A :class:`BusError` does not escape: the result reports it, with the points it
        left without a value flagged ``bad``.
        """

    async def write(self, device: FieldDevice, point: Point, value: Value) -> None:
        """Write ``value`` to ``point`` of ``device``, ahead of queued polls.

        Raises:
            WriteRefused: the point is not writable, or the value does not fit it.
            BusError: the write failed on the wire (see each kind).
        """

    def close(self) -> None:
        """Close the connection."""


@dataclass(frozen=True, slots=True)
class BusKind:
    """One ``kind`` of bus in the gateway's ``buses`` list: its config model and its owner."""

    kind: str
    config: type[BusConfig]
    open: Callable[[Any], Bus]
    """Make the owner of a bus of this kind from its config (nothing connects yet)."""


@dataclass(frozen=True, slots=True)
class FieldProtocol:
    """One field protocol: its name (a profile's ``protocol``), buses, planner and simulator."""

    name: str
    title: str
    """The protocol's name as a person writes it (Modbus)."""
    buses: tuple[BusKind, ...]
    compile_plan: Callable[[Profile, Any], Plan]
    """Compile a profile into the plan this protocol's buses execute, for one device."""
    plan_key: Callable[[Any], object]
    """What of a device's settings the plan depends on (devices alike share one plan)."""
    simulators: dict[str, Callable[..., Any]] = field(default_factory=dict)
    """Simulator factory of each endpoint framing the simulator serves."""
