"""Run the gateway: compile the plans once, then poll and publish until cancelled."""

from __future__ import annotations

import asyncio
import logging

from devices.library import ProfileError, resolve_profile
from facmon.config import ConfigError
from gateway.bus import ModbusTcpEndpoint
from gateway.config import DeviceConfig, GatewayConfig
from gateway.plan import ReadPlan, compile_plan
from gateway.poller import DevicePoller, SeqCounter
from gateway.uplink import Uplink

log = logging.getLogger(__name__)


def compile_plans(config: GatewayConfig) -> list[tuple[DeviceConfig, ReadPlan]]:
    """Resolve every device's profile and compile its read plan.

    Raises:
        ConfigError: a device names a missing or invalid profile (``devices[i].profile``).
    """
    plans = []
    cache: dict[str, ReadPlan] = {}
    for index, device in enumerate(config.devices):
        key = f"{device.profile}/{device.max_gap}"
        if key not in cache:
            try:
                profile = resolve_profile(device.profile, tuple(config.profile_dirs))
            except ProfileError as exc:
                raise ConfigError(f"devices[{index}].profile: {exc}") from None
            cache[key] = compile_plan(profile, device.max_gap)
        plans.append((device, cache[key]))
    return plans


class Gateway:
    """One gateway: its uplink, one endpoint owner per bus, and a poller per device."""

    def __init__(self, config: GatewayConfig, plans: list[tuple[DeviceConfig, ReadPlan]]) -> None:
        """Wire the parts together; nothing connects until :meth:`run`."""
        self.config = config
        self.uplink = Uplink(
            config.uplink, config.site, config.gateway, config.prefix, config.queue_limit
        )
        self.endpoints = {bus.id: ModbusTcpEndpoint(bus) for bus in config.buses}
        seq = SeqCounter()
        count = max(len(plans), 1)
        self.pollers = [
            DevicePoller(
                device,
                plan,
                self.endpoints[device.bus],
                self.uplink,
                config.site,
                config.gateway,
                config.prefix,
                seq,
                stagger_s=device.interval_s * index / count,
            )
            for index, (device, plan) in enumerate(plans)
        ]

    async def run(self) -> None:
        """Run the uplink and every poller until cancelled."""
        log.info(
            "gateway %s/%s: %d device(s) on %d bus(es)",
            self.config.site,
            self.config.gateway,
            len(self.pollers),
            len(self.endpoints),
        )
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.uplink.run())
                for poller in self.pollers:
                    group.create_task(poller.run())
        finally:
            for endpoint in self.endpoints.values():
                endpoint.close()
