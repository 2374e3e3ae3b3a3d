"""The gateway against the simulator and a real Mosquitto: isolation, outages, crashes, serial lines."""

from __future__ import annotations

import itertools
import re
import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from bench.harness.mosquitto import MosquittoServer
from facmon.net import free_port
from tests.integration.processes import FacmonProcess, wait_for
from tests.integration.simthread import SimThread

pytestmark = pytest.mark.integration


class Subscriber:
    """A persistent-session QoS 1 subscriber that records every data and state message."""

    def __init__(self, broker: MosquittoServer, site: str) -> None:
        self.data: list[tuple[str, dict[str, Any]]] = []
        self.states: dict[str, list[str]] = defaultdict(list)
        self._lock = threading.Lock()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"sub-{uuid.uuid4().hex[:8]}",
            clean_session=False,
        )
        self._client.on_connect = lambda c, *_: c.subscribe(
            [(f"facmon/v1/{site}/+/+/data", 1), (f"facmon/v1/{site}/+/+/state", 1)]
        )
        self._client.on_message = self._on_message
        subscribed = threading.Event()
        self._client.on_subscribe = lambda *_: subscribed.set()
        self._client.reconnect_delay_set(0.2, 1)
        self._client.connect("127.0.0.1", broker.port)
        self._client.loop_start()
        assert subscribed.wait(10), "the subscription was not acknowledged"

    def _on_message(
        self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage
    ) -> None:
        device, kind = message.topic.split("/")[-2:]
        body = orjson.loads(message.payload)
        with self._lock:
            if kind == "data":
                self.data.append((device, body))
            else:
                self.states[device].append(body["state"])

    def seqs(self) -> list[int]:
        with self._lock:
            return [body["seq"] for _, body in self.data]

    def readings(self, device: str) -> list[dict[str, Any]]:
        with self._lock:
            return [body for name, body in self.data if name == device]

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


@pytest.fixture
def subscriber(mosquitto: MosquittoServer) -> Iterator[Subscriber]:
    mosquitto.start()  # an earlier test may have stopped it
    sub = Subscriber(mosquitto, "gwtest")
    yield sub
    sub.close()


def gateway_config(
    mosquitto: MosquittoServer,
    spool: Path | None,
    buses: list[dict[str, Any]],
    devices: list[dict[str, Any]],
    **extra: Any,
) -> dict[str, Any]:
    return {
        "site": "gwtest",
        "gateway": "gw-1",
        "uplink": {"url": mosquitto.url, "client_id": f"gw-{uuid.uuid4().hex[:8]}"},
        "spool": {"path": str(spool) if spool else None},
        "buses": buses,
        "devices": devices,
        **extra,
    }


def last_seq(spool: Path) -> int:
    with sqlite3.connect(spool) as db:
        return int(db.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()[0])


def unaccounted(spool: Path, subscriber: Subscriber) -> set[int] | None:
    """Seqs neither delivered nor still waiting in the spool (None when there are none)."""
    with sqlite3.connect(spool) as db:
        final = int(db.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()[0])
        waiting = {
            orjson.loads(row[0]).get("seq") for row in db.execute("SELECT payload FROM outbox")
        }
    missing = set(range(1, final + 1)) - set(subscriber.seqs()) - waiting
    return missing or None


def two_sensors(port: int) -> dict[str, Any]:
    return {
        "endpoints": [
            {
                "port": port,
                "devices": [
                    {"id": "th-1", "profile": "th-sensor", "unit": 1},
                    {"id": "th-2", "profile": "th-sensor", "unit": 2},
                ],
            }
        ]
    }


def test_every_seq_arrives_across_a_30_second_broker_outage(
    tmp_path: Path, mosquitto: MosquittoServer, subscriber: Subscriber
) -> None:
    port, spool = free_port(), tmp_path / "spool.db"
    with SimThread(two_sensors(port)):
        gateway = FacmonProcess(
            tmp_path,
            "gateway",
            gateway_config(
                mosquitto,
                spool,
                [{"id": "b", "host": "127.0.0.1", "port": port}],
                [
                    {
                        "id": "th-1",
                        "profile": "th-sensor",
                        "bus": "b",
                        "unit": 1,
                        "interval_s": 0.5,
                    },
                    {
                        "id": "th-2",
                        "profile": "th-sensor",
                        "bus": "b",
                        "unit": 2,
                        "interval_s": 0.5,
                    },
                ],
            ),
        ).start()
        wait_for(lambda: len(subscriber.seqs()) >= 6 or None, 30, "first readings", [gateway])
        mosquitto.stop()
        outage_started = len(subscriber.seqs())
        time.sleep(30)
        spooled_in_outage = last_seq(spool)
        mosquitto.start()
        wait_for(
            lambda: len(subscriber.seqs()) > outage_started + 100 or None,
            60,
            "the spooled readings",
            [gateway],
        )
        assert gateway.stop() == 0
        final = last_seq(spool)
        assert wait_for(
            lambda: None if unaccounted(spool, subscriber) else True,
            30,
            "every seq delivered or spooled",
        )
    assert final > outage_started + 100  # 30 s at 4 readings/s were spooled
    assert set(range(1, spooled_in_outage + 1)) <= set(subscriber.seqs())  # and all delivered
    assert "spooling until it is back" in gateway.log(100_000)
    print(f"\n{final} messages, {spooled_in_outage - outage_started} spooled in the outage, 0 lost")


def test_nothing_is_lost_when_the_gateway_is_killed_while_the_broker_is_down(
    tmp_path: Path, mosquitto: MosquittoServer, subscriber: Subscriber
) -> None:
    port, spool = free_port(), tmp_path / "spool.db"
    config = gateway_config(
        mosquitto,
        spool,
        [{"id": "b", "host": "127.0.0.1", "port": port}],
        [{"id": "th-1", "profile": "th-sensor", "bus": "b", "unit": 1, "interval_s": 0.2}],
    )
    with SimThread(two_sensors(port)):
        gateway = FacmonProcess(tmp_path, "gateway", config).start()
        wait_for(lambda: len(subscriber.seqs()) >= 5 or None, 30, "first readings", [gateway])
        mosquitto.stop()
        time.sleep(3)
        assert gateway.stop(signal.SIGKILL) == -signal.SIGKILL
        spooled_at_kill = last_seq(spool)
        gateway.start()
        time.sleep(2)
        mosquitto.start()
        wait_for(
            lambda: max(subscriber.seqs(), default=0) > spooled_at_kill + 5 or None,
            60,
            "readings after the restart",
            [gateway],
        )
        assert gateway.stop() == 0
        assert wait_for(
            lambda: None if unaccounted(spool, subscriber) else True,
            30,
            "every seq delivered or spooled",
        )
    assert spooled_at_kill >= 15  # 3 s at 5 readings/s were in the spool when it was killed
    assert set(range(1, spooled_at_kill + 1)) <= set(subscriber.seqs())  # and all delivered
    print(f"\n{spooled_at_kill} messages in the spool at SIGKILL, all delivered after restart")


def test_hung_and_garbage_devices_do_not_delay_their_neighbours(
    tmp_path: Path, mosquitto: MosquittoServer, subscriber: Subscriber
) -> None:
    ports = [free_port() for _ in range(10)]
    sim = {
        "endpoints": [
            {
                "port": port,
                "devices": [
                    {"id": f"d{b}-{u}", "profile": "th-sensor", "unit": u} for u in range(1, 21)
                ],
            }
            for b, port in enumerate(ports)
        ],
        "scenario": [
            {"at": 0, "device": "d0-1", "behaviour": "hang"},
            {"at": 0, "device": "d0-2", "behaviour": "garbage"},
        ],
    }
    timeout, interval = 0.5, 1.0
    config = gateway_config(
        mosquitto,
        None,
        [
            {"id": f"bus-{b}", "host": "127.0.0.1", "port": port, "timeout_s": timeout}
            for b, port in enumerate(ports)
        ],
        [
            {
                "id": f"d{b}-{u}",
                "profile": "th-sensor",
                "bus": f"bus-{b}",
                "unit": u,
                "interval_s": interval,
            }
            for b in range(10)
            for u in range(1, 21)
        ],
    )
    with SimThread(sim):
        gateway = FacmonProcess(tmp_path, "gateway", config).start()
        wait_for(
            lambda: len(subscriber.readings("d9-20")) >= 2 or None,
            30,
            "all devices polling",
            [gateway],
        )
        steady_from = time.time()  # every device, the failing ones included, has been polled
        time.sleep(12)
        gateway.assert_running()
        assert gateway.stop() == 0
    worst = {"start-up": 0.0, "steady": 0.0}
    late = []
    for b in range(10):
        for u in range(1, 21):
            device = f"d{b}-{u}"
            if device in ("d0-1", "d0-2"):
                continue
            # At least once: a message sent again (a stopping gateway resends what was in
            # flight) is the same poll, not a late one.
            stamps = sorted({r["ts"] / 1000 for r in subscriber.readings(device)})
            assert len(stamps) >= 11, (device, len(stamps))
            for before, after in itertools.pairwise(stamps):
                phase = "steady" if before >= steady_from else "start-up"
                deviation = abs(after - before - interval)
                worst[phase] = max(worst[phase], deviation)
                if phase == "steady" and deviation > timeout + 0.1:
                    late.append((device, round(deviation, 3)))
    print(
        f"200 devices on 10 buses, a hung and a garbage device on bus 0: worst deviation of a healthy "
        f"poll from its interval {worst['steady'] * 1000:.0f} ms (steady), {worst['start-up'] * 1000:.0f} ms (start-up)"
    )
    assert late == [], f"{len(late)} late polls in steady state: {late[:5]}"
    assert subscriber.states["d0-1"][-1] == "offline"
    assert subscriber.states["d0-2"][-1] == "offline"
    assert subscriber.readings("d0-1") == []


def test_a_device_that_refuses_large_blocks_is_read_in_smaller_ones(
    tmp_path: Path, mosquitto: MosquittoServer, subscriber: Subscriber
) -> None:
    port = free_port()
    sim = {
        "endpoints": [
            {
                "port": port,
                "devices": [{"id": "ups-1", "profile": "ups", "unit": 1, "max_block": 8}],
            }
        ]
    }
    config = gateway_config(
        mosquitto,
        None,
        [{"id": "b", "host": "127.0.0.1", "port": port}],
        [{"id": "ups-1", "profile": "ups", "bus": "b", "unit": 1, "interval_s": 0.3}],
        metrics_port=(metrics := free_port()),
        health_interval_s=0.5,
    )
    with SimThread(sim):
        gateway = FacmonProcess(tmp_path, "gateway", config).start()
        readings = wait_for(
            lambda: subscriber.readings("ups-1")[1:] or None, 30, "UPS readings", [gateway]
        )
        health = wait_for(
            lambda: subscriber.readings("gw-1") or None, 30, "health readings", [gateway]
        )
        exported = httpx.get(f"http://127.0.0.1:{metrics}/metrics", timeout=5).text
        assert gateway.stop() == 0
    assert health[-1]["measurement"] == "gateway_health"
    assert health[-1]["values"]["devices_online"] == 1
    assert health[-1]["values"]["polls"] > 0
    assert 'facmon_gateway_errors_total{kind="exception"}' in exported  # the refused blocks
    assert "facmon_gateway_poll_seconds_bucket" in exported
    assert re.search(r"^facmon_gateway_polls_total [1-9]", exported, re.MULTILINE)
    assert readings[-1].get("quality", {}) == {}
    assert {
        "input_voltage",
        "battery_voltage",
        "runtime_remaining_min",
        "serial",
        "on_battery",
    } <= set(readings[-1]["values"])
    assert "reading in smaller blocks" in gateway.log(200)


def test_rtu_over_a_serial_line(
    tmp_path: Path, mosquitto: MosquittoServer, subscriber: Subscriber
) -> None:
    port, tty = free_port(), tmp_path / "ttyV0"
    sim = {
        "endpoints": [
            {
                "port": port,
                "framing": "rtu",
                "devices": [{"id": "th-9", "profile": "th-sensor", "unit": 9}],
            }
        ]
    }
    with SimThread(sim) as simulator:
        simulator.call(lambda: simulator.simulator.modbus["th-9"].set_point("temperature", -7.5))
        line = subprocess.Popen(["socat", f"pty,link={tty},raw,echo=0", f"tcp:127.0.0.1:{port}"])
        try:
            wait_for(lambda: tty.exists() or None, 10, "the pseudo-terminal")
            config = gateway_config(
                mosquitto,
                None,
                [
                    {
                        "id": "rs485",
                        "kind": "rtu",
                        "port": str(tty),
                        "baudrate": 19200,
                        "timeout_s": 1,
                    }
                ],
                [
                    {
                        "id": "th-9",
                        "profile": "th-sensor",
                        "bus": "rs485",
                        "unit": 9,
                        "interval_s": 0.5,
                    }
                ],
            )
            gateway = FacmonProcess(tmp_path, "gateway", config).start()
            reading = wait_for(
                lambda: (subscriber.readings("th-9") or [None])[-1],
                30,
                "readings over the serial line",
                [gateway],
            )
            assert gateway.stop() == 0
        finally:
            line.terminate()
            line.wait(5)
    assert reading["values"]["temperature"] == -7.5
    assert reading["measurement"] == "environment"


def command(
    mosquitto: MosquittoServer, device: str, body: dict[str, Any] | bytes
) -> dict[str, Any] | None:
    """Publish a command and return its result (None when no result comes)."""
    results: list[dict[str, Any]] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    subscribed = threading.Event()
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda _c, _u, m: results.append(orjson.loads(m.payload))
    client.connect("127.0.0.1", mosquitto.port)
    client.subscribe(f"facmon/v1/gwtest/gw-1/{device}/cmd/result", 1)
    client.loop_start()
    try:
        assert subscribed.wait(10)
        payload = body if isinstance(body, bytes) else orjson.dumps(body)
        client.publish(f"facmon/v1/gwtest/gw-1/{device}/cmd", payload, qos=1).wait_for_publish(10)
        deadline = time.monotonic() + (2 if isinstance(body, bytes) else 15)
        while not results and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        client.loop_stop()
        client.disconnect()
    return results[0] if results else None


def test_downlink_writes_only_writable_points_within_limits(
    tmp_path: Path, mosquitto: MosquittoServer, subscriber: Subscriber
) -> None:
    port = free_port()
    sim = {"endpoints": [{"port": port, "devices": [{"id": "ups-1", "profile": "ups", "unit": 1}]}]}
    config = gateway_config(
        mosquitto,
        None,
        [{"id": "b", "host": "127.0.0.1", "port": port}],
        [{"id": "ups-1", "profile": "ups", "bus": "b", "unit": 1, "interval_s": 0.5}],
    )
    with SimThread(sim) as simulator:
        gateway = FacmonProcess(tmp_path, "gateway", config).start()
        wait_for(lambda: subscriber.readings("ups-1") or None, 30, "UPS readings", [gateway])
        ok = command(
            mosquitto,
            "ups-1",
            {"id": "c-1", "ts": 1, "point": "low_battery_alarm_v", "value": 352.5},
        )
        assert ok is not None
        assert (ok["ok"], ok["id"]) == (True, "c-1"), ok
        assert (
            simulator.call(
                lambda: simulator.simulator.modbus["ups-1"].values["low_battery_alarm_v"]
            )
            == 352.5
        )
        wait_for(
            lambda: (
                any(
                    r["values"].get("low_battery_alarm_v") == 352.5
                    for r in subscriber.readings("ups-1")
                )
                or None
            ),
            10,
            "the written value read back",
        )
        refusals = {
            "c-2": ({"point": "input_voltage", "value": 1}, "not writable"),
            "c-3": ({"point": "low_battery_alarm_v", "value": 10_000}, "above the maximum"),
            "c-4": ({"point": "no_such_point", "value": 1}, "has no point"),
            "c-5": ({"point": "low_battery_alarm_v", "value": "high"}, "takes a finite number"),
        }
        for command_id, (fields, reason) in refusals.items():
            result = command(mosquitto, "ups-1", {"id": command_id, "ts": 1, **fields})
            assert result is not None
            assert result["ok"] is False
            assert reason in result["error"], result
        assert command(mosquitto, "ups-1", b"{not json") is None
        ghost = command(mosquitto, "ghost", {"id": "c-6", "ts": 1, "point": "x", "value": 1})
        assert ghost is not None
        assert "no device 'ghost'" in ghost["error"]
        gateway.assert_running()
        assert gateway.stop() == 0
    audit = gateway.log(100_000)
    assert "command c-1: ups-1.low_battery_alarm_v = 352.5 -> ok" in audit
    assert (
        "command c-3: ups-1.low_battery_alarm_v = 10000 -> low_battery_alarm_v: 10000 is above the maximum"
        in audit
    )


def test_local_mqtt_devices_are_ingested_through_their_profiles(
    tmp_path: Path, mosquitto: MosquittoServer, subscriber: Subscriber
) -> None:
    sim = {
        "broker": {"url": mosquitto.url},
        "mqtt_devices": [
            {"id": "car-1", "profile": "vehicle-tracker", "interval_s": 0.5},
            {"id": "door-1", "profile": "door-controller", "interval_s": 0.5},
        ],
        "scenario": [{"at": 2, "device": "door-1", "event": "door_forced"}],
    }
    config = gateway_config(
        mosquitto,
        None,
        [],
        [],
        mqtt_sources=[
            {
                "broker": {"url": mosquitto.url},
                "devices": [
                    {"id": "car-1", "profile": "vehicle-tracker"},
                    {"id": "door-1", "profile": "door-controller"},
                ],
            }
        ],
    )
    events: list[dict[str, Any]] = []
    listener = mqtt.Client(CallbackAPIVersion.VERSION2)
    listener.on_message = lambda _c, _u, m: events.append(orjson.loads(m.payload))
    listener.connect("127.0.0.1", mosquitto.port)
    listener.subscribe("facmon/v1/gwtest/gw-1/door-1/event", 1)
    listener.loop_start()
    try:
        gateway = FacmonProcess(tmp_path, "gateway", config).start()
        time.sleep(1.5)  # let the gateway subscribe before the devices speak
        with SimThread(sim):
            car = wait_for(
                lambda: subscriber.readings("car-1")[1:] or None, 30, "vehicle readings", [gateway]
            )
            wait_for(
                lambda: [e for e in events if e["type"] == "door_forced"] or None,
                30,
                "the forced door",
                [gateway],
            )
        assert gateway.stop() == 0
    finally:
        listener.loop_stop()
        listener.disconnect()
    assert car[-1]["measurement"] == "vehicle"
    assert {"lat", "lon", "speed_kmh", "ignition"} <= set(car[-1]["values"])
    forced = next(e for e in events if e["type"] == "door_forced")
    assert forced["seq"] > 0
    assert "card" in forced["attrs"]
    assert subscriber.states["car-1"] == ["online"]


def test_sigterm_under_full_load_exits_cleanly(
    tmp_path: Path, mosquitto: MosquittoServer, subscriber: Subscriber
) -> None:
    port, spool = free_port(), tmp_path / "spool.db"
    sim = {
        "endpoints": [
            {
                "port": port,
                "devices": [{"id": f"d{u}", "profile": "ups", "unit": u} for u in range(1, 21)],
            }
        ]
    }
    config = gateway_config(
        mosquitto,
        spool,
        [{"id": "b", "host": "127.0.0.1", "port": port}],
        [
            {"id": f"d{u}", "profile": "ups", "bus": "b", "unit": u, "interval_s": 0.01}
            for u in range(1, 21)
        ],
    )
    with SimThread(sim):
        gateway = FacmonProcess(tmp_path, "gateway", config)
        for _ in range(3):
            # 200 more than before this start: the new process is up and busy (counting
            # from zero, a restart could be signalled before it installed its handlers)
            enough = len(subscriber.seqs()) + 200
            gateway.start()
            wait_for(
                lambda enough=enough: len(subscriber.seqs()) > enough or None,
                30,
                "a busy bus",
                [gateway],
            )
            started = time.monotonic()
            assert gateway.stop(signal.SIGTERM, timeout=10) == 0
            assert time.monotonic() - started < 5
    assert wait_for(
        lambda: None if unaccounted(spool, subscriber) else True,
        30,
        "every seq delivered or spooled",
    )
