"""A device that answers too slowly, and a line whose TCP connections are reset, mid-run.

Bus A reaches its devices through a proxy that resets every connection (RST) from time to
time; on bus B one device answers after its timeout. The gateway must keep polling the
others on schedule, come back on bus A after each reset, report the slow device's state,
and deliver every message it numbered.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.harness.influxdb import InfluxDBServer
from bench.harness.mosquitto import MosquittoServer
from facmon.net import free_port
from tests.faults.accounting import all_stored, spool_left
from tests.integration.processes import FacmonProcess, wait_for

pytestmark = pytest.mark.integration

INTERVAL_S = 0.5
RESETS = 3


class ResettingProxy:
    """A TCP proxy to ``target``; :meth:`reset` aborts every open connection with an RST."""

    def __init__(self, target: int) -> None:
        self.target, self.port = target, free_port()
        self.loop = asyncio.new_event_loop()
        self.clients: set[asyncio.StreamWriter] = set()
        self.resets = 0
        self.connections = 0
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        assert ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._pipe, "127.0.0.1", self.port)
        )
        ready.set()
        self.loop.run_forever()
        server.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target)
        self.clients.add(writer)
        self.connections += 1

        async def copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except OSError:
                pass
            finally:
                sink.close()

        await asyncio.gather(copy(reader, upstream_writer), copy(upstream_reader, writer))
        self.clients.discard(writer)

    def reset(self) -> None:
        """Abort every client connection: SO_LINGER 0, so the close sends RST."""

        def abort() -> None:
            for writer in list(self.clients):
                linger = struct.pack("ii", 1, 0)
                writer.get_extra_info("socket").setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, linger
                )
                writer.transport.abort()
            self.resets += 1

        self.loop.call_soon_threadsafe(abort)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def proxy_and_sim(tmp_path: Path) -> Iterator[tuple[ResettingProxy, int, FacmonProcess]]:
    sim_port = free_port()
    devices = [
        {"id": "a1", "profile": "th-sensor", "unit": 1},
        {"id": "a2", "profile": "th-sensor", "unit": 2},
        {"id": "b1", "profile": "th-sensor", "unit": 3},
        {"id": "b2", "profile": "th-sensor", "unit": 4},
    ]
    sim = FacmonProcess(
        tmp_path,
        "sim",
        {
            "endpoints": [{"port": sim_port, "devices": devices}],
            "scenario": [{"at": 0, "device": "b1", "behaviour": "slow", "delay_s": 2.0}],
        },
    ).start()
    proxy = ResettingProxy(sim_port)
    try:
        yield proxy, sim_port, sim
    finally:
        sim.kill()
        proxy.close()


def test_reset_connections_and_a_slow_device_cost_no_message(
    tmp_path: Path,
    mosquitto: MosquittoServer,
    influxdb: InfluxDBServer,
    influx_db: str,
    proxy_and_sim: tuple[ResettingProxy, int, FacmonProcess],
) -> None:
    proxy, sim_port, _ = proxy_and_sim
    prefix = "facmon-devfaults"
    gateway = FacmonProcess(
        tmp_path,
        "gateway",
        {
            "site": "hq",
            "gateway": "gw-faults",
            "prefix": prefix,
            "uplink": {"url": mosquitto.url},
            "spool": {"path": str(tmp_path / "spool.db")},
            "offline_after": 2,
            "retry_max_s": 2,
            "health_interval_s": 1,
            "buses": [
                {"id": "a", "host": "127.0.0.1", "port": proxy.port, "timeout_s": 0.5},
                {"id": "b", "host": "127.0.0.1", "port": sim_port, "timeout_s": 0.5},
            ],
            "devices": [
                {
                    "id": d,
                    "profile": "th-sensor",
                    "bus": bus,
                    "unit": unit,
                    "interval_s": INTERVAL_S,
                }
                for d, bus, unit in [("a1", "a", 1), ("a2", "a", 2), ("b1", "b", 3), ("b2", "b", 4)]
            ],
        },
    )
    collector = FacmonProcess(
        tmp_path,
        "collector",
        {
            "id": "c-devfaults",
            "prefix": prefix,
            "broker": {"url": mosquitto.url, "client_id": f"c-{influx_db}"},
            "sink": {"kind": "influxdb", "url": influxdb.url, "database": influx_db},
            "batch_max_delay_s": 0.1,
        },
    ).start()
    try:
        wait_for(lambda: "connected to" in collector.log() or None, 30, "the collector")
        gateway.start()

        def readings(device: str) -> list[int]:
            answer = influxdb.query(
                f'SELECT "temperature" FROM "environment" WHERE "device" = \'{device}\'',
                db=influx_db,
                epoch="ms",
            )["results"][0]
            return [row[0] for s in answer.get("series", []) for row in s["values"]]

        wait_for(lambda: len(readings("a2")) >= 3 or None, 30, "bus A polled", [gateway])
        for _ in range(RESETS):
            before = len(readings("a1"))
            proxy.reset()
            wait_for(
                lambda n=before: len(readings("a1")) > n + 2 or None,
                20,
                "bus A back after a reset",
                [gateway],
            )
        time.sleep(2)
        assert gateway.stop(signal.SIGTERM) == 0

        sent = all_stored(influxdb, influx_db, tmp_path / "spool.db", collector, 30)
        assert spool_left(tmp_path / "spool.db")[1] == set()  # sent before it let go
        # The slow device never answered in time: it is reported, not waited for.
        states = influxdb.query(
            'SELECT "state", "error" FROM "facmon_states" WHERE "device" = \'b1\'',
            db=influx_db,
        )["results"][0]["series"][0]["values"]
        assert "offline" in [row[1] for row in states]
        assert any("timeout" in row[2] for row in states)
        # Its neighbour kept its schedule: no gap longer than the slow device's timeout.
        stamps = readings("b2")
        gaps = [b - a for a, b in itertools.pairwise(stamps)]
        assert max(gaps) < (INTERVAL_S + 0.5) * 1000 + 250, max(gaps)
        assert proxy.connections >= RESETS + 1  # it connected again after each reset
        log = gateway.log(10_000_000)
        assert "Traceback" not in log
        print(
            f"\n{sent} messages, {proxy.resets} resets of bus A ({proxy.connections} connections), "
            "the slow device offline; "
            f"neighbour's longest gap {max(gaps)} ms; 0 lost"
        )
    finally:
        gateway.kill()
        collector.kill()
