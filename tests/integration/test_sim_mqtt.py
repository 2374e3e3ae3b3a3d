"""Simulated MQTT devices publish to a real Mosquitto in their own formats; scenarios reach them."""

from __future__ import annotations

import contextlib
import json
import queue
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from bench.harness.mosquitto import MosquittoServer
from tests.integration.simthread import SimThread

pytestmark = pytest.mark.integration


def test_mqtt_devices_publish_and_play_the_scenario(mosquitto: MosquittoServer) -> None:
    received: queue.Queue[tuple[str, dict[str, object]]] = queue.Queue()
    subscriber = mqtt.Client(CallbackAPIVersion.VERSION2)
    subscriber.on_message = lambda _c, _u, m: received.put((m.topic, json.loads(m.payload)))
    subscriber.connect("127.0.0.1", mosquitto.port)
    subscriber.subscribe([("fleet/#", 1), ("access/#", 1), ("sensors/#", 1)])
    subscriber.loop_start()
    config = {
        "broker": {"url": mosquitto.url},
        "mqtt_devices": [
            {"id": "car-1", "profile": "vehicle-tracker", "interval_s": 1},
            {"id": "door-1", "profile": "door-controller", "interval_s": 1},
            {"id": "pir-1", "profile": "motion-sensor", "interval_s": 1},
        ],
        "scenario": [
            {"at": 1, "device": "door-1", "event": "door_forced"},
            {"at": 1, "device": "car-1", "set": {"speed_kmh": 95.5}, "for": 2},
        ],
    }
    messages: list[tuple[str, dict[str, object]]] = []
    try:
        with SimThread(config):
            deadline = time.monotonic() + 6
            while time.monotonic() < deadline:
                with contextlib.suppress(queue.Empty):
                    messages.append(received.get(timeout=0.2))
    finally:
        subscriber.loop_stop()
        subscriber.disconnect()
    topics = {topic for topic, _ in messages}
    assert {"fleet/car-1/telemetry", "access/door-1/event", "sensors/pir-1/state"} <= topics
    car = [m for t, m in messages if t == "fleet/car-1/telemetry" and "gps" in m]
    assert any(m["gps"]["speed_kmh"] == 95.5 for m in car)  # type: ignore[index]
    assert car[-1]["gps"]["speed_kmh"] != 95.5  # type: ignore[index]
    door = [m for t, m in messages if t == "access/door-1/event"]
    assert any(m.get("event") == "forced" for m in door)
    pir = [m for t, m in messages if t == "sensors/pir-1/state"]
    assert all({"motion", "tamper", "battery_pct"} <= set(m) for m in pir)
