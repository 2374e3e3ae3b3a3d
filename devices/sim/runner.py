"""Run a whole simulation: field-protocol endpoints, MQTT devices and the scenario timeline."""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Callable

import aiomqtt
import orjson

from devices.library import resolve_profile
from devices.profile import Profile
from devices.protocols import endpoint_simulator
from devices.sim.behaviour import Behaviour, EndpointSimulator
from devices.sim.model import SimConfig
from devices.sim.mqtt import MqttDeviceSim
from devices.sim.scenario import Change, Scenario, timeline
from facmon.backoff import Backoff
from facmon.mqtt import async_client

log = logging.getLogger(__name__)

MQTT_TICK_S = 0.5


def build_simulators(
    config: SimConfig, clock: Callable[[], float] = time.time
) -> list[EndpointSimulator]:
    """Build one simulator per endpoint, each by its protocol; ``clock`` drives the dynamics.

    Raises:
        devices.library.ProfileError: a device names a missing or invalid profile.
    """
    profiles: dict[str, Profile] = {}
    return [
        endpoint_simulator(endpoint.framing)(
            endpoint, config.seed, config.utc_offset_h, profiles, clock
        )
        for endpoint in config.endpoints
    ]


class Simulator:
    """Every simulated device of a configuration, and the scenario that changes them.

    Raises:
        devices.library.ProfileError: a device names a missing or invalid profile.
        KeyError: a point of ``sums`` cannot be summed on one of its devices.
    """

    def __init__(self, config: SimConfig, clock: Callable[[], float] = time.time) -> None:
        """Build the devices; nothing listens until :meth:`run`."""
        self.config = config
        self.clock = clock
        self.endpoints = build_simulators(config, clock)
        self.modbus = {
            device_id: device
            for endpoint in self.endpoints
            for device_id, device in endpoint.by_id.items()
        }
        """The field-protocol devices (served on an endpoint), by device id."""
        for total in config.sums:
            self.modbus[total.device].sum_of(
                [self.modbus[part] for part in total.parts], total.points
            )
        self.mqtt = {
            d.id: MqttDeviceSim(
                d,
                resolve_profile(d.profile),
                zlib.crc32(f"{config.seed}/{d.id}".encode()),
                config.utc_offset_h,
            )
            for d in config.mqtt_devices
        }
        self.published = 0
        self._pending: list[tuple[str, bytes]] = []

    async def run(self) -> None:
        """Serve, publish and play the scenario until cancelled."""
        async with asyncio.TaskGroup() as group:
            for endpoint in self.endpoints:
                group.create_task(endpoint.run())
            if self.mqtt:
                group.create_task(self._publish())
            if self.config.scenario:
                group.create_task(self._play(Scenario(steps=self.config.scenario)))

    async def _play(self, scenario: Scenario) -> None:
        start = time.monotonic()
        for change in timeline(scenario):
            delay = start + change.t - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self.apply(change)

    def apply(self, change: Change) -> None:
        """Make one scenario change take effect (or undo it)."""
        step = change.step
        verb = "undo" if change.undo else "apply"
        log.info(
            "scenario t=%gs: %s %s",
            change.t,
            verb,
            step.model_dump(exclude_defaults=True, by_alias=True),
        )
        if step.link is not None:
            self.endpoints[step.endpoint].set_link(up=change.undo)
            return
        device = str(step.device)
        if step.event is not None:
            if not change.undo and device in self.mqtt:
                self._queue(device, self.mqtt[device].event(step.event, self.clock()))
            return
        if step.behaviour is not None and device in self.modbus:
            memory = self.modbus[device]
            quirk = memory.behaviour.max_block
            memory.behaviour = (
                Behaviour(max_block=quirk)
                if change.undo
                else Behaviour(step.behaviour, step.delay_s, quirk)
            )
            return
        for name, value in (step.set or {}).items():
            if device in self.modbus:
                memory = self.modbus[device]
                if change.undo:
                    memory.unpin(name)
                else:
                    memory.set_point(name, value)
            elif device in self.mqtt:
                pinned = self.mqtt[device].pinned
                if change.undo:
                    pinned.pop(name, None)
                else:
                    pinned[name] = value

    def _queue(self, device: str, message: dict[str, object]) -> None:
        self._pending.append((self.mqtt[device].topic, orjson.dumps(message)))

    async def _publish(self) -> None:
        broker = self.config.broker
        assert broker is not None
        backoff = Backoff()
        last = self.clock()
        while True:
            try:
                async with async_client(broker) as client:
                    backoff.reset()
                    while True:
                        now = self.clock()
                        for device_id, device in self.mqtt.items():
                            for message in device.step(now, now - last):
                                self._queue(device_id, message)
                        last = now
                        while self._pending:
                            topic, payload = self._pending[0]
                            await client.publish(topic, payload, qos=1)
                            self._pending.pop(0)
                            self.published += 1
                        await asyncio.sleep(MQTT_TICK_S)
            except aiomqtt.MqttError as exc:
                log.warning("simulator lost broker %s: %s", broker.url, exc)
                await asyncio.sleep(backoff.next())
