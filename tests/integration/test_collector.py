"""The collector against real Mosquitto and InfluxDB: bad input to the dead letter, good input stored."""

from __future__ import annotations

import base64
import re
import signal
import subprocess
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

from bench.harness.influxdb import InfluxDBServer
from bench.harness.mosquitto import MosquittoServer
from facmon.net import free_port
from tests.integration.processes import FacmonProcess, wait_for

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


def start_collector(
    folder: Path,
    mosquitto: MosquittoServer,
    influxdb: InfluxDBServer,
    database: str,
    **config: Any,
) -> FacmonProcess:
    """Start `facmon collector` into InfluxDB with ``config`` (``id`` required) on top."""
    name = config["id"]
    process = FacmonProcess(
        folder,
        "collector",
        {
            "broker": {"url": mosquitto.url, "client_id": f"{name}-{uuid.uuid4().hex[:8]}"},
            "sink": {"kind": "influxdb", "url": influxdb.url, "database": database},
            **config,
        },
    ).start()
    wait_for(lambda: "connected to" in process.log(100_000) or None, 30, name, [process])
    return process


DATA = "facmon/v1/hq/gw-1/d-1/data"
BAD: list[tuple[str, bytes, str]] = [
    (DATA, b"{not json", "invalid JSON"),
    (DATA, b"\xff\xfe{}", "invalid JSON"),
    (DATA, b'{"ts": 1, "seq": 1, "measurement": "ups", "values": {"v": NaN}}', "invalid JSON"),
    (DATA, b'{"ts": 1, "seq": 1, "measurement": "ups", "values": {"v": 1e999}}', "infinity"),
    (
        DATA,
        b'{"ts": "1", "seq": 1, "measurement": "ups", "values": {"v": 1}}',
        "ts: Input should be a valid integer",
    ),
    (
        DATA,
        b'{"ts": 1, "seq": 1, "measurement": "ups", "values": {"v": [1]}}',
        "must be a number, bool or string",
    ),
    (
        DATA,
        orjson.dumps({"ts": 1, "seq": 1, "measurement": "ups", "values": {"v": "x" * 2000}}),
        "longer than 1024",
    ),
    (DATA, b"[]", "must be a JSON object"),
    (DATA, b" " * 300_000, "exceeds"),
    ("facmon/v1/hq/gw-1/D 1/data", good(1), "is not a slug"),
    (
        DATA,
        orjson.dumps(
            {"ts": 1_700_000_000_500, "seq": 9_999, "measurement": "ups", "values": {"v": "text"}}
        ),
        "field type conflict",
    ),
    ("facmon/v2/hq/gw-1/d-1/data", good(1), "unsupported contract version 'v2'"),
    ("facmon/v1/hq/gw-1/d-1/bogus", good(1), "is not a v1 contract topic"),
    ("facmon/v1/hq/gw-1/d-1/data/extra", good(1), "is not a v1 contract topic"),
    ("facmon/v1/hq/gw-1/d,1= \"\\'中/data", good(1), "is not a slug"),
    ("facmon/v1/hq/gw-1/d-1/event", b'{"ts": 1, "seq": 1, "type": "Door Forced"}', "type:"),
    (
        DATA,
        orjson.dumps({"ts": 1, "seq": 1, "measurement": "facmon_events", "values": {"v": 1}}),
        "reserved",
    ),
    (
        DATA,
        orjson.dumps({"ts": 1, "seq": 1, "measurement": "ups", "values": {"facmon_seq": 1}}),
        "reserved",
    ),
    (
        DATA,
        b'{"ts": 1, "seq": 1, "measurement": "ups", "values": {"v": 9223372036854775808}}',
        "64 bits",
    ),
    (
        DATA,
        orjson.dumps({"ts": 1, "seq": 1, "measurement": "ups", "values": {"v": True, "w": None}}),
        "values.w",
    ),
    (DATA, orjson.dumps({"ts": 1, "seq": 1, "measurement": "ups", "values": {}}), "at least one"),
]

SKIPPED_OR_OTHER_KINDS = [
    ("facmon/v1/hq/gw-1/status", b'{"state": "online", "ts": 1}'),
    ("facmon/v1/hq/gw-1/d-1/state", b'{"state": "online", "since": 1}'),
    ("facmon/v1/hq/gw-1/d-1/cmd", b"not even looked at"),
    ("facmon/v1/hq/gw-1/d-1/event", b'{"ts": 1700000000000, "seq": 1, "type": "door_forced"}'),
    (
        "facmon/v1/alerts/hq",
        b'{"id": "a-1", "ts": 1700000000000, "state": "firing", "severity": "critical",'
        b' "rule": "door_forced", "summary": "Door 1 forced", "device": "d-1"}',
    ),
]
"""Stored in their own measurements (states, events, alerts) or skipped, never dead letters."""


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
    metrics_port = free_port()
    collector = start_collector(
        tmp_path,
        mosquitto,
        influxdb,
        influx_db,
        id="c-corpus",
        batch_max_delay_s=0.05,
        metrics_port=metrics_port,
    )
    try:
        seq = 0
        for topic, payload, _ in BAD:
            for _ in range(3):  # good messages around every bad one
                seq += 1
                client.publish(DATA, good(seq), qos=1).wait_for_publish(10)
            client.publish(topic, payload, qos=1).wait_for_publish(10)
        for topic, payload in SKIPPED_OR_OTHER_KINDS:
            client.publish(topic, payload, qos=1).wait_for_publish(10)
        seq += 1
        client.publish(DATA, good(seq), qos=1).wait_for_publish(10)

        def stored() -> int | None:
            result = influxdb.query("SELECT count(n) FROM ups", db=influx_db, check=False)
            series = result["results"][0].get("series")
            count = series[0]["values"][0][1] if series else 0
            return count if count == seq else None

        wait_for(stored, 30, f"{seq} good readings in InfluxDB", [collector])
        kinds = influxdb.query(
            "SELECT count(facmon_seq) FROM facmon_events; SELECT count(summary) FROM facmon_alerts;"
            " SELECT count(state) FROM facmon_states",
            db=influx_db,
        )["results"]
        assert [r["series"][0]["values"][0][1] for r in kinds] == [1, 1, 1]
        wait_for(lambda: len(dead) >= len(BAD) or None, 30, "every dead letter", [collector])
        collector.assert_running()
        exported = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        assert collector.stop() == 0
    finally:
        client.loop_stop()
        client.disconnect()
    assert f"facmon_collector_dead_letters_total {float(len(BAD))}" in exported
    assert f"facmon_collector_records_stored_total {float(seq + 3)}" in exported
    received = seq + len(BAD) + len(SKIPPED_OR_OTHER_KINDS)
    assert f"facmon_collector_messages_total {float(received)}" in exported
    assert "facmon_collector_write_seconds_bucket" in exported
    assert len(dead) == len(BAD)
    letters = {
        (letter["topic"], base64.b64decode(letter["payload_b64"])): letter for letter in dead
    }
    for topic, payload, reason in BAD:
        letter = letters[topic, payload[:65_536]]
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
            start_collector(
                folder,
                mosquitto,
                influxdb,
                influx_db,
                id=name,
                share_group=group,
                batch_max_delay_s=0.05,
            )
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
    collector = start_collector(tmp_path, mosquitto, influxdb, influx_db, id="c-million")
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
    print(f"\n{points:,} points through an InfluxDB outage and a collector SIGKILL, 0 lost")


def test_memory_stays_bounded_while_a_backlog_drains(
    tmp_path: Path, mosquitto: MosquittoServer, influxdb: InfluxDBServer, influx_db: str
) -> None:
    mosquitto.start()
    influxdb.start()
    limit, total = 500, 30_000
    metrics_port = free_port()
    collector = start_collector(
        tmp_path,
        mosquitto,
        influxdb,
        influx_db,
        id="c-bounded",
        max_unacked=limit,
        batch_max_lines=100,
        metrics_port=metrics_port,
    )
    assert collector.stop() == 0  # its session stays: a backlog queues on the broker
    lines = tmp_path / "readings.jsonl"
    lines.write_bytes(
        b"\n".join(
            orjson.dumps(
                {"ts": 1_700_000_000_000 + n, "seq": n, "measurement": "m", "values": {"v": n}}
            )
            for n in range(total)
        )
    )
    with lines.open("rb") as stdin:  # published by the C client: fast, and QoS 1 like a gateway
        subprocess.run(
            [*("mosquitto_pub", "-p", str(mosquitto.port), "-q", "1", "-l"), "-t", DATA],
            stdin=stdin,
            check=True,
        )
    collector.start()

    def stored() -> int:
        result = influxdb.query("SELECT count(v) FROM m", db=influx_db, check=False)
        series = result["results"][0].get("series") if "results" in result else None
        return int(series[0]["values"][0][1]) if series else 0

    samples = []
    deadline = time.monotonic() + 120
    while stored() < total and time.monotonic() < deadline:
        try:
            text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        except httpx.TransportError:
            continue  # not serving yet
        samples.append(float(re.search(r"^facmon_collector_unacked (\S+)$", text, re.M)[1]))  # type: ignore[index]
        time.sleep(0.02)
    assert stored() == total
    assert collector.stop() == 0
    # Mosquitto 2.0 was seen handing a client draining a backlog far more than its Receive
    # Maximum: the collector stops reading from the socket to stay within it regardless.
    assert 0 < max(samples) <= limit, samples


@pytest.mark.parametrize("share_group", [None, "meters"])
def test_a_sub_meters_readings_are_tagged_with_the_meter_upstream_of_it(
    tmp_path: Path,
    mosquitto: MosquittoServer,
    influxdb: InfluxDBServer,
    influx_db: str,
    share_group: str | None,
) -> None:
    mosquitto.start()
    site = f"s{uuid.uuid4().hex[:6]}"  # its own site: another test's retained trees are not seen
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2)
    publisher.connect("127.0.0.1", mosquitto.port)
    publisher.loop_start()
    try:
        trees = {"ts": 1_700_000_000_000, "sub_meters": {"pm-hvac": "pm-main"}}
        publisher.publish(
            f"facmon/v1/meters/{site}", orjson.dumps(trees), qos=1, retain=True
        ).wait_for_publish(10)
        extra = {"share_group": f"{share_group}{site}"} if share_group else {}
        collector = start_collector(
            tmp_path, mosquitto, influxdb, influx_db, id="c-m", batch_max_delay_s=0.05, **extra
        )
        time.sleep(0.5)  # the retained trees come first on subscribing
        for seq, device in enumerate(["pm-main", "pm-hvac"], start=1):
            reading = {
                "ts": 1_700_000_000_000 + seq,
                "seq": seq,
                "measurement": "power_meter",
                "values": {"import_energy_kwh": 100.0 * seq},
            }
            publisher.publish(
                f"facmon/v1/{site}/gw-1/{device}/data", orjson.dumps(reading), qos=1
            ).wait_for_publish(10)
    finally:
        publisher.publish(f"facmon/v1/meters/{site}", b"", qos=1, retain=True).wait_for_publish(10)
        publisher.loop_stop()
        publisher.disconnect()

    def tagged() -> dict[str, str] | None:
        result = influxdb.query(
            'SELECT last("import_energy_kwh") FROM "power_meter" GROUP BY "device", "meter_parent"',
            db=influx_db,
            check=False,
        )
        series = result["results"][0].get("series") or []
        found = {s["tags"]["device"]: s["tags"]["meter_parent"] for s in series}
        return found if len(found) == 2 else None

    found = wait_for(tagged, 30, "both meters' readings in InfluxDB", [collector])
    assert found == {"pm-main": "", "pm-hvac": "pm-main"}
    assert collector.stop() == 0
