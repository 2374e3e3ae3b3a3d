"""Ingest local MQTT-native devices (vehicle trackers, door controllers) through their profiles."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

import aiomqtt
from paho.mqtt.client import topic_matches_sub

from devices.mapping import MappingError, map_message
from devices.profile import Profile
from facmon.backoff import Backoff
from facmon.contract import DataEnvelope, EventEnvelope, StateEnvelope, Topic, TopicKind
from facmon.mqtt import BrokerConfig, async_client
from gateway.config import Location
from gateway.uplink import Uplink

log = logging.getLogger(__name__)


class MqttIngest:
    """Follows one local broker; each message of a known device becomes data and events."""

    def __init__(
        self,
        broker: BrokerConfig,
        devices: dict[str, Profile],
        uplink: Uplink,
        site: str,
        gateway: str,
        prefix: str,
        places: Mapping[str, Location] | None = None,
    ) -> None:
        """Prepare the subscriptions: one per device, from its profile's topic.

        ``places``: where each device is (building, floor, room), told in its state.
        """
        self.broker = broker
        self.uplink = uplink
        self.received = 0
        self.rejected = 0
        self._routes: list[tuple[str, str, Profile]] = []
        self._topics: dict[str, tuple[Topic, Topic, Topic]] = {}
        self._seen: set[str] = set()
        self._places = dict(places or {})
        for device, profile in devices.items():
            if profile.mqtt is None:
                raise ValueError(f"profile {profile.name} of {device} is not an MQTT profile")
            self._routes.append((profile.mqtt.topic.replace("{device}", device), device, profile))
            self._topics[device] = tuple(  # type: ignore[assignment]
                Topic(kind, site, gateway, device, prefix)
                for kind in (TopicKind.DATA, TopicKind.EVENT, TopicKind.STATE)
            )

    def route(self, topic: str) -> tuple[str, Profile] | None:
        """Return the device and profile a message on ``topic`` belongs to."""
        for pattern, device, profile in self._routes:
            if topic_matches_sub(pattern, topic):
                return device, profile
        return None

    def apply(self, topic: str, payload: bytes, now: float) -> None:
        """Turn one message into envelopes on the uplink; a bad message is logged and counted."""
        routed = self.route(topic)
        if routed is None:
            return
        device, profile = routed
        try:
            mapped = map_message(profile, payload)
        except MappingError as exc:
            self.rejected += 1
            log.warning("message of %s on %s refused: %s", device, topic[:200], exc)
            return
        self.received += 1
        ts = int(now * 1000)
        data_topic, event_topic, state_topic = self._topics[device]
        if device not in self._seen:
            self._seen.add(device)
            where = self._places.get(device) or Location()
            state = StateEnvelope(
                state="online",
                since=ts,
                profile=profile.name,
                building=where.building,
                floor=where.floor,
                room=where.room,
            )
            self.uplink.send(state_topic, state)
        if mapped.values or mapped.quality:
            self.uplink.send(
                data_topic,
                DataEnvelope.model_validate(
                    {
                        "ts": ts,
                        "seq": 0,
                        "measurement": profile.measurement,
                        "values": mapped.values,
                        "quality": mapped.quality,
                    }
                ),
            )
        for event_type, attrs in mapped.events:
            self.uplink.send(
                event_topic,
                EventEnvelope.model_validate(
                    {"ts": ts, "seq": 0, "type": event_type, "attrs": attrs}
                ),
            )

    async def run(self) -> None:
        """Subscribe and ingest until cancelled, reconnecting with backoff."""
        backoff = Backoff()
        while True:
            try:
                async with async_client(self.broker) as client:
                    for pattern, _, _ in self._routes:
                        await client.subscribe(pattern, qos=1)
                    backoff.reset()
                    log.info(
                        "ingesting %d MQTT device(s) from %s", len(self._routes), self.broker.url
                    )
                    async for message in client.messages:
                        if isinstance(message.payload, bytes | bytearray):
                            self.apply(str(message.topic), bytes(message.payload), time.time())
            except aiomqtt.MqttError as exc:
                log.warning("local broker %s lost: %s; retrying", self.broker.url, exc)
                await asyncio.sleep(backoff.next())
