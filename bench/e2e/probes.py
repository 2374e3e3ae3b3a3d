"""What the end-to-end benchmark watches from outside the pipeline: InfluxDB for the newest
readings, MQTT for the CRACs' readings and the API's alerts; and what it does to the CRACs."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from typing import Any

import httpx
import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException

from bench.harness.influxdb import InfluxDBServer
from bench.harness.mosquitto import MosquittoServer
from bench.pipeline import (
    DATABASE,
    SITE,
)

GATEWAY = "gw-e2e"
CRAC_UNIT = 240
SETPOINT_REGISTER = 100  # crac temp_setpoint, int16 x 0.1 degC
RULE = "setpoint-high"
LEVEL, CLEAR = 27.0, 25.0  # the rule's level and its clear level, degC
HIGH, LOW = 290, 220  # registers: 29.0 and 22.0 degC
WATCH_EVERY_S = 0.1


class Watcher:
    """Polls InfluxDB every 100 ms for the newest reading of a few devices: each new one gives
    a latency sample, from its ``ts`` to the moment the answer that showed it came back."""

    def __init__(self, influx: InfluxDBServer, measurement: str) -> None:
        """Prepare; :meth:`watch` says which devices, :meth:`start` starts polling."""
        self.url, self.measurement = influx.url, measurement
        self.devices: list[str] = []
        self.newest: dict[str, int] = {}
        self.samples: list[tuple[int, float]] = []
        """(reading ts, ms from it to queryable)."""
        self.queries = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def watch(self, devices: list[str]) -> None:
        """Sample these devices from now on."""
        self.devices = devices

    def start(self) -> None:
        """Start polling."""
        self._thread.start()

    def close(self) -> None:
        """Stop polling."""
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=5) as client:
            while not self._stop.wait(WATCH_EVERY_S):
                if not self.devices:
                    continue
                chosen = " OR ".join(f"device = '{d}'" for d in self.devices)
                query = (
                    f'SELECT last(facmon_seq) FROM "{self.measurement}" WHERE gateway = '
                    f"'{GATEWAY}' AND time > now() - 60s AND ({chosen}) GROUP BY device"
                )
                try:
                    answer = client.post(
                        "/query", params={"db": DATABASE, "q": query, "epoch": "ms"}
                    ).json()
                except (httpx.HTTPError, ValueError):
                    continue
                seen = time.time() * 1000
                self.queries += 1
                for series in answer["results"][0].get("series", []):
                    device, ts = series["tags"]["device"], int(series["values"][0][0])
                    if ts > self.newest.get(device, ts):
                        self.samples.append((ts, seen - ts))
                    self.newest[device] = max(ts, self.newest.get(device, 0))


class AlertClock:
    """Follows the CRACs' readings and the API's alert messages over MQTT: from the ``ts`` of
    the first reading with a new setpoint to the alert message for it, as received here.
    Also keeps the newest data envelope of one power system (the ceilings' payload)."""

    def __init__(self, broker: MosquittoServer, cracs: list[str], sample_device: str) -> None:
        """Connect and subscribe (in paho's own thread)."""
        self.setpoint: dict[str, float] = {}
        self.pending: dict[str, deque[tuple[str, int]]] = defaultdict(deque)
        """Per CRAC, the transitions seen in its readings and not yet told, oldest first."""
        self.samples: list[tuple[int, float, str]] = []
        """(reading ts, ms from it to the alert message, firing or resolved)."""
        self.unmatched = 0
        """Alert messages with no transition before them."""
        self.untold = 0
        self.strays: list[str] = []
        """Transitions passed over by a later alert message (a lost alert)."""
        self.payload = b""
        self._data = f"facmon/v1/{SITE}/{GATEWAY}/{sample_device}/data"
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", broker.port)
        topics = [f"facmon/v1/{SITE}/{GATEWAY}/{c}/data" for c in cracs]
        for topic in (*topics, f"facmon/v1/alerts/{SITE}", self._data):
            self._client.subscribe(topic, qos=0)
        self._client.loop_start()

    def close(self) -> None:
        """Disconnect."""
        self._client.loop_stop()
        self._client.disconnect()

    def _on_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        arrived = time.time() * 1000
        body = orjson.loads(message.payload)
        if message.topic == self._data:
            self.payload = message.payload
        elif message.topic.endswith("/data"):
            device = message.topic.split("/")[-2]
            value = body["values"].get("temp_setpoint")
            if value is None:
                return
            before = self.setpoint.get(device)
            self.setpoint[device] = value
            if before is not None and before <= LEVEL < value:
                self.pending[device].append(("firing", int(body["ts"])))
            elif before is not None and before >= CLEAR > value:
                self.pending[device].append(("resolved", int(body["ts"])))
        elif body.get("rule") == RULE:
            # The next transition may be read before the alert for this one arrives: match
            # the oldest transition of the same kind, skipping (and counting) any before it.
            waiting = self.pending[body.get("device", "")]
            if all(state != body["state"] for state, _ in waiting):
                self.unmatched += 1
                self.strays.append(f"{body.get('device')} {body['state']} at {arrived:.0f}")
                return
            while True:
                state, ts = waiting.popleft()
                if state == body["state"]:
                    break
                self.untold += 1
            self.samples.append((ts, arrived - ts, state))


class Toggler:
    """Writes the CRACs' setpoint above the rule's level, then below it, every 2-3 s (out of
    step with the 1 s polls), while a window is measured."""

    def __init__(self, ports: list[int]) -> None:
        """Connect to each simulated endpoint holding a CRAC."""
        self.clients = [ModbusTcpClient("127.0.0.1", port=port) for port in ports]
        for client in self.clients:
            client.connect()
        self.high = True
        self.writes = 0
        self.errors = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start writing."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop writing."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def close(self) -> None:
        """Close the connections."""
        self.stop()
        for client in self.clients:
            client.close()

    def _run(self) -> None:
        n = 0
        while not self._stop.wait(2.0 + (n % 3) * 0.37):
            value = HIGH if self.high else LOW
            for client in self.clients:
                try:
                    client.write_register(SETPOINT_REGISTER, value, device_id=CRAC_UNIT)
                except ModbusException:
                    self.errors += 1
            self.high = not self.high
            self.writes += 1
            n += 1
