"""The gateway's wall clock jumps forward an hour, then back behind time it already reported.

The gateway runs under libfaketime (Debian's ``faketime``), its wall clock read from a file
the test rewrites while it runs; its monotonic clock, which schedules the polls, is left
alone, as an NTP step leaves it. Every message is counted end to end by ``seq``: each must
be a point in InfluxDB, including the readings stamped with times already reported.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from bench.harness.influxdb import InfluxDBServer
from bench.harness.mosquitto import MosquittoServer
from facmon.net import free_port
from tests.faults.accounting import all_stored, stored_seqs
from tests.integration.processes import FacmonProcess, wait_for

pytestmark = pytest.mark.integration

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")
DEVICES = 10
INTERVAL_S = 0.1


def test_a_wall_clock_set_forward_then_back_loses_no_reading(
    tmp_path: Path, mosquitto: MosquittoServer, influxdb: InfluxDBServer, influx_db: str
) -> None:
    assert LIBFAKETIME.exists(), "libfaketime is missing: run tests/setup-services.sh"
    clock = tmp_path / "clock"
    clock.write_text("+0\n")
    sim_port = free_port()
    units = [{"id": f"th-{n}", "profile": "th-sensor", "unit": n + 1} for n in range(DEVICES)]
    sim = FacmonProcess(tmp_path, "sim", {"endpoints": [{"port": sim_port, "devices": units}]})
    prefix = "facmon-clock"
    gateway = FacmonProcess(
        tmp_path,
        "gateway",
        {
            "site": "hq",
            "gateway": "gw-clock",
            "prefix": prefix,
            "uplink": {"url": mosquitto.url},
            "spool": {"path": str(tmp_path / "spool.db")},
            "health_interval_s": 1,
            "buses": [{"id": "line", "host": "127.0.0.1", "port": sim_port}],
            "devices": [
                {**u, "bus": "line", "interval_s": INTERVAL_S, "profile": "th-sensor"}
                for u in units
            ],
        },
        env={
            "LD_PRELOAD": str(LIBFAKETIME),
            "FAKETIME_TIMESTAMP_FILE": str(clock),
            "FAKETIME_NO_CACHE": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        },
    )
    collector = FacmonProcess(
        tmp_path,
        "collector",
        {
            "id": "c-clock",
            "prefix": prefix,
            "broker": {"url": mosquitto.url, "client_id": f"c-{influx_db}"},
            "sink": {"kind": "influxdb", "url": influxdb.url, "database": influx_db},
            "batch_max_delay_s": 0.1,
        },
    )
    collector.start()
    try:
        # Its subscription must exist before the first message (as in production, where
        # its session outlives it).
        wait_for(lambda: "connected to" in collector.log() or None, 30, "the collector")
        sim.start()
        gateway.start()
        wait_for(lambda: len(stored_seqs(influxdb, influx_db)) > 50 or None, 30, "first readings")
        time.sleep(2)
        clock.write_text("+3600\n")  # an hour ahead
        time.sleep(3)
        clock.write_text("-5\n")  # back, and 5 s behind: over readings already stored
        time.sleep(8)
        assert gateway.stop(signal.SIGTERM) == 0  # it flushes what it holds

        # Each numbered message is a point of its own: none overwritten by another that
        # was stamped with the same millisecond after the clock went back.
        sent = all_stored(influxdb, influx_db, tmp_path / "spool.db", collector, 30)
        answer = influxdb.query(
            'SELECT count("temperature") FROM "environment" WHERE time > now() + 30m',
            db=influx_db,
        )["results"]
        ahead = answer[0]["series"][0]["values"][0][1]
        assert ahead > DEVICES  # the readings of the hour ahead are kept where they were put
        print(f"\n{sent} messages, {ahead} readings stamped an hour ahead, 0 lost")
    finally:
        for process in (sim, gateway, collector):
            process.kill()
    assert "Traceback" not in gateway.log(1_000_000)
