"""Live state: the newest readings, device states and gateway statuses, kept in memory.

:class:`LiveState` is the pure core (it applies messages); :class:`LiveFeed` is the MQTT
adapter that subscribes to the contract topics and feeds it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import aiomqtt

from devices.profile import Texts
from facmon.backoff import Backoff
from facmon.contract import (
    ContractError,
    DataEnvelope,
    Envelope,
    EventEnvelope,
    StateEnvelope,
    StatusEnvelope,
    Topic,
    TopicKind,
    parse_envelope,
    subscription,
)
from facmon.mqtt import BrokerConfig, async_client
from facmon.types import Value

log = logging.getLogger(__name__)


@dataclass
class LiveDevice:
    """What is known right now about one device."""

    device: str
    site: str
    gateway: str
    measurement: str | None = None
    ts: int | None = None
    seq: int | None = None
    values: dict[str, bool | int | float | str] = field(default_factory=dict)
    quality: dict[str, str] = field(default_factory=dict)
    state: str | None = None
    state_since: int | None = None
    error: str | None = None
    profile: str | None = None
    report_every_s: float | None = None
    faults: tuple[Texts, ...] = ()
    """The names of the warning and critical faults its newest values show, by its profile."""


@dataclass
class LiveState:
    """Applies contract messages; keeps the newest of everything."""

    devices: dict[str, LiveDevice] = field(default_factory=dict)
    gateways: dict[tuple[str, str], StatusEnvelope] = field(default_factory=dict)
    rejected: int = 0
    version: int = 0
    """Counts the changes that can change a status (not every new value does)."""
    judge: Callable[[str | None, Mapping[str, Value]], tuple[Texts, ...]] = lambda _p, _v: ()
    """The names of the faults that values show, given the device's profile name (none by
    default)."""

    def apply(self, topic: Topic, payload: bytes) -> Envelope | None:
        """Apply one message; return its envelope (None for kinds it does not follow).

        Raises:
            ContractError: the payload is not a valid envelope for the topic.
        """
        if topic.kind is TopicKind.STATUS:
            status = parse_envelope(StatusEnvelope, payload)
            key = (str(topic.site), str(topic.gateway))
            before = self.gateways.get(key)
            if before is None or before.state != status.state:
                self.version += 1
            self.gateways[key] = status
            return status
        if topic.kind is TopicKind.EVENT:
            return parse_envelope(EventEnvelope, payload)
        if topic.kind is TopicKind.DATA:
            data = parse_envelope(DataEnvelope, payload)
            device = self._device(topic)
            if device.ts is None or data.ts >= device.ts:
                if device.ts is None or _bad(device.quality) != _bad(data.quality):
                    self.version += 1
                device.ts, device.seq, device.measurement = data.ts, data.seq, data.measurement
                device.values.update(data.values)
                device.quality = dict(data.quality)
                faults = self.judge(device.profile, device.values)
                if faults != device.faults:
                    device.faults = faults
                    self.version += 1
            return data
        if topic.kind is TopicKind.STATE:
            state = parse_envelope(StateEnvelope, payload)
            device = self._device(topic)
            if (device.state, device.error) != (state.state, state.error):
                self.version += 1
            device.state, device.state_since, device.error = state.state, state.since, state.error
            device.profile, device.report_every_s = state.profile, state.report_every_s
            return state
        return None

    def _device(self, topic: Topic) -> LiveDevice:
        name = str(topic.device)
        device = self.devices.get(name)
        if device is None:
            device = self.devices[name] = LiveDevice(name, str(topic.site), str(topic.gateway))
        else:
            device.site, device.gateway = str(topic.site), str(topic.gateway)
        return device


def live_counts(live: LiveState) -> Counter[str]:
    """How many devices are in each state (online, degraded, offline, ...).

    Counted are the devices a gateway reports a state for; a gateway's own health readings
    (data whose device id is the gateway's id) and devices that sent data but no state yet are
    not devices of the site. ``/healthz`` and the demo's console count the same way.
    """
    return Counter(
        d.state for d in live.devices.values() if d.state is not None and d.device != d.gateway
    )


def _bad(quality: Mapping[str, str]) -> set[str]:
    return {point for point, flag in quality.items() if flag == "bad"}


OUTGOING = 10_000
"""Messages kept for publishing while the broker is away."""


class LiveFeed:
    """Subscribes to data, state and status topics and applies them to a :class:`LiveState`."""

    def __init__(self, broker: BrokerConfig, prefix: str, state: LiveState) -> None:
        """Prepare; :meth:`run` connects."""
        self.broker = broker
        self.prefix = prefix
        self.state = state
        self.connected = False
        self.listeners: list[Callable[[Topic, Envelope], None]] = []
        """Called with every message applied (the alert engine listens)."""
        self.outgoing: asyncio.Queue[tuple[str, bytes, bool]] = asyncio.Queue(maxsize=OUTGOING)
        """Messages to publish (QoS 1) on the same connection (the alerts' lifecycle)."""
        self.dropped = 0

    async def run(self) -> None:
        """Follow the broker until cancelled, reconnecting with backoff."""
        backoff = Backoff()
        reported = False
        filters = [
            subscription(k, self.prefix)
            for k in (TopicKind.DATA, TopicKind.EVENT, TopicKind.STATE, TopicKind.STATUS)
        ]
        while True:
            try:
                async with async_client(
                    self.broker, identifier=f"facmon-api-{int(time.time() * 1000) % 1_000_000_000}"
                ) as client:
                    for topic_filter in filters:
                        await client.subscribe(topic_filter, qos=1)
                    self.connected, reported = True, False
                    backoff.reset()
                    log.info("live state following %s", self.broker.url)
                    sender = asyncio.create_task(self._send(client))
                    try:
                        async for message in client.messages:
                            self._apply(str(message.topic), message.payload)
                    finally:
                        sender.cancel()
                        await asyncio.gather(sender, return_exceptions=True)
            except aiomqtt.MqttError as exc:
                self.connected = False
                if not reported:
                    log.warning("live feed lost %s: %s; retrying", self.broker.url, exc)
                    reported = True
                await asyncio.sleep(backoff.next())

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """Publish ``payload`` on ``topic`` (QoS 1, ``retain``-ed) once the feed is connected.

        While the broker is away the messages wait; beyond ``OUTGOING`` the oldest is dropped.
        """
        if self.outgoing.full():
            self.outgoing.get_nowait()
            self.dropped += 1
            log.warning(
                "outgoing message dropped: the broker has been away long (%d)", self.dropped
            )
        self.outgoing.put_nowait((topic, payload, retain))

    async def _send(self, client: aiomqtt.Client) -> None:
        while True:
            topic, payload, retain = await self.outgoing.get()
            try:
                await client.publish(topic, payload, qos=1, retain=retain)
            except aiomqtt.MqttError:
                self.outgoing.put_nowait((topic, payload, retain))  # sent again after reconnecting
                raise

    def _apply(self, topic: str, payload: object) -> None:
        if not isinstance(payload, bytes | bytearray):
            return
        try:
            parsed = Topic.parse(topic, self.prefix)
            envelope = self.state.apply(parsed, bytes(payload))
        except ContractError as exc:
            self.state.rejected += 1
            log.debug("ignored %s: %s", topic[:200], exc.reason)
            return
        if envelope is not None:
            for listener in self.listeners:
                listener(parsed, envelope)
