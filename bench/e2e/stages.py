"""The end-to-end benchmark's references: memory at 1,000 small devices, and the ceilings of
Mosquitto and of InfluxDB alone."""

from __future__ import annotations

import gzip
import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.e2e.probes import GATEWAY
from bench.e2e.ramp import STOP_TIMEOUT_S
from bench.harness.influxdb import InfluxDBServer
from bench.harness.mosquitto import MosquittoServer
from bench.harness.processes import usage
from bench.pipeline import (
    SITE,
    Pipeline,
    filled,
    reading_points,
)
from devices.library import resolve_profile
from facmon.contract import DataEnvelope
from storage.lineprotocol import to_line
from storage.records import Record

SMALL_PROFILE = "th-sensor"
MEMORY_DEVICES = 1_000
MEMORY_S = 30.0
BROKER_MESSAGES = 50_000
INFLUX_READINGS = 30_000
INFLUX_BATCH = 5_000  # lines, the collector's batch_max_lines


def memory(
    work: Path, broker: MosquittoServer, influx: InfluxDBServer, devices: int
) -> dict[str, Any]:
    """Each process's resident memory ``MEMORY_S`` after the first reading of ``devices``
    small devices (fresh facmon processes)."""
    work.mkdir()
    pipe = Pipeline(
        work,
        broker,
        influx,
        filled(SMALL_PROFILE, devices),
        gateway="gw-memory",
        name="memory",
        stop_timeout_s=STOP_TIMEOUT_S,
    )
    points = reading_points(resolve_profile(SMALL_PROFILE))
    try:
        pipe.start()
        started = time.time()
        while time.time() - started < MEMORY_S and not pipe.died():
            time.sleep(1)
        measured = pipe.sample(MEMORY_S, lag=True)
        stored, span = pipe.readings_stored()
        return {
            "devices": devices,
            "points": points,
            "rss_mib": {n: u.rss_kib / 1024 for n, u in measured.usage.items() if u is not None},
            "lag_s": measured.lag_s,
            "stored_points_s": stored * points / span if span else 0.0,
            "died": pipe.died(),
        }
    finally:
        for name in ("gateway", "api", "collector", "sim"):
            pipe.stop(name)


def broker_ceiling(broker: MosquittoServer, payload: bytes, messages: int) -> dict[str, float]:
    """``messages`` copies of ``payload`` from ``mosquitto_pub -l`` to ``mosquitto_sub``, QoS 1."""
    port = str(broker.port)
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as lines:
        lines.write(b"\n".join([payload] * messages) + b"\n")
        lines.flush()
        receiver = subprocess.Popen(
            ["mosquitto_sub", "-p", port, "-t", "bench/ceiling", "-q", "1", "-C", str(messages)],
            stdout=subprocess.DEVNULL,
        )
        time.sleep(0.5)  # subscribed
        assert broker.pid is not None
        cpu0 = usage(broker.pid)
        started = time.monotonic()
        with Path(lines.name).open("rb") as feed:
            sender = subprocess.Popen(
                ["mosquitto_pub", "-p", port, "-t", "bench/ceiling", "-q", "1", "-M", "1000", "-l"],
                stdin=feed,
            )
            try:
                receiver.wait(60)
            except subprocess.TimeoutExpired:
                receiver.kill()
            elapsed = time.monotonic() - started
            sender.wait(10)
        cpu1 = usage(broker.pid)
    cores = (cpu1.cpu_s - cpu0.cpu_s) / elapsed if cpu0 and cpu1 else float("nan")
    return {"messages_s": messages / elapsed, "seconds": elapsed, "broker_cores": cores}


def influx_ceiling(influx: InfluxDBServer, payload: bytes, readings: int) -> dict[str, float]:
    """``readings`` of the captured envelope, in facmon's line protocol, as gzipped batches of
    ``INFLUX_BATCH`` lines POSTed one after the other into a database of their own."""
    envelope = DataEnvelope.model_validate_json(payload)
    template = to_line(Record(SITE, GATEWAY, "DEVICE", envelope))
    head, rest = template.split(" ", 1)
    fields_text = re.sub(r",?facmon_seq=\d+i", "", rest.rsplit(" ", 1)[0])
    base = (int(time.time()) - 3600) * 10**9
    devices = 555
    lines = [
        f"{head.replace('DEVICE', f'p{n % devices}')} {fields_text},facmon_seq={n + 1}i "
        f"{base + (n // devices) * 10**9 + n % devices}"
        for n in range(readings)
    ]
    batches = [
        gzip.compress("\n".join(lines[i : i + INFLUX_BATCH]).encode(), compresslevel=1)
        for i in range(0, readings, INFLUX_BATCH)
    ]
    influx.create_database("ceiling")
    assert influx.pid is not None
    cpu0 = usage(influx.pid)
    with httpx.Client(base_url=influx.url, timeout=60) as client:
        started = time.monotonic()
        for batch in batches:
            client.post(
                "/write",
                params={"db": "ceiling", "precision": "ns"},
                content=batch,
                headers={"Content-Encoding": "gzip"},
            ).raise_for_status()
        elapsed = time.monotonic() - started
    cpu1 = usage(influx.pid)
    counted = influx.query("SELECT count(facmon_seq) FROM /.*/", db="ceiling")
    stored = sum(int(s["values"][0][1]) for s in counted["results"][0].get("series", []))
    cores = (cpu1.cpu_s - cpu0.cpu_s) / elapsed if cpu0 and cpu1 else float("nan")
    return {"readings_s": stored / elapsed, "seconds": elapsed, "influx_cores": cores}
