"""Poll one device on its schedule: execute the read plan on its bus, publish data and state."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Literal

from devices.fieldbus import NORMAL, SUSPECT, Bus, Plan
from facmon.backoff import Backoff
from facmon.contract import StateEnvelope, Topic
from facmon.types import Value
from gateway.config import DeviceConfig
from gateway.metrics import GatewayMetrics
from gateway.reporting import ChangeFilter
from gateway.uplink import Uplink

log = logging.getLogger(__name__)

DeviceState = Literal["online", "degraded", "offline"]


class DevicePoller:
    """Executes one device's read plan every ``interval_s`` on a monotonic, drift-free grid.

    A device that stops answering turns ``degraded`` at the first failed poll and
    ``offline`` after ``offline_after``; while offline it is retried with exponential
    backoff (from its interval up to ``retry_max_s``), so it costs the bus one timeout per
    retry, not one per interval. The bus may adapt the plan to the device (Modbus splits a
    block the device refuses); the adapted plan is kept for the next poll.
    ``monotonic`` schedules and ``wall`` stamps readings (both injectable).
    """

    def __init__(
        self,
        device: DeviceConfig,
        plan: Plan,
        bus: Bus,
        uplink: Uplink,
        topics: tuple[Topic, Topic],
        metrics: GatewayMetrics,
        offline_after: int = 3,
        retry_max_s: float = 60.0,
        stagger_s: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        """Prepare; :meth:`run` polls."""
        self.device = device
        self.plan = plan
        """The plan executed next (the compiled one, as the bus adapted it)."""
        self.bus = bus
        self.uplink = uplink
        self.data_topic, self.state_topic = topics
        self.metrics = metrics
        self.offline_after = offline_after
        self.stagger_s = stagger_s
        self.monotonic = monotonic
        self.wall = wall
        self.state: DeviceState | None = None
        self.failures = 0
        self.polls = 0
        self.overruns = 0
        self.errors = 0
        """Failed requests (refused, timed out, garbage, link broken)."""
        self.poll_s = 0.0
        """Time spent polling, all polls together."""
        self._retry = Backoff(device.interval_s, max(retry_max_s, device.interval_s))
        self._filter = (
            ChangeFilter(plan.profile, device.reporting.max_age_s)
            if device.reporting.mode == "on_change"
            else None
        )

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
            if self.state == "offline":
                await asyncio.sleep(self._retry.next())
                start, slot = self.monotonic(), 0
                continue
            self._retry.reset()
            slot += 1
            behind = int((self.monotonic() - (start + slot * interval)) // interval) + 1
            if behind > 0:
                self.overruns += behind
                self.metrics.overruns.inc(behind)
                slot += behind

    async def poll_once(self) -> None:
        """Read every request of the plan, publish what was read, update the device state."""
        started = self.monotonic()
        priority = NORMAL if self.failures == 0 else SUSPECT
        result = await self.bus.execute(self.device, self.plan, priority, self.wall)
        self.plan = result.plan
        for failure in result.failures:  # refused, timed out, garbage, link broken
            self.errors += 1
            self.metrics.errors.labels(failure.kind).inc()
        self.polls += 1
        self.metrics.polls.inc()
        took = self.monotonic() - started
        self.poll_s += took
        self.metrics.poll_seconds.observe(took)
        ts = result.ts if result.ts is not None else int(self.wall() * 1000)
        if result.values:
            self.failures = 0
            self._set_state("online", None, ts)
            self._publish(ts, result.values, result.quality)
        else:
            self.failures += 1
            state: DeviceState = "offline" if self.failures >= self.offline_after else "degraded"
            error = result.error
            self._set_state(state, f"{error.kind}: {error}" if error else "no values", ts)

    def _publish(self, ts: int, values: dict[str, Value], quality: dict[str, str]) -> None:
        if self._filter is not None:
            values, quality = self._filter.select(values, quality, ts / 1000)
            if not values and not quality:
                return
        self.metrics.points.inc(len(values))
        self.uplink.send_data(self.data_topic, ts, self.plan.profile.measurement, values, quality)

    def _set_state(self, state: DeviceState, error: str | None, ts: int) -> None:
        if state == self.state:
            return
        if state == "online":
            if self.state is not None:
                log.info("device %s is back online", self.device.id)
        else:
            log.warning("device %s is %s: %s", self.device.id, state, error)
        self.state = state
        every = self.device.interval_s if self._filter is None else self._filter.max_age_s
        where = self.device.location
        self.uplink.send(
            self.state_topic,
            StateEnvelope(
                state=state,
                since=ts,
                error=error,
                profile=self.plan.profile.name,
                report_every_s=max(every, self.device.interval_s),
                building=where.building,
                floor=where.floor,
                room=where.room,
            ),
        )
