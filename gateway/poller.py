"""Poll one device on its schedule: execute the read plan, publish data and state."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from devices.profile import Value
from facmon.contract import DataEnvelope, StateEnvelope, Topic, TopicKind
from gateway.bus import BusError, ModbusTcpEndpoint
from gateway.config import DeviceConfig
from gateway.plan import ReadPlan
from gateway.readings import decode_block
from gateway.uplink import Uplink

log = logging.getLogger(__name__)

OFFLINE_AFTER = 3
"""Consecutive polls with no answer after which a device is ``offline`` (before: ``degraded``)."""

DeviceState = Literal["online", "degraded", "offline"]


@dataclass
class SeqCounter:
    """The gateway's message counter, shared by all its devices."""

    value: int = 0

    def next(self) -> int:
        """Return the next sequence number."""
        self.value += 1
        return self.value


@dataclass
class DevicePoller:
    """Executes one device's read plan every ``interval_s`` on a monotonic, drift-free grid.

    ``monotonic`` schedules; ``wall`` stamps readings (both injectable).
    """

    device: DeviceConfig
    plan: ReadPlan
    endpoint: ModbusTcpEndpoint
    uplink: Uplink
    site: str
    gateway: str
    prefix: str
    seq: SeqCounter
    stagger_s: float = 0.0
    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    polls: int = 0
    overruns: int = 0
    state: DeviceState | None = None
    failures: int = 0
    _topics: dict[TopicKind, Topic] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Build the device's topics once."""
        for kind in (TopicKind.DATA, TopicKind.STATE):
            self._topics[kind] = Topic(kind, self.site, self.gateway, self.device.id, self.prefix)

    async def run(self) -> None:
        """Poll until cancelled; a poll that overruns its slot skips the missed slots."""
        interval = self.device.interval_s
        start = self.monotonic() + self.stagger_s
        slot = 0
        while True:
            delay = start + slot * interval - self.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.poll_once()
            slot += 1
            behind = int((self.monotonic() - (start + slot * interval)) // interval) + 1
            if behind > 0:
                self.overruns += behind
                slot += behind

    async def poll_once(self) -> None:
        """Read every request of the plan and publish what was read."""
        ts = int(self.wall() * 1000)
        values: dict[str, Value] = {}
        quality: dict[str, str] = {}
        error: BusError | None = None
        for request in self.plan.requests:
            try:
                block = await self.endpoint.read(
                    self.device.unit, request.table, request.address, request.count
                )
            except BusError as exc:
                error = exc
                quality.update((p.name, "bad") for p in request.points)
                continue
            good, bad = decode_block(request, block)
            values.update(good)
            quality.update(bad)
        self.polls += 1
        if values:
            self.failures = 0
            self._set_state("online", None, ts)
            envelope = DataEnvelope.model_validate(
                {
                    "ts": ts,
                    "seq": self.seq.next(),
                    "measurement": self.plan.profile.measurement,
                    "values": values,
                    "quality": quality,
                }
            )
            self.uplink.send(self._topics[TopicKind.DATA], envelope)
        else:
            self.failures += 1
            state: DeviceState = "offline" if self.failures >= OFFLINE_AFTER else "degraded"
            self._set_state(state, f"{error.kind}: {error}" if error else "no values", ts)

    def _set_state(self, state: DeviceState, error: str | None, ts: int) -> None:
        if state == self.state:
            return
        if state == "online":
            if self.state is not None:
                log.info("device %s is back online", self.device.id)
        else:
            log.warning("device %s is %s: %s", self.device.id, state, error)
        self.state = state
        envelope = StateEnvelope(state=state, since=ts, error=error)
        self.uplink.send(self._topics[TopicKind.STATE], envelope)
