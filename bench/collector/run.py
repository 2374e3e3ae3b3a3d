"""Collector throughput and latency: MQTT into InfluxDB, against the database's own ceiling.

In one run, on real Mosquitto and InfluxDB processes started here:
- ceiling: pre-built 5,000-line batches posted straight to InfluxDB's /write;
- facmon: `facmon collector` with its defaults (5,000 lines / 250 ms batches);
- naive: the same collector set as Telegraf's defaults (1,000-point batches, 10 s flush).
Throughput: MESSAGES readings of FIELDS points published by mosquitto_pub as fast as the
broker takes them, timed from the first publish until the collector has had them all acknowledged by InfluxDB (its `/metrics`; polling InfluxDB would load it), then counted in InfluxDB. Latency: RATE readings/s for LATENCY_S
seconds; a reading is queryable when `max(facmon_seq)` reaches it (polled every 25 ms).
Writes the "Collector" section of docs/benchmarks.md.

    .venv/bin/python bench/collector/run.py [--messages 100000] [--no-doc]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.harness.influxdb import InfluxDBServer  # noqa: E402
from bench.harness.mosquitto import MosquittoServer  # noqa: E402
from bench.sections import head_commit, write_section  # noqa: E402
from facmon.net import free_port  # noqa: E402

FIELDS = 20
DEVICES = 10
PUBLISH = ("mosquitto_pub", "-q", "1", "-l", "-M", "1000")  # one message per stdin line
RATE = 2_000
LATENCY_S = 10.0


def body(seq: int, ts: int) -> dict[str, Any]:
    return {
        "ts": ts,
        "seq": seq,
        "measurement": "bench",
        "values": {f"p{k}": seq * 0.5 + k for k in range(FIELDS)},
    }


def line(seq: int, ts: int) -> str:
    fields = ",".join(f"p{k}={seq * 0.5 + k!r}" for k in range(FIELDS))
    return f"bench,device=d-{seq % 10},gateway=gw,site=s {fields},facmon_seq={seq}i {ts}"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stored_by(port: int) -> int:
    """The collector's count of stored readings, from its /metrics."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.TransportError:
        return 0
    found = re.search(r"^facmon_collector_records_stored_total (\S+)$", text, re.MULTILINE)
    return int(float(found[1])) if found else 0


def pid(service: InfluxDBServer | MosquittoServer) -> int:
    assert service.pid is not None
    return service.pid


def count(influx: InfluxDBServer, db: str) -> int:
    result = influx.query("SELECT count(facmon_seq) FROM bench", db=db, check=False)
    series = result.get("results", [{}])[0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


def ceiling(influx: InfluxDBServer, messages: int) -> dict[str, float]:
    db = f"ceil_{uuid.uuid4().hex[:6]}"
    influx.create_database(db)
    base = int(time.time() * 1000) - messages
    batches = [
        "\n".join(line(s, base + s) for s in range(i, min(i + 5_000, messages)))
        for i in range(0, messages, 5_000)
    ]
    with httpx.Client(base_url=influx.url, timeout=60) as client:
        influx_cpu0, started = cpu_seconds(pid(influx)), time.monotonic()
        for batch in batches:
            response = client.post(
                "/write", params={"db": db, "precision": "ms"}, content=batch.encode()
            )
            response.raise_for_status()
        elapsed = time.monotonic() - started
        influx_cores = (cpu_seconds(pid(influx)) - influx_cpu0) / elapsed
    assert count(influx, db) == messages
    return {
        "points_s": messages * FIELDS / elapsed,
        "seconds": elapsed,
        "influx_cores": influx_cores,
    }


def start_collector(
    work: Path,
    broker: MosquittoServer,
    influx: InfluxDBServer,
    db: str,
    metrics_port: int | None = None,
    **batching: Any,
) -> subprocess.Popen[bytes]:
    config = {
        "id": f"bench-{uuid.uuid4().hex[:6]}",
        "broker": {"url": broker.url},
        "sink": {"kind": "influxdb", "url": influx.url, "database": db},
        "metrics_port": metrics_port,
        **batching,
    }
    path = work / f"{config['id']}.yaml"
    path.write_text(yaml.safe_dump(config))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "launcher",
            "--log-level",
            "warning",
            "collector",
            "--config",
            str(path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(2.0)  # connected and subscribed
    return process


def publisher(broker: MosquittoServer) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.max_inflight_messages_set(2_000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    return client


def throughput(
    work: Path, broker: MosquittoServer, influx: InfluxDBServer, messages: int, **batching: Any
) -> dict[str, float]:
    db = f"tp_{uuid.uuid4().hex[:6]}"
    influx.create_database(db)
    port = free_port()
    collector = start_collector(work, broker, influx, db, port, **batching)
    base = int(time.time() * 1000) - messages
    inputs = []
    for device in range(DEVICES):
        path = work / f"{db}-d{device}.jsonl"
        path.write_bytes(
            b"\n".join(
                orjson.dumps(body(seq, base + seq))
                for seq in range(1, messages + 1)
                if seq % DEVICES == device
            )
        )
        inputs.append((device, path))
    try:
        processes = (collector.pid, pid(influx), pid(broker))
        cpu0, started = [cpu_seconds(p) for p in processes], time.monotonic()
        publishers = [
            subprocess.Popen(
                [*PUBLISH, "-p", str(broker.port), "-t", f"facmon/v1/s/gw/d-{device}/data"],
                stdin=path.open("rb"),
            )
            for device, path in inputs
        ]
        # Done when the collector has stored them all: it counts a reading once InfluxDB has
        # acknowledged its write. Polling InfluxDB itself would load it with count queries.
        deadline = started + 600
        while stored_by(port) < messages and time.monotonic() < deadline:
            time.sleep(0.02)
        elapsed = time.monotonic() - started
        cpu = [cpu_seconds(p) - c for p, c in zip(processes, cpu0, strict=True)]
        stored = count(influx, db)
        for process in publishers:
            process.wait(10)
    finally:
        collector.terminate()
        collector.wait(20)
    return {
        "points_s": stored * FIELDS / elapsed,
        "seconds": elapsed,
        "cpu_us_point": 1e6 * cpu[0] / max(stored * FIELDS, 1),
        "cores": [c / elapsed for c in cpu],
        "stored": stored,
    }


def latency(
    work: Path, broker: MosquittoServer, influx: InfluxDBServer, **batching: Any
) -> dict[str, float]:
    db = f"lat_{uuid.uuid4().hex[:6]}"
    influx.create_database(db)
    collector = start_collector(work, broker, influx, db, **batching)
    client = publisher(broker)
    published: dict[int, float] = {}
    seen: list[tuple[float, int]] = []
    stop = threading.Event()

    def poll() -> None:
        with httpx.Client(base_url=influx.url, timeout=10) as http:
            while not stop.is_set():
                result = http.post(
                    "/query", params={"db": db, "q": "SELECT max(facmon_seq) FROM bench"}
                ).json()
                series = result["results"][0].get("series")
                seen.append((time.monotonic(), int(series[0]["values"][0][1]) if series else 0))
                time.sleep(0.025)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    total = int(RATE * LATENCY_S)
    try:
        started = time.monotonic()
        for seq in range(1, total + 1):
            target = started + seq / RATE
            delay = target - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            published[seq] = time.monotonic()
            client.publish(
                f"facmon/v1/s/gw/d-{seq % 10}/data",
                orjson.dumps(body(seq, int(time.time() * 1000))),
                qos=1,
            )
        deadline = time.monotonic() + 30
        while (not seen or seen[-1][1] < total) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        poller.join(5)
        client.loop_stop()
        client.disconnect()
        collector.terminate()
        collector.wait(20)
    delays, index = [], 0
    for seq in range(1, total + 1):
        while index < len(seen) and seen[index][1] < seq:
            index += 1
        if index < len(seen):
            delays.append(seen[index][0] - published[seq])
    delays.sort()
    return {
        "p50_ms": 1000 * statistics.median(delays),
        "p99_ms": 1000 * delays[int(0.99 * (len(delays) - 1))],
        "max_ms": 1000 * delays[-1],
        "measured": len(delays),
        "published": total,
    }


def cores(run: dict[str, Any]) -> str:
    return " / ".join(f"{c:.2f}" for c in run["cores"])


def report(results: dict[str, Any], messages: int) -> str:
    ceil, facmon, naive = results["ceiling"], results["facmon"], results["naive"]
    ratio = facmon["points_s"] / ceil["points_s"]
    lat_f, lat_n = results["facmon_latency"], results["naive_latency"]
    cpu = os.cpu_count() or 1
    influx_us = 1e6 * ceil["influx_cores"] / ceil["points_s"]
    broker_us = 1e6 * facmon["cores"][2] / facmon["points_s"]
    total_us = influx_us + facmon["cpu_us_point"] + broker_us
    bound = cpu * 1e6 / total_us
    model = next(
        (
            row.split(":", 1)[1].strip()
            for row in Path("/proc/cpuinfo").read_text().splitlines()
            if row.startswith("model name")
        ),
        "?",
    )
    commit = head_commit()
    return f"""## Collector

MQTT into InfluxDB, measured in one run of `bench/collector/run.py` (`make bench`) on one machine.

### Method

- Real Mosquitto and InfluxDB 1.x started by the benchmark. A reading is one data envelope of {FIELDS} float points.
- **ceiling**: {messages:,} readings as pre-built 5,000-line batches posted straight to InfluxDB's `/write`, one after the other.
- **facmon**: `facmon collector` with its defaults (5,000-line / 250 ms batches, gzip, MQTT 5, acknowledgement after the write); {messages:,} readings from {DEVICES} devices published at QoS 1 by `mosquitto_pub` (C, as fast as the broker takes them), timed from the first publish until the collector has had them all acknowledged by InfluxDB (its `/metrics`; polling InfluxDB would load it), then counted in InfluxDB.
- **naive**: the same collector set as Telegraf's defaults: batches of 1,000 metrics (lines; `metric_batch_size`), flushed every 10 s (`flush_interval`).
- All processes share the machine's cores: in the ceiling run InfluxDB has them to itself; in the other runs the collector, Mosquitto and InfluxDB divide them (the cores column: CPU seconds per second of each process).
- **latency**: {RATE:,} readings/s for {LATENCY_S:.0f} s; a reading counts as queryable when `max(facmon_seq)` in InfluxDB reaches it (polled every 25 ms, so figures carry up to 25 ms of polling).

### Machine

{cpu} cores ({model}); facmon at {commit}; run {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}.

### Results

| run | points/s | seconds | collector CPU µs/point | cores used: collector / InfluxDB / Mosquitto | p50 latency | p99 latency | max latency |
|---|---|---|---|---|---|---|---|
| ceiling | {ceil["points_s"]:,.0f} | {ceil["seconds"]:.1f} | - | - / {ceil["influx_cores"]:.2f} / - | - | - | - |
| facmon | {facmon["points_s"]:,.0f} | {facmon["seconds"]:.1f} | {facmon["cpu_us_point"]:.2f} | {cores(facmon)} | {lat_f["p50_ms"]:.0f} ms | {lat_f["p99_ms"]:.0f} ms | {lat_f["max_ms"]:.0f} ms |
| naive (Telegraf defaults) | {naive["points_s"]:,.0f} | {naive["seconds"]:.1f} | {naive["cpu_us_point"]:.2f} | {cores(naive)} | {lat_n["p50_ms"]:.0f} ms | {lat_n["p99_ms"]:.0f} ms | {lat_n["max_ms"]:.0f} ms |

### Targets

- **Throughput vs the ceiling**: {facmon["points_s"]:,.0f} / {ceil["points_s"]:,.0f} points/s = **{ratio:.2f}x** (target ≥ 0.7x): **{"met" if ratio >= 0.7 else "NOT met"}**.
- **p99 from publish to queryable**: **{lat_f["p99_ms"]:.0f} ms** (target < 1 s): **{"met" if lat_f["p99_ms"] < 1000 else "NOT met"}**. The naive setup's p99: {lat_n["p99_ms"]:.0f} ms.

### Where the time goes

CPU per point stored, from the same runs: InfluxDB {influx_us:.2f} µs (at the ceiling, alone), the collector {facmon["cpu_us_point"]:.2f} µs, Mosquitto {broker_us:.2f} µs (its share of the facmon run, publishers' side included). Together {total_us:.2f} µs: with all {cpu} cores busy and nothing else running, at most {bound:,.0f} points/s ({bound / ceil["points_s"]:.2f}x the ceiling) could go through this machine, so 0.7x needs a cheaper pipeline or InfluxDB on cores of its own.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="facmon-bench-collector-") as tmp:
        work = Path(tmp)
        (work / "mq").mkdir()
        (work / "db").mkdir()
        with MosquittoServer(work / "mq") as broker, InfluxDBServer(work / "db") as influx:
            results = {"ceiling": ceiling(influx, args.messages)}
            results["facmon"] = throughput(work, broker, influx, args.messages)
            naive = {
                "batch_max_lines": 1_000,
                "batch_max_delay_s": 10,
            }  # Telegraf: metric_batch_size, flush_interval
            results["naive"] = throughput(work, broker, influx, args.messages, **naive)
            results["facmon_latency"] = latency(work, broker, influx)
            results["naive_latency"] = latency(work, broker, influx, **naive)
    section = report(results, args.messages)
    print(section)
    if not args.no_doc:
        write_section("Collector", section)


if __name__ == "__main__":
    main()
