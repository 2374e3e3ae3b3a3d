"""Checks that the real test services behave as the integration tests expect."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from bench.harness.influxdb import InfluxDBServer
from bench.harness.mosquitto import MosquittoServer

pytestmark = pytest.mark.integration

CLIENT_TIMEOUT = 15.0


def _client(name: str) -> str:
    """Path of a mosquitto-clients program, failing clearly if missing."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found (package mosquitto-clients); run tests/setup-services.sh")
    return path


def _run_client(name: str, broker: MosquittoServer, *args: str) -> str:
    """Run mosquitto_pub/mosquitto_sub against ``broker``; return its stdout."""
    result = subprocess.run(
        [_client(name), "-h", broker.host, "-p", str(broker.port), *args],
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"{name} {args} failed: {result.stderr}"
    return result.stdout


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def test_mosquitto_qos1_publish_is_received(mosquitto: MosquittoServer) -> None:
    """(a) mosquitto_pub -q 1 reaches a mosquitto_sub started beforehand."""
    topic = _unique("facmon/test/pubsub")
    payload = _unique("hello")
    sub = subprocess.Popen(
        [
            _client("mosquitto_sub"),
            "-h",
            mosquitto.host,
            "-p",
            str(mosquitto.port),
            "-t",
            topic,
            "-q",
            "1",
            "-C",
            "1",
            "-W",
            "10",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The subscriber's SUBSCRIBE races our first PUBLISH; non-retained
        # messages sent before it is subscribed are dropped, so republish
        # until it has received one (-C 1 makes it exit then).
        deadline = time.monotonic() + 10
        while sub.poll() is None and time.monotonic() < deadline:
            _run_client("mosquitto_pub", mosquitto, "-t", topic, "-q", "1", "-m", payload)
            with contextlib.suppress(subprocess.TimeoutExpired):
                sub.wait(timeout=0.2)
        out, err = sub.communicate(timeout=CLIENT_TIMEOUT)
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.communicate()
    assert sub.returncode == 0, f"mosquitto_sub failed ({sub.returncode}): {err}"
    assert out == f"{payload}\n"


def test_mosquitto_retained_message_survives_restart(mosquitto: MosquittoServer) -> None:
    """(b) Retained messages are persisted across a broker restart."""
    topic = _unique("facmon/test/retained")
    payload = _unique("retained")
    _run_client("mosquitto_pub", mosquitto, "-t", topic, "-q", "1", "-r", "-m", payload)
    port, old_pid = mosquitto.port, mosquitto.pid

    mosquitto.restart()

    assert mosquitto.pid != old_pid
    assert mosquitto.port == port
    assert (mosquitto.persistence_dir / "mosquitto.db").is_file()
    out = _run_client("mosquitto_sub", mosquitto, "-t", topic, "-q", "1", "-C", "1", "-W", "5")
    assert out == f"{payload}\n"
    # Clear the retained message again.
    _run_client("mosquitto_pub", mosquitto, "-t", topic, "-r", "-n")


def test_mosquitto_persistent_session_queue_survives_restart(
    mosquitto: MosquittoServer,
) -> None:
    """QoS 1 messages queued for an offline persistent session survive a restart."""
    topic = _unique("facmon/test/queued")
    client_id = _unique("facmon-test-queue")
    session = ("-i", client_id, "-c", "-q", "1", "-t", topic)
    # Subscribe with a persistent session (clean session off), then go offline.
    _run_client("mosquitto_sub", mosquitto, *session, "-E")
    expected = [f"msg-{i}" for i in range(3)]
    for message in expected:
        _run_client("mosquitto_pub", mosquitto, "-t", topic, "-q", "1", "-m", message)

    mosquitto.restart()

    out = _run_client("mosquitto_sub", mosquitto, *session, "-C", "3", "-W", "10")
    assert out.splitlines() == expected
    # Discard the session: reconnect with clean session on.
    _run_client("mosquitto_sub", mosquitto, "-i", client_id, "-t", topic, "-E")


def test_influxdb_write_and_query(influxdb: InfluxDBServer, influx_db: str) -> None:
    """(c) Line protocol POSTed to /write (precision=ms) is returned by SELECT."""
    body = b"m,sensor=a value=1.5 1700000000000\nm,sensor=b value=2.5 1700000001000\n"
    params = urllib.parse.urlencode({"db": influx_db, "precision": "ms"})
    request = urllib.request.Request(f"{influxdb.url}/write?{params}", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.status == 204

    result = influxdb.query("SELECT * FROM m", db=influx_db, epoch="ms")

    [series] = result["results"][0]["series"]
    assert series["name"] == "m"
    rows = [dict(zip(series["columns"], row, strict=True)) for row in series["values"]]
    assert rows == [
        {"time": 1700000000000, "sensor": "a", "value": 1.5},
        {"time": 1700000001000, "sensor": "b", "value": 2.5},
    ]


def test_influxdb_point_survives_restart(influxdb: InfluxDBServer, influx_db: str) -> None:
    """(d) Written points are on disk and readable after a restart."""
    influxdb.write("m,sensor=c value=42 1700000002000", db=influx_db)
    port, old_pid = influxdb.port, influxdb.pid

    influxdb.restart()

    assert influxdb.pid != old_pid
    assert influxdb.port == port
    result = influxdb.query("SELECT value FROM m WHERE sensor = 'c'", db=influx_db, epoch="ms")
    assert result["results"][0]["series"][0]["values"] == [[1700000002000, 42.0]]


def test_influxdb_second_instance_side_by_side(influxdb: InfluxDBServer, tmp_path: Path) -> None:
    """A second server (own ports and dirs) runs next to the session one."""
    with InfluxDBServer(tmp_path) as other:
        assert {other.port, other.rpc_port}.isdisjoint({influxdb.port, influxdb.rpc_port})
        other.create_database("only_here")
        databases = json.dumps(other.query("SHOW DATABASES"))
        assert "only_here" in databases
        assert "only_here" not in json.dumps(influxdb.query("SHOW DATABASES"))
    assert not other.running
