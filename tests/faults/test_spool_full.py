"""The gateway's spool disk fills up while the broker is away: a bounded, counted drop.

The gateway's file size limit (RLIMIT_FSIZE, set on the running process) stands in for a
full disk: SQLite can no longer grow the spool. The gateway keeps at most
``memory_messages`` in memory, drops the oldest beyond (counted, reported in
``gateway_health.dropped``), and loses nothing once the disk has room again. Every message
that was given a ``seq`` (numbered when spooled) is then counted end to end.
"""

from __future__ import annotations

import resource
import signal
import time
from pathlib import Path

import pytest

from bench.harness.influxdb import InfluxDBServer
from bench.harness.mosquitto import MosquittoServer
from facmon.net import free_port
from tests.faults.accounting import all_stored
from tests.integration.processes import FacmonProcess, wait_for

pytestmark = pytest.mark.integration

DEVICES = 10
INTERVAL_S = 0.1
MEMORY = 200


def test_a_full_spool_disk_drops_a_bounded_counted_number_and_loses_nothing_else(
    tmp_path: Path, influxdb: InfluxDBServer, influx_db: str
) -> None:
    (tmp_path / "broker").mkdir()
    broker = MosquittoServer(tmp_path / "broker")
    broker.start()
    spool = tmp_path / "spool" / "spool.db"
    sim_port = free_port()
    units = [{"id": f"th-{n}", "profile": "th-sensor", "unit": n + 1} for n in range(DEVICES)]
    sim = FacmonProcess(tmp_path, "sim", {"endpoints": [{"port": sim_port, "devices": units}]})
    gateway = FacmonProcess(
        tmp_path,
        "gateway",
        {
            "site": "hq",
            "gateway": "gw-full",
            "uplink": {"url": broker.url},
            "spool": {"path": str(spool), "memory_messages": MEMORY},
            "health_interval_s": 1,
            "buses": [{"id": "line", "host": "127.0.0.1", "port": sim_port}],
            "devices": [{**u, "bus": "line", "interval_s": INTERVAL_S} for u in units],
        },
    )
    collector = FacmonProcess(
        tmp_path,
        "collector",
        {
            "id": "c-full",
            "broker": {"url": broker.url, "client_id": f"c-{influx_db}"},
            "sink": {"kind": "influxdb", "url": influxdb.url, "database": influx_db},
            "batch_max_delay_s": 0.1,
        },
    )
    try:
        collector.start()
        wait_for(lambda: "connected to" in collector.log() or None, 30, "the collector")
        broker.stop()  # the broker goes away: the gateway spools
        sim.start()
        gateway.start()
        time.sleep(3)
        size = max(f.stat().st_size for f in spool.parent.iterdir())
        # The disk is full: no file of the gateway may grow past its size now (the log
        # neither, so the log of this stretch is lost).
        full = size + 64 * 1024
        resource.prlimit(gateway.pid, resource.RLIMIT_FSIZE, (full, resource.RLIM_INFINITY))
        time.sleep(8)  # ~800 messages against a memory of 200
        resource.prlimit(
            gateway.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
        )
        time.sleep(2)
        broker.start()
        wait_for(
            lambda: (
                "uplink connected" in gateway.log(10_000_000).split("spool writable again")[-1]
                or None
            ),
            60,
            "the gateway back on the broker",
            [gateway],
        )
        time.sleep(3)
        assert gateway.stop(signal.SIGTERM) == 0
        dropped_query = 'SELECT last("dropped") FROM "gateway_health"'

        last = all_stored(influxdb, influx_db, spool, collector, 60)
        answer = influxdb.query(dropped_query, db=influx_db)["results"][0]["series"]
        dropped = answer[0]["values"][0][1]
        assert dropped > 0, "the disk was full long enough to drop"
        assert dropped <= 10 * DEVICES / INTERVAL_S, "no more than the stretch's messages"
        log = gateway.log(10_000_000)
        assert "spool writable again" in log
        print(f"\n{last} messages numbered and stored, {dropped} dropped (counted), 0 lost")
    finally:
        for process in (sim, gateway, collector):
            process.kill()
        broker.stop()
