"""The collector against real Mosquitto and InfluxDB: bad input to the dead letter, good input stored."""

from __future__ import annotations

import base64
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.integration.processes import FacmonProcess, wait_for
from tests.integration.services import InfluxDBServer, MosquittoServer, free_port

pytestmark = pytest.mark.integration


def good(seq: int) -> bytes:
    return orjson.dumps(
        {
            "ts": 1_700_000_000_000 + seq,
            "seq": seq,
            "measurement": "ups",
            "values": {"v": seq / 2, "n": seq},
        }
    )


BAD: list[tuple[str, bytes, str]] = [
    ("d-1", b"{not json", "invalid JSON"),
    ("d-1", b"\xff\xfe{}", "invalid JSON"),
    ("d-1", b'{"ts": 1, "seq": 1, "measurement": "ups", "values": {"v": NaN}}', "invalid JSON"),
    ("d-1", b'{"ts": 1, "seq": 1, "measurement": "ups", "values": {"v": 1e999}}', "infinity"),
    (
        "d-1",
        b'{"ts": "1", "seq": 1, "measurement": "ups", "values": {"v": 1}}',
        "ts: Input should be a valid integer",
    ),
    (
        "d-1",
        b'{"ts": 1, "seq": 1, "measurement": "ups", "values": {"v": [1]}}',
        "must be a number, bool or string",
    ),
    (
        "d-1",
        orjson.dumps({"ts": 1, "seq": 1, "measurement": "ups", "values": {"v": "x" * 2000}}),
        "longer than 1024",
    ),
    ("d-1", b"[]", "must be a JSON object"),
    ("d-1", b" " * 300_000, "exceeds"),
    ("D 1", good(1), "is not a slug"),
    (
        "d-1",
        orjson.dumps(
            {"ts": 1_700_000_000_500, "seq": 9_999, "measurement": "ups", "values": {"v": "text"}}
        ),
        "field type conflict",
    ),
]


def test_a_malformed_corpus_ends_in_the_dead_letter_and_good_data_is_stored(
    tmp_path: Path, mosquitto: MosquittoServer, influxdb: InfluxDBServer, influx_db: str
) -> None:
    mosquitto.start()
    dead: list[dict[str, Any]] = []
    lock = threading.Lock()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    subscribed = threading.Event()
    client.on_subscribe = lambda *_: subscribed.set()

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        with lock:
            dead.append(orjson.loads(message.payload))

    client.on_message = on_message
    client.connect("127.0.0.1", mosquitto.port)
    client.subscribe("facmon/v1/deadletter", 1)
    client.loop_start()
    assert subscribed.wait(10)
    collector = FacmonProcess(
        tmp_path,
        "collector",
        {
            "id": "c-corpus",
            "broker": {"url": mosquitto.url, "client_id": f"c-{uuid.uuid4().hex[:8]}"},
            "sink": {"kind": "influxdb", "url": influxdb.url, "database": influx_db},
            "batch_max_delay_s": 0.05,
            "metrics_port": (metrics_port := free_port()),
        },
    ).start()
    try:
        wait_for(
            lambda: "connected to" in collector.log(100_000) or None,
            30,
            "the collector",
            [collector],
        )
        seq = 0
        for device, payload, _ in BAD:
            for _ in range(3):  # good messages around every bad one
                seq += 1
                client.publish("facmon/v1/hq/gw-1/d-1/data", good(seq), qos=1).wait_for_publish(10)
            client.publish(f"facmon/v1/hq/gw-1/{device}/data", payload, qos=1).wait_for_publish(10)
        seq += 1
        client.publish("facmon/v1/hq/gw-1/d-1/data", good(seq), qos=1).wait_for_publish(10)

        def stored() -> int | None:
            result = influxdb.query("SELECT count(n) FROM ups", db=influx_db, check=False)
            series = result["results"][0].get("series")
            count = series[0]["values"][0][1] if series else 0
            return count if count == seq else None

        wait_for(stored, 30, f"{seq} good readings in InfluxDB", [collector])
        wait_for(lambda: len(dead) >= len(BAD) or None, 30, "every dead letter", [collector])
        collector.assert_running()
        exported = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        assert collector.stop() == 0
    finally:
        client.loop_stop()
        client.disconnect()
    assert f"facmon_collector_dead_letters_total {float(len(BAD))}" in exported
    assert f"facmon_collector_readings_stored_total {float(seq)}" in exported
    assert f"facmon_collector_messages_total {float(seq + len(BAD))}" in exported
    assert "facmon_collector_write_seconds_bucket" in exported
    assert len(dead) == len(BAD)
    for (_, payload, reason), letter in zip(BAD, dead, strict=True):
        assert reason in letter["reason"], (reason, letter["reason"])
        assert letter["source"] == "c-corpus"
        assert base64.b64decode(letter["payload_b64"]) == payload[:65_536]
        assert letter["payload_size"] == len(payload)


def test_two_collectors_on_a_shared_subscription_split_the_load(
    tmp_path: Path, mosquitto: MosquittoServer, influxdb: InfluxDBServer, influx_db: str
) -> None:
    mosquitto.start()
    group = f"g{uuid.uuid4().hex[:6]}"
    collectors = []
    for name in ("c-a", "c-b"):
        folder = tmp_path / name
        folder.mkdir()
        collectors.append(
            FacmonProcess(
                folder,
                "collector",
                {
                    "id": name,
                    "broker": {"url": mosquitto.url, "client_id": f"{name}-{group}"},
                    "share_group": group,
                    "sink": {"kind": "influxdb", "url": influxdb.url, "database": influx_db},
                    "batch_max_delay_s": 0.05,
                },
            ).start()
        )
    for collector in collectors:
        wait_for(
            lambda c=collector: "connected to" in c.log(100_000) or None,
            30,
            "the collectors",
            collectors,
        )
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2)
    publisher.connect("127.0.0.1", mosquitto.port)
    publisher.loop_start()
    total = 2_000
    try:
        for seq in range(1, total + 1):
            info = publisher.publish(f"facmon/v1/hq/gw-1/d-{seq % 7}/data", good(seq), qos=1)
        info.wait_for_publish(30)
    finally:
        publisher.loop_stop()
        publisher.disconnect()

    def stored() -> int | None:
        result = influxdb.query("SELECT count(n) FROM ups", db=influx_db, check=False)
        series = result["results"][0].get("series")
        return series[0]["values"][0][1] if series and series[0]["values"][0][1] == total else None

    wait_for(stored, 60, f"{total} readings in InfluxDB", collectors)
    shares = []
    for collector in collectors:
        assert collector.stop() == 0
        line = next(line for line in collector.log(100_000).splitlines() if "stopped:" in line)
        shares.append(int(line.split("stopped: ")[1].split(" ")[0]))
    assert sum(shares) == total
    assert min(shares) > total // 10, shares  # both took a real share


def test_a_million_points_survive_an_influxdb_outage_and_a_collector_sigkill(
    tmp_path: Path, mosquitto: MosquittoServer, influxdb: InfluxDBServer, influx_db: str
) -> None:
    mosquitto.start()
    influxdb.start()
    devices, per_device, fields = 10, 1_000, 100  # 10,000 messages x 100 points
    collector = FacmonProcess(
        tmp_path,
        "collector",
        {
            "id": "c-million",
            "broker": {"url": mosquitto.url, "client_id": f"c-million-{uuid.uuid4().hex[:6]}"},
            "sink": {"kind": "influxdb", "url": influxdb.url, "database": influx_db},
        },
    ).start()
    wait_for(
        lambda: "connected to" in collector.log(100_000) or None, 30, "the collector", [collector]
    )
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2)
    publisher.max_inflight_messages_set(1000)
    publisher.connect("127.0.0.1", mosquitto.port)
    publisher.loop_start()

    def publish(first: int, last: int) -> None:
        info = None
        for index in range(first, last):
            device, n = index % devices, index // devices
            values = {f"v{k}": n * 1.0 + k for k in range(fields)}
            body = {
                "ts": 1_700_000_000_000 + n,
                "seq": index + 1,
                "measurement": "bulk",
                "values": values,
            }
            info = publisher.publish(
                f"facmon/v1/hq/gw-1/d-{device}/data", orjson.dumps(body), qos=1
            )
        assert info is not None
        info.wait_for_publish(60)

    def rows() -> int:
        result = influxdb.query("SELECT count(v0) FROM bulk", db=influx_db, check=False)
        series = result["results"][0].get("series") if "results" in result else None
        return int(series[0]["values"][0][1]) if series else 0

    total = devices * per_device
    try:
        publish(0, total // 2)
        wait_for(
            lambda: rows() >= total // 10 or None, 60, "the first readings stored", [collector]
        )
        influxdb.stop()
        outage = time.monotonic()
        publish(total // 2, total)
        time.sleep(10)
        assert collector.stop(signal.SIGKILL) == -signal.SIGKILL
        collector.start()
        time.sleep(max(0.0, 30 - (time.monotonic() - outage)))
        influxdb.start()
        wait_for(lambda: rows() == total or None, 120, f"{total} rows", [collector])
    finally:
        publisher.loop_stop()
        publisher.disconnect()
    assert collector.stop() == 0
    per_series = influxdb.query("SELECT count(v99) FROM bulk GROUP BY device", db=influx_db)[
        "results"
    ][0]["series"]
    assert {s["tags"]["device"]: s["values"][0][1] for s in per_series} == {
        f"d-{d}": per_device for d in range(devices)
    }
    series = influxdb.query("SELECT count(*) FROM bulk", db=influx_db)["results"][0]["series"][0]
    counts = dict(zip(series["columns"], series["values"][0], strict=True))
    points = sum(counts[f"count_v{k}"] for k in range(fields))
    assert points == total * fields == 1_000_000  # every point, none missing
