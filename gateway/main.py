"""Run the gateway: compile the plans once, then poll and publish until cancelled."""

from __future__ import annotations

import asyncio
import logging
import time

from prometheus_client import start_http_server

from devices.fieldbus import Bus, Plan
from devices.library import ProfileError, resolve_profile
from devices.profile import Profile
from devices.protocols import PROTOCOLS, bus_of
from facmon.config import ConfigError
from facmon.contract import DataEnvelope, Topic, TopicKind
from gateway.commands import CommandHandler
from gateway.config import DeviceConfig, GatewayConfig
from gateway.ingest import MqttIngest
from gateway.metrics import GatewayMetrics
from gateway.poller import DevicePoller
from gateway.spool import Spool
from gateway.uplink import Uplink

log = logging.getLogger(__name__)

HEALTH_MEASUREMENT = "gateway_health"


def compile_plans(config: GatewayConfig) -> list[tuple[DeviceConfig, Plan]]:
    """Resolve every device's profile and compile its read plan, by its bus's protocol.

    Raises:
        ConfigError: a device names a missing or invalid profile, or one of another
            protocol than its bus speaks.
    """
    plans = []
    profiles: dict[str, Profile] = {}
    cache: dict[tuple[str, str, object], Plan] = {}
    protocols = {bus.id: bus_of(bus)[0] for bus in config.buses}
    for index, device in enumerate(config.all_devices()):
        where = (
            f"devices[{index}]"
            if index < len(config.devices)
            else f"templates (device {device.id})"
        )
        if device.profile not in profiles:
            try:
                profiles[device.profile] = resolve_profile(
                    device.profile, tuple(config.profile_dirs)
                )
            except ProfileError as exc:
                raise ConfigError(f"{where}.profile: {exc}") from None
        profile = profiles[device.profile]
        protocol = protocols[device.bus]
        if profile.protocol != protocol.name:
            raise ConfigError(
                f"{where}.profile: {profile.name} is {_kind(profile.protocol)} profile, "
                f"not {_kind(protocol.name)} one"
            )
        key = (device.profile, protocol.name, protocol.plan_key(device))
        if key not in cache:
            cache[key] = protocol.compile_plan(profile, device)
        plans.append((device, cache[key]))
    return plans


def _kind(protocol: str) -> str:
    """A profile's protocol as a message names it, with its article (a Modbus, an MQTT)."""
    field = PROTOCOLS.get(protocol)
    return f"a {field.title}" if field is not None else f"an {protocol.upper()}"


def ingest_profiles(config: GatewayConfig) -> list[dict[str, Profile]]:
    """Resolve the profiles of every MQTT source's devices (one mapping per source).

    Raises:
        ConfigError: a device names a missing, invalid or non-MQTT profile.
    """
    sources = []
    for index, source in enumerate(config.mqtt_sources):
        profiles: dict[str, Profile] = {}
        for number, device in enumerate(source.devices):
            where = f"mqtt_sources[{index}].devices[{number}].profile"
            try:
                profile = resolve_profile(device.profile, tuple(config.profile_dirs))
            except ProfileError as exc:
                raise ConfigError(f"{where}: {exc}") from None
            if profile.protocol != "mqtt":
                raise ConfigError(
                    f"{where}: {profile.name} is {_kind(profile.protocol)} profile, not an MQTT one"
                )
            profiles[device.id] = profile
        sources.append(profiles)
    return sources


class Gateway:
    """One gateway: its uplink and spool, one bus owner per connection, a poller per device."""

    def __init__(
        self,
        config: GatewayConfig,
        plans: list[tuple[DeviceConfig, Plan]],
        ingest: list[dict[str, Profile]] | None = None,
    ) -> None:
        """Wire the parts together; nothing connects until :meth:`run`.

        Raises:
            gateway.spool.SpoolError: the spool file cannot be opened.
        """
        self.config = config
        self.metrics = GatewayMetrics()
        self.spool = Spool(config.spool.path, int(config.spool.max_mb * 1024 * 1024))
        self.uplink = Uplink(
            config.uplink,
            config.site,
            config.gateway,
            config.prefix,
            self.spool,
            buffer_limit=config.spool.memory_messages,
        )
        self.buses: dict[str, list[Bus]] = {}
        for bus in config.buses:
            kind = bus_of(bus)[1]
            self.buses[bus.id] = [kind.open(bus) for _ in range(bus.connections_wanted)]
        count = max(len(plans), 1)
        self.pollers = []
        for index, (device, plan) in enumerate(plans):
            owners = self.buses[device.bus]
            topics = (
                Topic(TopicKind.DATA, config.site, config.gateway, device.id, config.prefix),
                Topic(TopicKind.STATE, config.site, config.gateway, device.id, config.prefix),
            )
            self.pollers.append(
                DevicePoller(
                    device,
                    plan,
                    owners[index % len(owners)],
                    self.uplink,
                    topics,
                    self.metrics,
                    offline_after=config.offline_after,
                    retry_max_s=config.retry_max_s,
                    stagger_s=device.interval_s * index / count,
                )
            )
        self.commands = CommandHandler({p.device.id: p for p in self.pollers}, self.uplink)
        self.uplink.on_command = self.commands.handle
        self.ingest = [
            MqttIngest(
                source.broker,
                profiles,
                self.uplink,
                config.site,
                config.gateway,
                config.prefix,
                {d.id: d.location for d in source.devices},
            )
            for source, profiles in zip(config.mqtt_sources, ingest or [], strict=False)
        ]
        self._last_polls = (0, 0.0)
        self._health_topic = Topic(
            TopicKind.DATA, config.site, config.gateway, config.gateway, config.prefix
        )

    async def run(self) -> None:
        """Run the uplink, every poller and the health reports until cancelled."""
        log.info(
            "gateway %s/%s: %d device(s) on %d bus(es); spool %s holds %d message(s), seq %d",
            self.config.site,
            self.config.gateway,
            len(self.pollers),
            len(self.buses),
            self.config.spool.path or "(memory)",
            self.spool.depth,
            self.spool.seq,
        )
        own = f"{self.config.site}/{self.config.gateway}"
        user = self.config.uplink.username
        if user is not None and user != own:
            log.warning(
                "broker user %r is not %r: on the shipped broker ACL a gateway may publish "
                "only under its own site/gateway, so its messages would be dropped",
                user,
                own,
            )
        if self.config.metrics_port is not None:
            start_http_server(self.config.metrics_port, registry=self.metrics.registry)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.uplink.run())
                group.create_task(self._report_health())
                for source in self.ingest:
                    group.create_task(source.run())
                for poller in self.pollers:
                    group.create_task(poller.run())
        finally:
            for owners in self.buses.values():
                for bus in owners:
                    bus.close()
            self.spool.close()

    def health(self) -> dict[str, int | float]:
        """Return the gateway's own readings (also exported as metrics).

        ``poll_ms`` is the mean time of the polls since the previous call.
        """
        polls = sum(p.polls for p in self.pollers)
        poll_s = sum(p.poll_s for p in self.pollers)
        then_polls, then_s = self._last_polls
        self._last_polls = (polls, poll_s)
        states = {"online": 0, "degraded": 0, "offline": 0}
        for poller in self.pollers:
            if poller.state is not None:
                states[poller.state] += 1
        metrics = self.metrics
        metrics.spool_depth.set(self.uplink.depth)
        metrics.dropped.set(self.uplink.dropped)
        metrics.reconnects.set(self.uplink.reconnects)
        for state, count in states.items():
            metrics.devices.labels(state).set(count)
        return {
            "devices_online": states["online"],
            "devices_degraded": states["degraded"],
            "devices_offline": states["offline"],
            "spool_depth": self.uplink.depth,
            "dropped": self.uplink.dropped,
            "published": self.uplink.published,
            "uplink_reconnects": self.uplink.reconnects,
            "polls": polls,
            "overruns": sum(p.overruns for p in self.pollers),
            "errors": sum(p.errors for p in self.pollers),
            "requests": sum(b.requests for owners in self.buses.values() for b in owners),
            "poll_ms": round((poll_s - then_s) * 1000 / max(polls - then_polls, 1), 3),
        }

    async def _report_health(self) -> None:
        while True:
            await asyncio.sleep(self.config.health_interval_s)
            envelope = DataEnvelope.model_validate(
                {
                    "ts": int(time.time() * 1000),
                    "seq": 0,
                    "measurement": HEALTH_MEASUREMENT,
                    "values": self.health(),
                }
            )
            self.uplink.send(self._health_topic, envelope)
