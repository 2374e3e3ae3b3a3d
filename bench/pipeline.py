"""The whole facmon pipeline on real Mosquitto and InfluxDB, for the soak and end-to-end benches.

Mosquitto and InfluxDB 1.x come from :mod:`bench.harness` (each in a session of its own, so
that the terminal's Ctrl-C reaches only the benchmark); ``facmon sim`` serves
the simulated Modbus devices, ``facmon gateway`` polls them, ``facmon collector`` stores the
readings in InfluxDB and ``facmon api`` judges every reading with its alert rules.
:class:`Pipeline` writes their configurations, starts and stops them, reads each process's
memory and CPU from ``/proc`` and counts what reached InfluxDB by ``facmon_seq``.

The caller puts the repository root on ``sys.path`` before importing this module.
"""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml

from api.registry.tokens import new_token
from bench.harness.influxdb import InfluxDBError, InfluxDBServer, quote_identifier
from bench.harness.mosquitto import MosquittoServer
from bench.harness.processes import Usage, listening, spawn, stop, tail, usage
from devices.library import resolve_profile
from devices.profile import Profile
from facmon.net import free_port

INTERVAL_S = 1.0
UNITS_PER_ENDPOINT = 200  # one simulated serial server holds at most 247 unit ids
CONNECTIONS = 4  # per endpoint, as in bench/alerts
SITE = "hq"
DATABASE = "facmon"
HEALTH_MEASUREMENT = "gateway_health"
STARTUP_LIMIT_S = 90.0
DRAIN_LIMIT_S = 120.0
DRAIN_QUIET_S = 10.0
FACMON = ("sim", "gateway", "collector", "api")
REFERENCES = ("mosquitto", "influxd")


# -- the facmon processes ---------------------------------------------------------------------


def spawn_facmon(
    command: str, config: Path, log: Path, level: str = "warning"
) -> subprocess.Popen[bytes]:
    """Start ``facmon <command>`` in its own session, output to ``log``."""
    argv = [
        sys.executable,
        "-m",
        "launcher",
        "--log-level",
        level,
        command,
        "--config",
        str(config),
    ]
    return spawn(argv, log, cwd=config.parent)


def reading_points(profile: Profile) -> int:
    """Values in one reading of ``profile``: one per point, one per flag of a bitfield."""
    return sum(len(p.flags) if p.type.value == "bitfield" else 1 for p in profile.points)


# -- the fleet --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Simulated:
    """One simulated Modbus device: its id, its profile and its unit id on its endpoint."""

    id: str
    profile: str
    unit: int


Endpoints = list[list["Simulated"]]
"""The devices behind each simulated endpoint (one gateway bus each)."""


def filled(profile: str, count: int, per_endpoint: int = UNITS_PER_ENDPOINT) -> Endpoints:
    """``count`` devices ``p1``, ``p2``... of ``profile``, filling one endpoint after the other
    with up to ``per_endpoint`` unit ids (from 1)."""
    return [
        [
            Simulated(f"p{first + unit}", profile, unit)
            for unit in range(1, min(per_endpoint, count - first) + 1)
        ]
        for first in range(0, count, per_endpoint)
    ]


def spread(profile: str, count: int, endpoints: int, prefix: str = "p") -> Endpoints:
    """``count`` devices ``p0``, ``p1``... of ``profile`` dealt round the ``endpoints`` like
    cards: device n on endpoint n mod ``endpoints``, unit n div ``endpoints`` + 1. The first
    k devices are then spread evenly too, whatever k."""
    dealt: Endpoints = [[] for _ in range(endpoints)]
    for n in range(count):
        dealt[n % endpoints].append(Simulated(f"{prefix}{n}", profile, n // endpoints + 1))
    return dealt


def first(endpoints: Endpoints, count: int) -> Endpoints:
    """The devices of a :func:`spread` fleet numbered below ``count``, on the same endpoints."""
    dealt = len(endpoints)
    return [devices[: max(0, -(-(count - e) // dealt))] for e, devices in enumerate(endpoints)]


# -- the pipeline -----------------------------------------------------------------------------


@dataclass(slots=True)
class Sample:
    """What was measured at ``at`` seconds into the run."""

    at: float
    usage: dict[str, Usage | None]
    lag_s: float | None = None


@dataclass(slots=True)
class Loss:
    """The end-to-end count of readings: seq handed out against seq stored."""

    expected: int = 0
    stored: int = 0
    in_spool: int = 0
    lost: int | None = None
    spool_dropped: int = 0
    drain_s: float = 0.0


class Pipeline:
    """The servers, the four facmon processes and their configuration for one run.

    ``endpoints`` are what the simulator serves; ``polled`` (all of them when not given) what
    the gateway polls, every ``interval_s``, ``connections`` TCP connections per endpoint.
    ``rules`` are alert rules files the API reads after its defaults. ``measurement`` is
    where :meth:`newest_reading_ms` looks (the first device's, when not given). A process
    still running ``stop_timeout_s`` after its SIGTERM is killed (and noted in :attr:`unclean`).
    """

    def __init__(
        self,
        work: Path,
        broker: MosquittoServer,
        influx: InfluxDBServer,
        endpoints: Endpoints,
        *,
        gateway: str,
        name: str,
        polled: Endpoints | None = None,
        rules: Sequence[Path] = (),
        measurement: str | None = None,
        interval_s: float = INTERVAL_S,
        connections: int = CONNECTIONS,
        stop_timeout_s: float = 30.0,
    ) -> None:
        """Write the configurations; nothing starts until :meth:`start`."""
        self.work, self.broker, self.influx = work, broker, influx
        self.gateway, self.interval_s, self.connections = gateway, interval_s, connections
        self.stop_timeout_s = stop_timeout_s
        self.token = new_token()
        self.api_port = free_port()
        self.measurement = measurement or resolve_profile(endpoints[0][0].profile).measurement
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.stopped: set[str] = set()
        self.unclean: dict[str, str] = {}
        """Processes that did not exit cleanly when stopped, with their last words."""
        self.sim_ports = [free_port() for _ in endpoints]
        sim_endpoints = [
            {
                "port": port,
                "devices": [{"id": d.id, "profile": d.profile, "unit": d.unit} for d in devices],
            }
            for port, devices in zip(self.sim_ports, endpoints, strict=True)
        ]
        api: dict[str, Any] = {
            "port": self.api_port,
            "broker": {"url": broker.url},
            "store": {"kind": "influxdb", "url": influx.url, "database": DATABASE},
            "database": f"sqlite:///{work / 'registry.db'}",
            "bootstrap_token": self.token,
        }
        if rules:
            api["alerts"] = {"rules": [str(path) for path in rules]}
        configs: dict[str, dict[str, Any]] = {
            "sim": {"seed": 1, "endpoints": sim_endpoints},
            "collector": {
                "id": name,
                "broker": {"url": broker.url},
                "sink": {"kind": "influxdb", "url": influx.url, "database": DATABASE},
            },
            "api": api,
        }
        for config_name, config in configs.items():
            (work / f"{config_name}.yaml").write_text(yaml.safe_dump(config))
        self.poll(endpoints if polled is None else polled)

    def poll(self, polled: Endpoints) -> None:
        """(Re)write the gateway's configuration: it polls ``polled`` (from its next start)."""
        buses, devices = [], []
        for index, (port, behind) in enumerate(zip(self.sim_ports, polled, strict=False)):
            if not behind:
                continue
            bus = f"bus{index}"
            buses.append(
                {"id": bus, "host": "127.0.0.1", "port": port, "connections": self.connections}
            )
            devices += [
                {
                    "id": d.id,
                    "profile": d.profile,
                    "bus": bus,
                    "unit": d.unit,
                    "interval_s": self.interval_s,
                }
                for d in behind
            ]
        config = {
            "site": SITE,
            "gateway": self.gateway,
            "uplink": {"url": self.broker.url},
            "spool": {"path": str(self.work / "spool.db")},
            "health_interval_s": 10,
            "buses": buses,
            "devices": devices,
        }
        (self.work / "gateway.yaml").write_text(yaml.safe_dump(config))

    def pids(self) -> dict[str, int | None]:
        """Every measured process's pid (``None`` when not running)."""
        pids: dict[str, int | None] = {
            name: proc.pid if proc.poll() is None else None
            for name in FACMON
            if (proc := self.procs.get(name)) is not None
        }
        pids.update(mosquitto=self.broker.pid, influxd=self.influx.pid)
        return pids

    def log(self, name: str) -> Path:
        """Where ``name``'s output goes."""
        return self.work / f"{name}.log"

    def start(self) -> None:
        """Start the collector (subscribed before anything is published), the API, the
        simulator and the gateway; return once readings reach InfluxDB.

        Raises:
            RuntimeError: a process exited or nothing was stored within the startup limit.
        """
        self.influx.create_database(DATABASE)
        deadline = time.monotonic() + STARTUP_LIMIT_S
        # Info level: the collector logs "connected" once the broker has granted its
        # subscription; a message published before that would never reach it.
        self.procs["collector"] = spawn_facmon(
            "collector", self.work / "collector.yaml", self.log("collector"), "info"
        )
        while "connected to" not in self.log("collector").read_text(errors="replace"):
            self._check_alive(deadline)
            time.sleep(0.1)
        for name in ("api", "sim"):
            self.procs[name] = spawn_facmon(name, self.work / f"{name}.yaml", self.log(name))
        for port in self.sim_ports:  # the gateway's first polls must not find it closed
            while not listening(port):
                self._check_alive(deadline)
                time.sleep(0.1)
        self.start_gateway()
        while self.newest_reading_ms() is None:
            self._check_alive(deadline)
            time.sleep(0.5)

    def start_gateway(self) -> None:
        """Start the gateway (again, after :meth:`stop`) with its configuration as it is now."""
        self.stopped.discard("gateway")
        self.procs["gateway"] = spawn_facmon(
            "gateway", self.work / "gateway.yaml", self.log("gateway")
        )

    def wait_for_reading(self, after_ms: int, limit_s: float = STARTUP_LIMIT_S) -> None:
        """Return once a reading newer than ``after_ms`` (epoch ms) is stored.

        Raises:
            RuntimeError: a process exited, or none came within ``limit_s``.
        """
        deadline = time.monotonic() + limit_s
        while (self.newest_reading_ms() or 0) <= after_ms:
            self._check_alive(deadline)
            time.sleep(0.2)

    def _check_alive(self, deadline: float) -> None:
        for name, proc in self.procs.items():
            if name not in self.stopped and proc.poll() is not None:
                msg = f"{name} exited with {proc.returncode} at start:\n{tail(self.log(name))}"
                raise RuntimeError(msg)
        if time.monotonic() > deadline:
            msg = f"no reading stored after {STARTUP_LIMIT_S:g} s"
            raise RuntimeError(msg)

    def died(self) -> dict[str, str]:
        """The facmon processes that exited without being asked to, with their last words."""
        return {
            name: f"exit status {proc.returncode}\n{tail(self.log(name))}"
            for name, proc in self.procs.items()
            if name not in self.stopped and proc.poll() is not None
        }

    def sample(self, at: float, lag: bool) -> Sample:
        """Usage of every process (and the collector's lag when ``lag``)."""
        measured = Sample(at, {n: usage(p) if p else None for n, p in self.pids().items()})
        if lag:
            newest = self.newest_reading_ms()
            measured.lag_s = None if newest is None else time.time() - newest / 1000
        return measured

    # -- InfluxDB ---------------------------------------------------------------------------

    def series(self, query: str) -> list[dict[str, Any]]:
        """The series ``query`` returns from the pipeline's database (none on an error)."""
        try:
            result = self.influx.query(query, db=DATABASE, epoch="ms")
        except (InfluxDBError, OSError):
            return []
        series: list[dict[str, Any]] = result["results"][0].get("series", [])
        return series

    def where(self) -> str:
        """The InfluxQL condition that selects this pipeline's gateway."""
        return f"WHERE gateway = '{self.gateway}'"

    def newest_reading_ms(self) -> int | None:
        """Time of the newest reading stored (epoch ms), ``None`` before the first."""
        series = self.series(
            f"SELECT last(facmon_seq) FROM {quote_identifier(self.measurement)} {self.where()}"
        )
        return int(series[0]["values"][0][0]) if series else None

    def distinct_seqs(self, after: int | None = None, upto: int | None = None) -> int:
        """Distinct ``facmon_seq`` values stored from this gateway (a seq is in one
        measurement), only those in (``after``, ``upto``] when given."""
        bounds = "".join(
            f" AND facmon_seq {op} {value}"
            for op, value in ((">", after), ("<=", upto))
            if value is not None
        )
        series = self.series(f"SELECT count(distinct(facmon_seq)) FROM /.*/ {self.where()}{bounds}")
        return sum(int(s["values"][0][1]) for s in series)

    def stored_among(self, seqs: set[int]) -> int:
        """How many of ``seqs`` are stored."""
        if not seqs:
            return 0
        series = self.series(
            f"SELECT distinct(facmon_seq) FROM /.*/ {self.where()} AND facmon_seq >= {min(seqs)}"
        )
        return len({int(row[1]) for s in series for row in s["values"]} & seqs)

    def highest_stored_seq(self) -> int:
        """The highest ``facmon_seq`` stored from this gateway."""
        series = self.series(f"SELECT max(facmon_seq) FROM /.*/ {self.where()}")
        return max((int(s["values"][0][1]) for s in series), default=0)

    def readings_stored(self) -> tuple[int, float]:
        """Readings of the simulated devices stored, and the seconds they span (poll to poll)."""
        source = f"{quote_identifier(self.measurement)} {self.where()}"
        count = self.series(f"SELECT count(facmon_seq) FROM {source}")
        oldest = self.series(f"SELECT first(facmon_seq) FROM {source}")
        newest = self.newest_reading_ms()
        if not count or not oldest or newest is None:
            return 0, 0.0
        span_ms = newest - int(oldest[0]["values"][0][0])
        return int(count[0]["values"][0][1]), span_ms / 1000 + self.interval_s

    def gateway_health(self) -> dict[str, Any]:
        """The gateway's last ``gateway_health`` point."""
        series = self.series(
            f"SELECT * FROM {HEALTH_MEASUREMENT} {self.where()} ORDER BY time DESC LIMIT 1"
        )
        if not series:
            return {}
        row = dict(zip(series[0]["columns"], series[0]["values"][0], strict=True))
        return {k: v for k, v in row.items() if k not in ("device", "gateway", "site")}

    # -- the end ----------------------------------------------------------------------------

    def stop(self, name: str) -> None:
        """SIGTERM ``name``; an exit other than a clean one is noted in :attr:`unclean`."""
        if name not in self.procs or name in self.stopped:
            return
        self.stopped.add(name)
        status = stop(self.procs[name], self.stop_timeout_s, self.log(name))
        if status not in (0, -signal.SIGTERM):
            self.unclean[name] = f"exit status {status} after SIGTERM\n{tail(self.log(name), 60)}"

    def spool(self) -> tuple[dict[str, int], set[int]]:
        """The stopped gateway's spool: its counters (``seq``: the highest handed out,
        ``dropped``) and the seqs still waiting in it."""
        spooled: set[int] = set()
        counters: dict[str, int] = {}
        path = self.work / "spool.db"
        if path.exists():
            with contextlib.closing(sqlite3.connect(path)) as db:
                counters = dict(db.execute("SELECT name, value FROM counters"))
                for (payload,) in db.execute("SELECT payload FROM outbox"):
                    seq = orjson.loads(payload).get("seq")
                    if seq is not None:
                        spooled.add(int(seq))
        return counters, spooled

    def count_loss(self) -> Loss:
        """Read the spool's counters, wait for the collector to drain, count what is stored."""
        loss = Loss()
        counters, spooled = self.spool()
        if counters:
            loss.expected, loss.spool_dropped = counters["seq"], counters["dropped"]
        started = time.monotonic()
        last_change, last = started, -1
        while True:
            loss.stored = self.distinct_seqs()
            unsent = len(spooled) - self.stored_among(spooled)
            now = time.monotonic()
            if loss.stored != last:
                last, last_change = loss.stored, now
            if loss.stored + unsent >= loss.expected or now - last_change > DRAIN_QUIET_S:
                break
            if now - started > DRAIN_LIMIT_S:
                break
            time.sleep(1)
        loss.drain_s = time.monotonic() - started
        loss.expected = max(loss.expected, self.highest_stored_seq())
        loss.in_spool = unsent
        loss.lost = loss.expected - loss.stored - unsent
        return loss

    def alerts(self) -> dict[str, Any] | None:
        """Alerts the API raised so far: how many, by rule, the first few (``None`` if it
        does not answer)."""
        try:
            response = httpx.get(
                f"http://127.0.0.1:{self.api_port}/api/v1/alerts",
                params={"limit": 1000},
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=10,
            )
            page = response.raise_for_status().json()
            return {
                "total": int(page["total"]),
                "by_rule": dict(Counter(str(item["rule"]) for item in page["items"])),
                "first": [f"{a['summary']} ({a['state']})" for a in page["items"][-5:][::-1]],
            }
        except (httpx.HTTPError, KeyError, ValueError):
            return None
