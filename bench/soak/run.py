"""Soak: the whole pipeline under steady load for an hour; memory growth, lag and loss.

Real Mosquitto and InfluxDB 1.x (started here on free ports, in a temporary directory),
``facmon sim`` serving N -48 V power systems (``dc-power-48v``, 54 points a reading),
``facmon gateway`` polling each every second (N is chosen so that N x 54 is about
``--rate`` points/s), ``facmon collector`` writing into InfluxDB and ``facmon api`` with
its default alert rules judging every reading. Measured:

- per process (the four facmon ones, Mosquitto and influxd as references): resident memory
  after the warm-up (60 s, or a tenth of a short run) and at the end, its growth in MiB and
  in MiB/hour, and CPU time (``/proc/<pid>/status`` and ``/proc/<pid>/stat``);
- the collector's lag, now minus the time of the newest reading stored in InfluxDB,
  sampled every minute: p50 and max;
- loss: the gateway is stopped with SIGTERM (it commits what it holds to its spool), the
  collector is given time to drain, then the distinct ``facmon_seq`` values stored are
  counted against the highest seq the gateway handed out (its spool's counter). Messages
  still in the spool are not lost (the next start sends them) and are shown apart; the
  gateway's own ``dropped`` comes from its last ``gateway_health`` point.

Prints a progress line every minute and a table at the end (also on Ctrl-C, then for the
part that ran), writes the figures as JSON, and exits 1 if a reading was lost (or dropped
by the gateway) or a facmon process died, else 0.

    .venv/bin/python bench/soak/run.py [--seconds 3600] [--rate 5000] [--json PATH]
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import math
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from api.registry.tokens import new_token  # noqa: E402
from devices.library import resolve_profile  # noqa: E402
from devices.profile import Profile  # noqa: E402
from tests.integration.services import (  # noqa: E402
    InfluxDBError,
    InfluxDBServer,
    MosquittoServer,
    free_port,
    quote_identifier,
)

PROFILE = "dc-power-48v"
INTERVAL_S = 1.0
UNITS_PER_ENDPOINT = 200  # one simulated serial server holds at most 247 unit ids
CONNECTIONS = 4  # per endpoint, as in bench/alerts
SITE, GATEWAY = "hq", "gw-soak"
DATABASE = "facmon"
HEALTH_MEASUREMENT = "gateway_health"
WARMUP_S = 60.0
STARTUP_LIMIT_S = 90.0
DRAIN_LIMIT_S = 120.0
DRAIN_QUIET_S = 10.0
FACMON = ("sim", "gateway", "collector", "api")
REFERENCES = ("mosquitto", "influxd")
CLK_TCK = os.sysconf("SC_CLK_TCK")
DEFAULT_JSON = ROOT / "bench" / "soak" / "last.json"


# -- processes --------------------------------------------------------------------------------


class DetachedMosquitto(MosquittoServer):
    """Mosquitto in a session of its own: the terminal's Ctrl-C reaches only this script."""

    def _command(self) -> list[str]:
        return ["setsid", *super()._command()]  # not a group leader: setsid execs in place


class DetachedInfluxDB(InfluxDBServer):
    """influxd in a session of its own: the terminal's Ctrl-C reaches only this script."""

    def _command(self) -> list[str]:
        return ["setsid", *super()._command()]


_STARTED: list[subprocess.Popen[bytes]] = []


def spawn(command: str, config: Path, log: Path, level: str = "warning") -> subprocess.Popen[bytes]:
    """Start ``facmon <command>`` in its own session, output to ``log``."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "facmon",
                "--log-level",
                level,
                command,
                "--config",
                str(config),
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=config.parent,
            start_new_session=True,
        )
    _STARTED.append(proc)
    return proc


def stop(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    """SIGTERM ``proc``, SIGKILL after ``timeout`` s; return its exit status."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if proc in _STARTED:
        _STARTED.remove(proc)
    return proc.returncode


@atexit.register
def _stop_all() -> None:
    for proc in reversed(list(_STARTED)):
        stop(proc, timeout=5)


def _terminate(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM is taken like Ctrl-C: stop, count, report


@dataclass(frozen=True, slots=True)
class Usage:
    """A process's resident memory (KiB) and CPU time (user + system, s) at one moment."""

    rss_kib: int
    cpu_s: float


def usage(pid: int) -> Usage | None:
    """Read ``pid``'s usage from /proc; ``None`` once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rss = next(
        (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0
    )
    fields = stat.rsplit(")", 1)[1].split()
    return Usage(rss, (int(fields[11]) + int(fields[12])) / CLK_TCK)


def listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of ``path``."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return f"<no {path}>"


# -- the run ----------------------------------------------------------------------------------


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


@dataclass(slots=True)
class Outcome:
    """Everything the report is made of."""

    seconds: float
    rate: float
    devices: int
    points: int
    interrupted: bool = False
    started: bool = False
    samples: list[Sample] = field(default_factory=list)
    baseline: Sample | None = None
    end: Sample | None = None
    loss: Loss = field(default_factory=Loss)
    readings_stored: int = 0
    readings_span_s: float = 0.0
    gateway_health: dict[str, Any] = field(default_factory=dict)
    alerts: dict[str, Any] | None = None
    died: dict[str, str] = field(default_factory=dict)
    run_s: float = 0.0


def reading_points(profile: Profile) -> int:
    """Values in one reading of ``profile``: one per point, one per flag of a bitfield."""
    return sum(len(p.flags) if p.type.value == "bitfield" else 1 for p in profile.points)


class Soak:
    """The servers, the four facmon processes and their configuration for one soak."""

    def __init__(
        self, work: Path, broker: MosquittoServer, influx: InfluxDBServer, devices: int
    ) -> None:
        """Write the configurations; nothing starts until :meth:`start`."""
        self.work, self.broker, self.influx = work, broker, influx
        self.token = new_token()
        self.api_port = free_port()
        self.measurement = resolve_profile(PROFILE).measurement
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.stopped: set[str] = set()
        self.unclean: dict[str, str] = {}
        """Processes that did not exit cleanly when stopped, with their last words."""
        self.sim_ports: list[int] = []
        endpoints = []
        buses = []
        gateway_devices = []
        for first in range(0, devices, UNITS_PER_ENDPOINT):
            port, bus = free_port(), f"bus{first // UNITS_PER_ENDPOINT}"
            self.sim_ports.append(port)
            units = range(1, min(UNITS_PER_ENDPOINT, devices - first) + 1)
            endpoints.append(
                {
                    "port": port,
                    "devices": [
                        {"id": f"p{first + u}", "profile": PROFILE, "unit": u} for u in units
                    ],
                }
            )
            buses.append({"id": bus, "host": "127.0.0.1", "port": port, "connections": CONNECTIONS})
            gateway_devices += [
                {
                    "id": f"p{first + u}",
                    "profile": PROFILE,
                    "bus": bus,
                    "unit": u,
                    "interval_s": INTERVAL_S,
                }
                for u in units
            ]
        configs: dict[str, dict[str, Any]] = {
            "sim": {"seed": 1, "endpoints": endpoints},
            "gateway": {
                "site": SITE,
                "gateway": GATEWAY,
                "uplink": {"url": broker.url},
                "spool": {"path": str(work / "spool.db")},
                "health_interval_s": 10,
                "buses": buses,
                "devices": gateway_devices,
            },
            "collector": {
                "id": "soak",
                "broker": {"url": broker.url},
                "sink": {"kind": "influxdb", "url": influx.url, "database": DATABASE},
            },
            "api": {
                "port": self.api_port,
                "broker": {"url": broker.url},
                "store": {"kind": "influxdb", "url": influx.url, "database": DATABASE},
                "database": f"sqlite:///{work / 'registry.db'}",
                "bootstrap_token": self.token,
            },
        }
        for name, config in configs.items():
            (work / f"{name}.yaml").write_text(yaml.safe_dump(config))

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
        self.procs["collector"] = spawn(
            "collector", self.work / "collector.yaml", self.log("collector"), "info"
        )
        while "connected to" not in self.log("collector").read_text(errors="replace"):
            self._check_alive(deadline)
            time.sleep(0.1)
        for name in ("api", "sim"):
            self.procs[name] = spawn(name, self.work / f"{name}.yaml", self.log(name))
        for port in self.sim_ports:  # the gateway's first polls must not find it closed
            while not listening(port):
                self._check_alive(deadline)
                time.sleep(0.1)
        self.procs["gateway"] = spawn("gateway", self.work / "gateway.yaml", self.log("gateway"))
        while self.newest_reading_ms() is None:
            self._check_alive(deadline)
            time.sleep(0.5)

    def _check_alive(self, deadline: float) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
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

    def _series(self, query: str) -> list[dict[str, Any]]:
        try:
            result = self.influx.query(query, db=DATABASE, epoch="ms")
        except (InfluxDBError, OSError):
            return []
        series: list[dict[str, Any]] = result["results"][0].get("series", [])
        return series

    def _where(self) -> str:
        return f"WHERE gateway = '{GATEWAY}'"

    def newest_reading_ms(self) -> int | None:
        """Time of the newest reading stored (epoch ms), ``None`` before the first."""
        series = self._series(
            f"SELECT last(facmon_seq) FROM {quote_identifier(self.measurement)} {self._where()}"
        )
        return int(series[0]["values"][0][0]) if series else None

    def distinct_seqs(self) -> int:
        """Distinct ``facmon_seq`` values stored from this gateway (a seq is in one measurement)."""
        series = self._series(f"SELECT count(distinct(facmon_seq)) FROM /.*/ {self._where()}")
        return sum(int(s["values"][0][1]) for s in series)

    def stored_among(self, seqs: set[int]) -> int:
        """How many of ``seqs`` are stored."""
        if not seqs:
            return 0
        series = self._series(
            f"SELECT distinct(facmon_seq) FROM /.*/ {self._where()} AND facmon_seq >= {min(seqs)}"
        )
        return len({int(row[1]) for s in series for row in s["values"]} & seqs)

    def highest_stored_seq(self) -> int:
        """The highest ``facmon_seq`` stored from this gateway."""
        series = self._series(f"SELECT max(facmon_seq) FROM /.*/ {self._where()}")
        return max((int(s["values"][0][1]) for s in series), default=0)

    def readings_stored(self) -> tuple[int, float]:
        """Readings of the simulated devices stored, and the seconds they span (poll to poll)."""
        source = f"{quote_identifier(self.measurement)} {self._where()}"
        count = self._series(f"SELECT count(facmon_seq) FROM {source}")
        first = self._series(f"SELECT first(facmon_seq) FROM {source}")
        newest = self.newest_reading_ms()
        if not count or not first or newest is None:
            return 0, 0.0
        span_ms = newest - int(first[0]["values"][0][0])
        return int(count[0]["values"][0][1]), span_ms / 1000 + INTERVAL_S

    def gateway_health(self) -> dict[str, Any]:
        """The gateway's last ``gateway_health`` point."""
        series = self._series(
            f"SELECT * FROM {HEALTH_MEASUREMENT} {self._where()} ORDER BY time DESC LIMIT 1"
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
        status = stop(self.procs[name])
        if status not in (0, -signal.SIGTERM):
            self.unclean[name] = f"exit status {status} after SIGTERM\n{tail(self.log(name))}"

    def count_loss(self) -> Loss:
        """Read the spool's counters, wait for the collector to drain, count what is stored."""
        loss = Loss()
        spooled: set[int] = set()
        spool = self.work / "spool.db"
        if spool.exists():
            with contextlib.closing(sqlite3.connect(spool)) as db:
                counters = dict(db.execute("SELECT name, value FROM counters"))
                for (payload,) in db.execute("SELECT payload FROM outbox"):
                    seq = orjson.loads(payload).get("seq")
                    if seq is not None:
                        spooled.add(int(seq))
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


def soak(outcome: Outcome, soaked: Soak, every: float) -> None:
    """Run for ``outcome.seconds``; sample usage, lag and progress every ``every`` s."""
    warmup = min(WARMUP_S, outcome.seconds / 10)
    soaked.start()
    outcome.started = True
    t0 = time.monotonic()
    outcome.samples.append(soaked.sample(0.0, lag=False))
    print(f"[{clock(0)}] pipeline up; warm-up {warmup:g} s", flush=True)
    next_sample = every
    try:
        while True:
            at = time.monotonic() - t0
            due = min(
                next_sample, outcome.seconds, warmup if outcome.baseline is None else math.inf
            )
            if at < due:
                time.sleep(min(due - at, 1.0))
                if soaked.died():
                    break
                continue
            if outcome.baseline is None and at >= warmup:
                outcome.baseline = soaked.sample(at, lag=False)
            if at >= outcome.seconds:
                break
            if at >= next_sample:
                outcome.samples.append(soaked.sample(at, lag=True))
                print(progress(outcome, outcome.samples[-1]), flush=True)
                next_sample += every
    finally:
        outcome.run_s = time.monotonic() - t0
        outcome.end = soaked.sample(outcome.run_s, lag=True)
        outcome.samples.append(outcome.end)
        print(progress(outcome, outcome.end), flush=True)


def finish(outcome: Outcome, soaked: Soak) -> None:
    """Stop the gateway, count the loss, gather the last figures, stop the rest."""
    outcome.died = soaked.died()
    if outcome.started:
        outcome.alerts = soaked.alerts()  # before the gateway goes: its devices fall silent
    soaked.stop("gateway")  # it commits what it holds to its spool on the way out
    if outcome.started:
        print(f"[{clock(outcome.run_s)}] gateway stopped; waiting for the collector to drain")
        outcome.loss = soaked.count_loss()
        outcome.readings_stored, outcome.readings_span_s = soaked.readings_stored()
        outcome.gateway_health = soaked.gateway_health()
    outcome.died |= soaked.died()
    for name in ("api", "collector", "sim"):
        soaked.stop(name)
    outcome.died |= soaked.unclean


# -- the report -------------------------------------------------------------------------------


def clock(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``)."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def progress(outcome: Outcome, now: Sample) -> str:
    """One line: the lag, each process's memory and CPU since the previous sample."""
    before = outcome.samples[-2] if len(outcome.samples) > 1 else None
    parts = []
    for name, used in now.usage.items():
        if used is None:
            parts.append(f"{name} gone")
            continue
        earlier = before.usage.get(name) if before else None
        cpu = ""
        if before is not None and earlier is not None and now.at > before.at:
            cpu = f" {100 * (used.cpu_s - earlier.cpu_s) / (now.at - before.at):.0f}%"
        parts.append(f"{name} {used.rss_kib / 1024:.0f} MiB{cpu}")
    lag = "?" if now.lag_s is None else f"{now.lag_s:.1f} s"
    return f"[{clock(now.at)}] lag {lag} | " + ", ".join(parts)


def figures(outcome: Outcome) -> dict[str, Any]:
    """The figures of the report, as JSON-ready data."""
    start = outcome.baseline or (outcome.samples[0] if outcome.samples else None)
    end = outcome.end
    processes: dict[str, dict[str, float | None]] = {}
    for name in (*FACMON, *REFERENCES):
        first = start.usage.get(name) if start else None
        last = end.usage.get(name) if end else None
        row: dict[str, float | None] = dict.fromkeys(
            ("rss_start_mib", "rss_end_mib", "growth_mib", "growth_mib_h", "cpu_s", "cpu_pct")
        )
        if first is not None:
            row["rss_start_mib"] = first.rss_kib / 1024
        if last is not None:
            row["rss_end_mib"] = last.rss_kib / 1024
            row["cpu_s"] = last.cpu_s
        if first is not None and last is not None and start and end and end.at > start.at:
            span = end.at - start.at
            growth = (last.rss_kib - first.rss_kib) / 1024
            row["growth_mib"], row["growth_mib_h"] = growth, growth * 3600 / span
            row["cpu_pct"] = 100 * (last.cpu_s - first.cpu_s) / span
        processes[name] = row
    lags = sorted(s.lag_s for s in outcome.samples if s.lag_s is not None)
    return {
        "run": {
            "seconds_asked": outcome.seconds,
            "seconds_run": round(outcome.run_s, 1),
            "interrupted": outcome.interrupted,
            "rate_asked": outcome.rate,
            "devices": outcome.devices,
            "points_per_reading": outcome.points,
            "offered_points_s": outcome.devices * outcome.points / INTERVAL_S,
            "stored_points_s": (
                outcome.readings_stored * outcome.points / outcome.readings_span_s
                if outcome.readings_span_s
                else 0
            ),
            "readings_stored": outcome.readings_stored,
            "memory_from_s": round(start.at, 1) if start else None,
            "warmed_up": outcome.baseline is not None,
            "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "cores": os.cpu_count(),
        },
        "processes": processes,
        "lag_s": {
            "samples": len(lags),
            "p50": statistics.median(lags) if lags else None,
            "max": lags[-1] if lags else None,
            "series": [[round(s.at, 1), s.lag_s] for s in outcome.samples if s.lag_s is not None],
        },
        "loss": asdict(outcome.loss),
        "gateway_health": outcome.gateway_health,
        "alerts": outcome.alerts,
        "died": outcome.died,
        "passed": passed(outcome),
    }


def passed(outcome: Outcome) -> bool:
    """No reading lost (the count was made) or dropped by the gateway, no facmon process died.

    A message the gateway drops before spooling it never gets a seq: only its own
    ``dropped`` tells.
    """
    dropped = int(outcome.gateway_health.get("dropped") or 0) + outcome.loss.spool_dropped
    return outcome.started and outcome.loss.lost == 0 and dropped == 0 and not outcome.died


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def alerts(raised: dict[str, Any] | None) -> str:
    """``2 alert(s) raised (comm-loss 2), first: ...``, or that the API did not answer."""
    if raised is None:
        return "the API did not answer"
    text = f"{raised['total']} alert(s) raised"
    if raised["total"]:
        rules = ", ".join(f"{rule} {n}" for rule, n in sorted(raised["by_rule"].items()))
        text += f" ({rules}); first: " + "; ".join(raised["first"])
    return text


def report(data: dict[str, Any]) -> str:
    """The readable table."""
    run, loss, lag, health = data["run"], data["loss"], data["lag_s"], data["gateway_health"]
    state = "interrupted after" if run["interrupted"] else "ran"
    lines = [
        "",
        f"facmon soak: {state} {run['seconds_run']:.0f} s of {run['seconds_asked']:g} s; "
        f"{run['devices']} {PROFILE} devices x {run['points_per_reading']} points every "
        f"{INTERVAL_S:g} s = {run['offered_points_s']:,.0f} points/s offered, "
        f"{run['stored_points_s']:,.0f} points/s stored ({run['readings_stored']:,} readings)",
        "",
        f"{'process':<10} {'RSS start':>10} {'RSS end':>10} {'growth':>10} {'growth':>10} "
        f"{'CPU':>9} {'CPU':>7}",
        f"{'':<10} {'MiB':>10} {'MiB':>10} {'MiB':>10} {'MiB/h':>10} {'s':>9} {'% core':>7}",
    ]
    for name, row in data["processes"].items():
        lines.append(
            f"{name:<10} {_num(row['rss_start_mib'], '.1f'):>10} {_num(row['rss_end_mib'], '.1f'):>10}"
            f" {_num(row['growth_mib'], '+.1f'):>10} {_num(row['growth_mib_h'], '+.1f'):>10}"
            f" {_num(row['cpu_s'], '.1f'):>9} {_num(row['cpu_pct'], '.0f'):>7}"
        )
    memory_from = run["memory_from_s"]
    lines += [
        "",
        f"memory from {_num(memory_from, '.0f')} s "
        f"({'after the warm-up' if run['warmed_up'] else 'warm-up not reached'}) "
        f"to {run['seconds_run']:.0f} s; CPU s since each process started, % core over that span",
        f"collector lag (now - newest stored reading), {lag['samples']} samples: "
        f"p50 {_num(lag['p50'], '.2f')} s, max {_num(lag['max'], '.2f')} s",
        f"loss: highest seq {loss['expected']:,}, stored {loss['stored']:,} distinct, "
        f"still in the gateway's spool {loss['in_spool']:,}, "
        f"LOST {_num(loss['lost'], ',')} (drained in {loss['drain_s']:.1f} s)",
        f"gateway (last gateway_health): dropped {health.get('dropped', '-')}, "
        f"overruns {health.get('overruns', '-')}, errors {health.get('errors', '-')}, "
        f"spool_depth {health.get('spool_depth', '-')}; spool's drop counter at exit "
        f"{loss['spool_dropped']}",
        f"api (default rules): {alerts(data['alerts'])}",
    ]
    for name, why in data["died"].items():
        lines.append(f"process failed: {name}: {why}")
    lines += [f"result: {'PASS' if data['passed'] else 'FAIL'}", ""]
    return "\n".join(lines)


def main() -> int:
    """Run the soak; 1 if a reading was lost or dropped or a facmon process died, else 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3600, help="length of the run")
    parser.add_argument("--rate", type=float, default=5000, help="points per second offered")
    parser.add_argument(
        "--every", type=float, default=60, help="seconds between progress lines and lag samples"
    )
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where the figures go")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _terminate)
    points = reading_points(resolve_profile(PROFILE))
    devices = max(1, round(args.rate * INTERVAL_S / points))
    outcome = Outcome(args.seconds, args.rate, devices, points)
    print(
        f"soak: {devices} x {PROFILE} ({points} points) every {INTERVAL_S:g} s, "
        f"{args.seconds:g} s; Ctrl-C stops early and still reports",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="facmon-soak-") as tmp:
        work = Path(tmp)
        try:
            with DetachedMosquitto(work / "mq") as broker, DetachedInfluxDB(work / "db") as influx:
                soaked = Soak(work, broker, influx, devices)
                try:
                    soak(outcome, soaked, args.every)
                except KeyboardInterrupt:
                    outcome.interrupted = True
                    print("\ninterrupted: stopping and counting (Ctrl-C again skips that)")
                finally:
                    finish(outcome, soaked)
        except KeyboardInterrupt:  # while the servers started, or a second one while finishing
            outcome.interrupted = True
            _stop_all()
        except RuntimeError as exc:
            print(f"soak could not start: {exc}", file=sys.stderr)
    data = figures(outcome)
    print(report(data))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(data, indent=2) + "\n")
    print(f"figures written to {args.json}")
    return 0 if data["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
