"""How a simulated device of any protocol behaves, and what the runner drives (pure).

A protocol's simulator (for Modbus :class:`devices.modbus.server.ModbusTcpSimulator`)
serves its devices on one endpoint; the runner plays the scenario through the two
interfaces here, whichever protocol serves.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from dataclasses import dataclass
from typing import Literal, Protocol

from devices.profile import Profile, Simulation
from facmon.types import Value

FaultMode = Literal["normal", "hang", "garbage", "exception", "slow"]


@dataclass
class Behaviour:
    """How the device answers: normally, not at all, with garbage, with exceptions, or late."""

    mode: FaultMode = "normal"
    delay_s: float = 0.0
    """Extra delay before answering (``slow``)."""
    max_block: int | None = None
    """Refuse reads of more registers than this with exception 03."""


def sim_value(
    sim: Simulation, now: float, since: float, phase: float, rng: random.Random, utc_offset_h: float
) -> float:
    """Return a point's simulated value at ``now`` (epoch seconds); pure but for ``rng``."""
    value = sim.base + sim.drift_per_s * (now - since)
    if sim.shape == "office":
        local = time.gmtime(now + utc_offset_h * 3600)
        hour = local.tm_hour + local.tm_min / 60
        if local.tm_wday < 5 and 8 <= hour < 18:
            value += sim.amplitude
    elif sim.amplitude:
        value += sim.amplitude * math.sin(2 * math.pi * now / sim.period_s + phase)
    if sim.noise:
        value += rng.gauss(0, sim.noise)
    return value


class SimulatedDevice(Protocol):
    """One simulated device, as the scenario changes it."""

    behaviour: Behaviour
    """How it answers."""
    profile: Profile
    """What it is."""
    values: dict[str, Value]
    """The engineering value it serves for each point, now."""

    def refresh(self, now: float) -> None:
        """Move its values to time ``now`` (epoch seconds)."""

    def sum_of(self, parts: list[SimulatedDevice], points: list[str]) -> None:
        """Make ``points`` its own value plus those of ``parts`` (a main meter's).

        Raises:
            KeyError: a point cannot be summed on it or on a part.
        """

    def set_point(self, name: str, value: Value) -> None:
        """Set a point's (or a flag's) value and hold it there.

        Raises:
            KeyError: the profile has no such point or flag.
        """

    def unpin(self, name: str) -> None:
        """Undo :meth:`set_point`: the value goes back and moves again."""


class EndpointSimulator(Protocol):
    """One listening endpoint of a protocol's simulator and the devices behind it."""

    port: int
    """The port it listens on (known once :attr:`ready` is set)."""
    ready: asyncio.Event
    """Set once it listens."""
    requests: int
    """Requests answered so far."""
    by_id: dict[str, SimulatedDevice]
    """Its devices, by device id."""

    async def run(self) -> None:
        """Listen until cancelled."""

    def set_link(self, up: bool) -> None:
        """Bring the endpoint's link up or down."""
