"""The paho-mqtt adapter: a persistent QoS 1 session whose messages are acked by hand.

paho's network loop runs in its own thread; messages cross into asyncio through
``loop.call_soon_threadsafe``. A message is acknowledged only by :meth:`BrokerSession.ack`,
which the collector calls once the batch holding it is durable. Message ids belong to one
connection: after a reconnect the broker redelivers whatever was not acknowledged, so acks
for messages of an earlier connection are skipped.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from facmon.mqtt import BrokerConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Inbound:
    """A received message and what is needed to acknowledge it."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    connection: int


class BrokerSession:
    """One persistent MQTT session with manual acknowledgements."""

    def __init__(
        self,
        broker: BrokerConfig,
        client_id: str,
        topics: list[str],
        deliver: Callable[[Inbound], None],
        protocol: str = "5",
        session_expiry_s: int = 7 * 86_400,
        max_unacked: int = 20_000,
    ) -> None:
        """Prepare the client; ``deliver`` is called from paho's thread for each message."""
        self.broker = broker
        self.topics = topics
        self._deliver = deliver
        self._v5 = protocol == "5"
        self._session_expiry_s = session_expiry_s
        self._max_unacked = max_unacked
        self._lock = threading.Lock()
        self._connection = 0
        self.connected = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5 if self._v5 else mqtt.MQTTv311,
            clean_session=None if self._v5 else False,
            manual_ack=True,
        )
        if broker.username is not None:
            password = broker.password.get_secret_value() if broker.password else None
            self._client.username_pw_set(broker.username, password)
        if broker.tls:
            self._client.tls_set_context(ssl.create_default_context())
        self._client.max_inflight_messages_set(1000)
        self._client.max_queued_messages_set(0)
        self._client.reconnect_delay_set(1, 30)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    def start(self) -> None:
        """Connect in the background; paho reconnects by itself after any loss."""
        properties = None
        if self._v5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = self._session_expiry_s
            properties.ReceiveMaximum = self._max_unacked
        self._client.connect_async(
            self.broker.host,
            self.broker.port,
            keepalive=self.broker.keepalive_s,
            clean_start=False if self._v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=properties,
        )
        self._client.loop_start()

    def stop(self) -> None:
        """Disconnect (the session stays on the broker) and stop the network thread."""
        self._client.disconnect()
        self._client.loop_stop()

    def ack(self, message: Inbound) -> None:
        """Acknowledge ``message`` if it came on the current connection."""
        if message.qos == 0:
            return
        with self._lock:
            if message.connection == self._connection:
                self._client.ack(message.mid, message.qos)

    def publish(self, topic: str, payload: bytes) -> None:
        """Publish at QoS 1 (paho queues it while disconnected)."""
        self._client.publish(topic, payload, qos=1)

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.warning("broker %s refused the connection: %s", self.broker.url, reason)
            return
        with self._lock:
            self._connection += 1
        log.info("connected to %s (session present: %s)", self.broker.url, flags.session_present)
        client.subscribe([(topic, 1) for topic in self.topics])
        self.connected.set()

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self.connected.clear()
        if reason.is_failure:
            log.warning("lost broker %s: %s; reconnecting", self.broker.url, reason)

    def _on_message(
        self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage
    ) -> None:
        self._deliver(
            Inbound(
                message.topic, bytes(message.payload), message.mid, message.qos, self._connection
            )
        )
