"""Gateway benchmark: Modbus polling throughput with 100-register blocks, in one run.

Measures, on this machine and against the same simulated devices (``facmon sim``):

1. **facmon fleet**: ``facmon gateway`` polling a fleet of 100-register devices as fast as
   its configuration allows; points/s received by an MQTT subscriber, the gateway's CPU.
2. **per connection**: facmon with one device on one connection (bounded by the config's
   minimum interval), facmon with many devices sharing one connection (the bus always
   busy), and a C floor (libmodbus, ``floor.c``) looping on one connection.
3. **thingsboard-gateway** (PyPI, its own venv under ``bench/gateway/.cache``) polling the
   same fleet, one key (and so one request) per register as its classic config requires,
   and with its 3.8 "wide range" address (``"0-99"``, one request per block).

Prints a table and writes the "Gateway" section of ``docs/benchmarks.md``.

    .venv/bin/python bench/gateway/run.py [--window 20] [--warmup 5] [--only RUN,...] [--no-doc]

With py-spy installed in the venv, it also samples the fleet gateway after its window
(``--no-profile`` skips that).

Run from the repository root (``make bench``). Every process started here is stopped at
the end, also on error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
import paho.mqtt.client as mqtt  # noqa: E402
import yaml  # noqa: E402

from bench.harness.mosquitto import MosquittoServer  # noqa: E402
from bench.harness.processes import stop as stop_process  # noqa: E402
from bench.profiling import profile_tables  # noqa: E402
from facmon.net import free_port  # noqa: E402

BIN = Path(sys.executable).parent
FACMON = str(BIN / "facmon")
REGISTERS = 100
TB_VERSION = "3.8.5"
TB_PYMODBUS = "3.9.2"  # what thingsboard-gateway 3.8.x insists on (it pip-installs it otherwise)
TB_VENV = CACHE / "tbgw-venv"
DOC = ROOT / "docs" / "benchmarks.md"
HISTORY = CACHE / "history.jsonl"
SESSION_LIMITS = {
    "maxPayloadSize": 65536,
    "maxInflightMessages": 100,
    "rateLimits": {},
    "gatewayRateLimits": {},
}

# A run during which processes outside the benchmark used more than this share of a core is
# measured once more (the quieter result is kept).
OTHERS_LIMIT = 0.25
# The fleet: ENDPOINTS serial servers x UNITS devices, each polled every FLEET_INTERVAL_S, or
# faster (down to the model's minimum) when the gateway keeps up: the fleet run must saturate.
ENDPOINTS, UNITS = 4, 10
# facmon's per-connection maximum: this many devices on one connection, each polled every
# MIN_INTERVAL_S, keep it always busy. Not more: the simulator recomputes each device's
# values twice a second, and with 100 devices that alone took a third of a core here and
# slowed its answers (the C floor talks to one device).
SHARED_UNITS = 20

CLK_TCK = os.sysconf("SC_CLK_TCK")
# Bumped when the method changes; the history table shows runs of the current method only.
METHOD = 2


def _model_minimum_interval() -> float:
    """The smallest ``interval_s`` the gateway's configuration model accepts (ge/gt bound)."""
    from gateway.config import DeviceConfig  # noqa: PLC0415 - the model may change under us

    for bound in DeviceConfig.model_fields["interval_s"].metadata:
        for attr in ("ge", "gt"):
            value = getattr(bound, attr, None)
            if value is not None:
                return float(value) if attr == "ge" else float(value) * 1.001
    return 0.001


MIN_INTERVAL_S = _model_minimum_interval()
# The fleet is polled at 0.05 s (20 polls/s per device), the brief's "enough to saturate".
FLEET_INTERVAL_S = max(0.05, MIN_INTERVAL_S)
# thingsboard-gateway collapses at FLEET_INTERVAL_S with one request per key (its polls pile
# up); at this period it keeps up with the same fleet, so this run shows its capacity (tried
# on this machine: 0.5, 0.6 and 0.8 s delivered 2,100-2,600 points/s, 1 s 4,000-4,400).
TB_INTERVAL_S = 1.0


# -- processes --------------------------------------------------------------------------------

_STARTED: list[subprocess.Popen[bytes]] = []


def spawn(
    command: list[str], log: Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``command`` with output to ``log``; remembered for :func:`stop_all`."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd or ROOT,
            env=env,
            start_new_session=True,
        )
    _STARTED.append(proc)
    return proc


def stop(proc: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """SIGTERM ``proc`` (its own process group), then SIGKILL after ``timeout`` s."""
    if proc is None:
        return
    stop_process(proc, timeout)
    if proc in _STARTED:
        _STARTED.remove(proc)


def stop_all() -> None:
    """Stop every process started here that is still running (newest first)."""
    for proc in reversed(list(_STARTED)):
        stop(proc, timeout=5)


atexit.register(stop_all)


def _on_signal(signum: int, _frame: object) -> None:
    stop_all()
    sys.exit(128 + signum)


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its descendants, all threads (from /proc/PID/stat)."""
    total = 0
    for each in descendants(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def machine_busy_seconds() -> float:
    """CPU time all cores spent busy since boot (from /proc/stat), in seconds."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def wait_quiet(limit_s: float = 60, busy_cores: float = 0.3) -> float:
    """Wait (up to ``limit_s``) until the machine is nearly idle; return the last busy level.

    Other work on the machine (a test suite, a build) takes cores from the processes under
    test; starting each run on a quiet machine keeps the figures comparable.
    """
    deadline = time.monotonic() + limit_s
    while True:
        busy0, t0 = machine_busy_seconds(), time.monotonic()
        time.sleep(1)
        level = (machine_busy_seconds() - busy0) / (time.monotonic() - t0)
        if level <= busy_cores or time.monotonic() > deadline:
            return level


def self_cpu_seconds() -> float:
    """This process's own CPU (the MQTT counter and the bench's bookkeeping)."""
    usage = os.times()
    return usage.user + usage.system


def wait_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 20) -> None:
    """Wait until 127.0.0.1:``port`` accepts connections."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}:\n{tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout} s:\n{tail(log)}")


def tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of ``path``."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return f"<no {path}>"


def log_excerpt(path: Path, lines: int = 12) -> str:
    """Lines of ``path`` that look like problems (warnings, errors, tracebacks), last first."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    keys = ("WARN", "ERROR", "CRITICAL", "Traceback", "Exception", "Error")
    expected = ("update service",)  # thingsboard-gateway's update check, sent nowhere on purpose
    bad = [
        line
        for line in text
        if any(k in line for k in keys) and not any(e in line for e in expected)
    ]
    return "\n".join(bad[-lines:])


# -- MQTT counting ----------------------------------------------------------------------------


@dataclass
class Tally:
    """What the subscriber has seen so far (read under the GIL; paho's thread writes)."""

    messages: int = 0
    data: int = 0
    points: int = 0
    seqs: list[int] = field(default_factory=list)
    devices: Counter[str] = field(default_factory=Counter)

    def snapshot(self) -> tuple[int, int, int, int]:
        return self.messages, self.data, self.points, len(self.seqs)


class Subscriber:
    """A paho client counting envelopes (facmon) or telemetry values (thingsboard-gateway)."""

    def __init__(self, port: int, topic: str, kind: str) -> None:
        self.tally = Tally()
        self.kind = kind
        self.topic = topic
        self.first = threading.Event()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-counter-{kind}-{os.getpid()}"
        )
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        if not self.subscribed.wait(10):
            raise RuntimeError(f"could not subscribe to {topic}")

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.subscribe(self.topic, qos=1)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        t = self.tally
        t.messages += 1
        try:
            body = orjson.loads(msg.payload)
        except orjson.JSONDecodeError:
            return
        if self.kind == "facmon":
            if "seq" in body:
                t.seqs.append(body["seq"])
            levels = msg.topic.split("/")
            # .../{gateway}/{device}/data; the gateway's health readings use its own id
            if levels[-1] == "data" and levels[-2] != levels[-3]:
                t.data += 1
                t.points += len(body.get("values", {}))
                t.devices[msg.topic.split("/")[-2]] += 1
                self.first.set()
        else:  # v1/gateway/telemetry: {"device": [{"ts": ms, "values": {...}}, ...], ...}
            for device, entries in body.items():
                for entry in entries if isinstance(entries, list) else [entries]:
                    values = entry.get("values", entry) if isinstance(entry, dict) else {}
                    n = sum(1 for key in values if key != "ts")
                    if n:
                        t.data += 1
                        t.points += n
                        t.devices[device] += 1
            if t.points:
                self.first.set()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class SessionLimitsResponder:
    """Answers thingsboard-gateway's ``getSessionLimits`` RPC as a ThingsBoard server would.

    Without an answer the gateway holds all telemetry back.
    """

    def __init__(self, port: int) -> None:
        self.requests = 0
        self.ready = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-tb-server-{os.getpid()}"
        )
        self.client.on_connect = lambda c, *_: c.subscribe("v1/devices/me/rpc/request/+", qos=1)
        self.client.on_subscribe = lambda *_: self.ready.set()
        self.client.on_message = self._answer
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        if not self.ready.wait(10):
            raise RuntimeError("responder could not subscribe")

    def _answer(self, client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.requests += 1
        request_id = msg.topic.rsplit("/", 1)[1]
        client.publish(
            f"v1/devices/me/rpc/response/{request_id}", json.dumps(SESSION_LIMITS), qos=1
        )

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


# -- configurations ---------------------------------------------------------------------------


def write_profile(workdir: Path) -> Path:
    """A profile of REGISTERS uint16 holding points at 0..REGISTERS-1: one read per poll.

    The values move (non-zero, changing: a realistic payload); the simulator recomputes a
    device's values at most twice a second, so its cost grows with the number of devices.
    """
    name = "bench-100"
    points = [
        {
            "name": f"r{i:03d}",
            "table": "holding",
            "address": i,
            "type": "uint16",
            "sim": {"base": 1000 + i, "amplitude": 500, "period_s": 60, "noise": 2},
        }
        for i in range(REGISTERS)
    ]
    profile = {
        "name": name,
        "vendor": "facmon bench",
        "model": f"{REGISTERS} holding registers",
        "category": "energy",
        "measurement": "bench",
        "points": points,
    }
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(profile, sort_keys=False))
    return path


@dataclass
class Fleet:
    """Simulated endpoints (ports) and the unit ids behind each."""

    ports: list[int]
    units: int

    @property
    def devices(self) -> list[tuple[int, int, int]]:
        """(endpoint index, port, unit) of every device."""
        return [(e, p, u) for e, p in enumerate(self.ports) for u in range(1, self.units + 1)]


def write_sim(workdir: Path, name: str, profile: Path, fleet: Fleet) -> Path:
    config = {
        "seed": 1,
        "endpoints": [
            {
                "host": "127.0.0.1",
                "port": port,
                "devices": [
                    {"id": f"e{e}-u{u}", "profile": str(profile), "unit": u}
                    for u in range(1, fleet.units + 1)
                ],
            }
            for e, port in enumerate(fleet.ports)
        ],
    }
    path = workdir / f"sim-{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def write_gateway(
    workdir: Path, name: str, profile: Path, fleet: Fleet, broker_url: str, interval: float
) -> Path:
    config = {
        "site": "bench",
        "gateway": f"gw-{name}",
        "uplink": {"url": broker_url},
        "buses": [
            {"id": f"bus-{e}", "host": "127.0.0.1", "port": port, "timeout_s": 1.0}
            for e, port in enumerate(fleet.ports)
        ],
        "devices": [
            {
                "id": f"e{e}-u{u}",
                "profile": str(profile),
                "bus": f"bus-{e}",
                "unit": u,
                "interval_s": interval,
            }
            for e, _port, u in fleet.devices
        ],
    }
    from gateway.config import GatewayConfig  # noqa: PLC0415

    if "spool" in GatewayConfig.model_fields:  # the default spool file is relative to the cwd
        config["spool"] = {"path": str(workdir / f"spool-{name}.db")}
    GatewayConfig.model_validate(config)  # fail here, clearly, if the model has moved on
    path = workdir / f"gateway-{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def write_tb(workdir: Path, fleet: Fleet, broker_port: int, interval: float, wide: bool) -> Path:
    """thingsboard-gateway's config folder: tb_gateway.json, modbus.json, logs.json."""
    config_dir = workdir / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    no_limit = "0:0,"
    main = {
        "thingsboard": {
            "host": "127.0.0.1",
            "port": broker_port,
            "remoteShell": False,
            "remoteConfiguration": False,
            "latencyDebugMode": False,
            "statistics": {"enable": False, "statsSendPeriodInSeconds": 3600},
            "deviceFiltering": {"enable": False},
            "maxPayloadSizeBytes": 8196,
            "minPackSendDelayMS": 50,
            "minPackSizeToSend": 500,
            "checkConnectorsConfigurationInSeconds": 3600,
            "handleDeviceRenaming": True,
            "security": {"type": "accessToken", "accessToken": "bench-token"},
            "qos": 1,
            "reportStrategy": {"type": "ON_RECEIVED"},
            "checkingDeviceActivity": {"checkDeviceInactivity": False},
            "rateLimits": no_limit,
            "dpRateLimits": no_limit,
            "messagesRateLimits": no_limit,
            "deviceMessagesRateLimits": no_limit,
            "deviceRateLimits": no_limit,
            "deviceDpRateLimits": no_limit,
        },
        "storage": {"type": "memory", "read_records_count": 100, "max_records_count": 1_000_000},
        "grpc": {"enabled": False},
        "connectors": [{"type": "modbus", "name": "Modbus", "configuration": "modbus.json"}],
    }
    if wide:
        timeseries = [
            {
                "tag": "r${address}",
                "type": "16uint",
                "functionCode": 3,
                "objectsCount": 1,
                "address": f"0-{REGISTERS - 1}",
                "maxRegistersPerRequest": REGISTERS,
            }
        ]
    else:
        timeseries = [
            {
                "tag": f"r{i:03d}",
                "type": "16uint",
                "functionCode": 3,
                "objectsCount": 1,
                "address": i,
            }
            for i in range(REGISTERS)
        ]
    slaves = [
        {
            "host": "127.0.0.1",
            "port": port,
            "type": "tcp",
            "method": "socket",
            "unitId": u,
            "deviceName": f"e{e}-u{u}",
            "deviceType": "bench",
            "timeout": 1,
            "byteOrder": "BIG",
            "wordOrder": "BIG",
            "retries": 0,
            "pollPeriod": int(interval * 1000),
            "connectAttemptTimeMs": 5000,
            "connectAttemptCount": 5,
            "waitAfterFailedAttemptsMs": 300000,
            "attributes": [],
            "timeseries": timeseries,
            "attributeUpdates": [],
            "rpc": [],
        }
        for e, port, u in fleet.devices
    ]
    logs = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "f": {"format": "%(asctime)s |%(levelname)s| %(name)s %(module)s: %(message)s"}
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "f",
                "stream": "ext://sys.stdout",
            }
        },
        "loggers": {
            name: {"handlers": ["console"], "level": "WARNING", "propagate": False}
            for name in (
                "service",
                "connector",
                "converter",
                "tb_connection",
                "storage",
                "extension",
                "database",
                "Modbus",
            )
        },
        "root": {"level": "ERROR", "handlers": ["console"]},
    }
    (config_dir / "tb_gateway.json").write_text(json.dumps(main, indent=2))
    (config_dir / "modbus.json").write_text(json.dumps({"master": {"slaves": slaves}}, indent=2))
    (config_dir / "logs.json").write_text(json.dumps(logs, indent=2))
    return config_dir


# -- installs ---------------------------------------------------------------------------------


def ensure_tb() -> Path:
    """thingsboard-gateway and the pymodbus it pins, in their own venv (gitignored)."""
    python = TB_VENV / "bin" / "python"
    probe = (
        "import importlib.metadata as m; "
        "print(m.version('thingsboard-gateway'), m.version('pymodbus'), m.version('pyserial-asyncio'))"
    )
    ok = python.exists() and subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, check=False
    ).stdout.split() == [TB_VERSION, TB_PYMODBUS, "0.6"]
    if not ok:
        print(f"installing thingsboard-gateway {TB_VERSION} into {TB_VENV} ...", flush=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(TB_VENV)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                f"thingsboard-gateway=={TB_VERSION}",
                f"pymodbus=={TB_PYMODBUS}",
                "pyserial",
                "pyserial-asyncio==0.6",
            ],
            check=True,
        )
    return TB_VENV / "bin" / "thingsboard-gateway"


def build_floor(workdir: Path) -> Path:
    """Compile floor.c against libmodbus (Debian libmodbus-dev, installed when missing)."""
    if not Path("/usr/include/modbus/modbus.h").exists():
        if os.geteuid() != 0:
            raise RuntimeError("libmodbus-dev is missing: apt-get install libmodbus-dev (as root)")
        print("installing libmodbus-dev ...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "libmodbus-dev"],
            check=True,
            env=env,
        )
    binary = workdir / "floor"
    flags = subprocess.run(
        ["pkg-config", "--cflags", "--libs", "libmodbus"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split() or ["-I/usr/include/modbus", "-lmodbus"]
    subprocess.run(
        ["gcc", "-O2", "-Wall", "-o", str(binary), str(HERE / "floor.c"), *flags], check=True
    )
    return binary


# -- phases -----------------------------------------------------------------------------------


@dataclass
class Result:
    """One measured configuration."""

    name: str
    seconds: float
    polls: int
    points: int
    cpu_s: float
    sim_cpu_s: float = 0.0
    broker_cpu_s: float = 0.0
    bench_cpu_s: float = 0.0
    other_cpu_s: float = 0.0
    offered_polls_per_s: float = 0.0
    lost: int | None = None
    devices_seen: int = 0
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def polls_per_s(self) -> float:
        return self.polls / self.seconds

    @property
    def points_per_s(self) -> float:
        return self.points / self.seconds

    @property
    def cpu_pct(self) -> float:
        return 100 * self.cpu_s / self.seconds

    @property
    def us_per_point(self) -> float:
        return 1e6 * self.cpu_s / self.points if self.points else float("nan")

    @property
    def us_per_poll(self) -> float:
        return 1e6 * self.cpu_s / self.polls if self.polls else float("nan")


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.broker = MosquittoServer(workdir / "mosquitto")
        self.profile = write_profile(workdir)
        self.results: dict[str, Result] = {}
        self.problems: list[str] = []
        self.profile_top: str = ""

    # sim ---------------------------------------------------------------------------------------
    def start_sim(self, name: str, fleet: Fleet) -> subprocess.Popen[bytes]:
        config = write_sim(self.workdir, name, self.profile, fleet)
        log = self.workdir / f"sim-{name}.log"
        proc = spawn([FACMON, "--log-level", "warning", "sim", "--config", str(config)], log)
        for port in fleet.ports:
            wait_port(port, proc, log)
        return proc

    def new_fleet(self, endpoints: int, units: int) -> Fleet:
        return Fleet([free_port() for _ in range(endpoints)], units)

    # window ------------------------------------------------------------------------------------
    def window(
        self,
        name: str,
        sub: Subscriber,
        target: subprocess.Popen[bytes],
        sim: subprocess.Popen[bytes],
        log: Path,
        seconds: float,
    ) -> Result:
        """Count what ``sub`` receives and what the processes spend over ``seconds``."""
        assert self.broker.pid is not None
        procs = {"target": target.pid, "sim": sim.pid, "broker": self.broker.pid}
        cpu0 = {k: cpu_seconds(p) for k, p in procs.items()}
        self0, busy0 = self_cpu_seconds(), machine_busy_seconds()
        t0, snap0 = time.monotonic(), sub.tally.snapshot()
        seq0 = len(sub.tally.seqs)
        time.sleep(seconds)
        t1, snap1 = time.monotonic(), sub.tally.snapshot()
        cpu1 = {k: cpu_seconds(p) for k, p in procs.items()}
        self1, busy1 = self_cpu_seconds(), machine_busy_seconds()
        ours = sum(cpu1[k] - cpu0[k] for k in procs) + self1 - self0
        if target.poll() is not None:
            self.problems.append(f"{name}: the process exited ({target.returncode}):\n{tail(log)}")
        seqs = sub.tally.seqs[seq0 : snap1[3]]
        lost = (max(seqs) - min(seqs) + 1 - len(set(seqs))) if seqs else None
        excerpt = log_excerpt(log)
        if excerpt:
            self.problems.append(f"{name}: log excerpt ({log.name}):\n{excerpt}")
        return Result(
            name=name,
            seconds=t1 - t0,
            polls=snap1[1] - snap0[1],
            points=snap1[2] - snap0[2],
            cpu_s=cpu1["target"] - cpu0["target"],
            sim_cpu_s=cpu1["sim"] - cpu0["sim"],
            broker_cpu_s=cpu1["broker"] - cpu0["broker"],
            bench_cpu_s=self1 - self0,
            other_cpu_s=max(0.0, busy1 - busy0 - ours),
            lost=lost if sub.kind == "facmon" else None,
            devices_seen=len(sub.tally.devices),
        )

    def wait_first(
        self, sub: Subscriber, proc: subprocess.Popen[bytes], log: Path, limit: float = 90
    ) -> bool:
        """Wait for the first data; False (not an error) when ``limit`` is not ``90``."""
        deadline = time.monotonic() + limit
        while not sub.first.wait(0.5):
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args} exited with {proc.returncode}:\n{tail(log)}")
            if time.monotonic() > deadline:
                if limit != 90:
                    return False
                raise RuntimeError(f"no data from {proc.args[:2]} after 90 s:\n{tail(log)}")
        return True

    # facmon ------------------------------------------------------------------------------------
    def facmon(
        self, name: str, fleet: Fleet, interval: float, seconds: float, note: str = ""
    ) -> Result:
        print(
            f"[{name}] facmon gateway: {len(fleet.devices)} device(s) on {len(fleet.ports)} "
            f"connection(s), every {interval} s; {self.args.warmup} s warm-up, {seconds} s window",
            flush=True,
        )
        sim = self.start_sim(name, fleet)
        config = write_gateway(self.workdir, name, self.profile, fleet, self.broker.url, interval)
        log = self.workdir / f"gateway-{name}.log"
        sub = Subscriber(self.broker.port, f"facmon/v1/bench/gw-{name}/#", "facmon")
        gateway = spawn(
            [FACMON, "--log-level", "warning", "gateway", "--config", str(config)],
            log,
            cwd=self.workdir,
        )
        try:
            self.wait_first(sub, gateway, log)
            time.sleep(self.args.warmup)
            result = self.window(name, sub, gateway, sim, log, seconds)
            result.note = note
            result.offered_polls_per_s = len(fleet.devices) / interval
            self.results[name] = result
            if self.args.profile and name == "facmon-fleet":
                try:
                    self.profile_top = py_spy_top(gateway.pid, self.workdir, self.args.profile_s)
                except Exception as exc:  # noqa: BLE001 - the measurement stands without it
                    self.problems.append(f"{name}: py-spy failed: {exc}")
        finally:
            size = log.stat().st_size
            stop(gateway)
            sub.close()
            stop(sim)
            self.check_shutdown(name, gateway, log, size)
        self.results[name] = result
        return result

    def check_shutdown(
        self, name: str, proc: subprocess.Popen[bytes], log: Path, offset: int
    ) -> None:
        """Report what a process logged while stopping (SIGTERM), when it looks wrong."""
        with log.open("rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
        if "Traceback" in text or proc.returncode not in (0, -signal.SIGTERM):
            lines = text.splitlines()
            shown = "\n".join(lines[:15] + (["...", *lines[-10:]] if len(lines) > 25 else []))
            shown = shown or "(nothing)"
            how = (
                "did not exit within 10 s of SIGTERM and was killed"
                if proc.returncode == -signal.SIGKILL
                else f"exited with {proc.returncode} on SIGTERM"
            )
            self.problems.append(f"{name}: it {how}; its log meanwhile:\n{shown}")

    def fleet(self) -> Result:
        """facmon on the fleet at FLEET_INTERVAL_S; faster while it keeps up (not saturated)."""
        interval = FLEET_INTERVAL_S
        result = self.facmon(
            "facmon-fleet", self.new_fleet(ENDPOINTS, UNITS), interval, self.args.window
        )
        while result.polls_per_s >= 0.95 * result.offered_polls_per_s:
            faster = max(MIN_INTERVAL_S, interval / 4)
            if faster >= interval:
                break
            # It kept up: keep that run under another name and offer more.
            kept = self.results.pop("facmon-fleet")
            kept.name = f"facmon-fleet@{interval * 1000:g}ms"
            kept.note = f"every {interval:g} s: it kept up, so offered more next"
            self.results = {kept.name: kept, **self.results}
            interval = faster
            print(f"[facmon-fleet] it kept up; again every {interval:g} s", flush=True)
            result = self.facmon(
                "facmon-fleet", self.new_fleet(ENDPOINTS, UNITS), interval, self.args.window
            )
        result.extra["interval_s"] = interval
        result.note = f"every {interval:g} s"
        return result

    # C floor -----------------------------------------------------------------------------------
    def floor(self, seconds: float) -> Result:
        print(f"[c-floor] libmodbus, one connection, {seconds} s", flush=True)
        binary = build_floor(self.workdir)
        fleet = self.new_fleet(1, 1)
        sim = self.start_sim("floor", fleet)
        try:
            sim0, t0 = cpu_seconds(sim.pid), time.monotonic()
            out = subprocess.run(
                [binary, "127.0.0.1", str(fleet.ports[0]), "1", str(seconds), "1"],
                capture_output=True,
                text=True,
                check=True,
                timeout=seconds + 30,
            )
            sim_cpu, wall = cpu_seconds(sim.pid) - sim0, time.monotonic() - t0
        finally:
            stop(sim)
        data = json.loads(out.stdout)
        if data["errors"]:
            self.problems.append(f"c-floor: {data['errors']} failed reads")
        result = Result(
            name="c-floor",
            seconds=data["seconds"],
            polls=data["polls"],
            points=data["polls"] * REGISTERS,
            cpu_s=data["cpu_s"],
            # the sim ran for the warm-up too: scale its CPU to the measured window
            sim_cpu_s=sim_cpu * data["seconds"] / wall,
            devices_seen=1,
        )
        self.results["c-floor"] = result
        return result

    # thingsboard-gateway -----------------------------------------------------------------------
    def tb(
        self,
        name: str,
        fleet: Fleet,
        interval: float,
        seconds: float,
        wide: bool,
        note: str = "",
        may_stall: bool = False,
    ) -> Result:
        how = "wide-range address, one request per block" if wide else "one request per key"
        print(
            f"[{name}] thingsboard-gateway {TB_VERSION}: {len(fleet.devices)} device(s), "
            f"every {interval} s, {how}; {self.args.warmup} s warm-up, {seconds} s window",
            flush=True,
        )
        executable = ensure_tb()
        sim = self.start_sim(name, fleet)
        tb_dir = self.workdir / name
        shutil.rmtree(tb_dir, ignore_errors=True)  # a re-run must not inherit its saved state
        config_dir = write_tb(tb_dir, fleet, self.broker.port, interval, wide)
        log = self.workdir / f"{name}.log"
        responder = SessionLimitsResponder(self.broker.port)
        sub = Subscriber(self.broker.port, "v1/gateway/telemetry", "tb")
        env = {
            **os.environ,
            "TB_GW_CONFIG_DIR": str(config_dir),
            # Its update check posts to the vendor's server: send it to a dead local proxy.
            "HTTPS_PROXY": "http://127.0.0.1:9",
            "HTTP_PROXY": "http://127.0.0.1:9",
            "NO_PROXY": "127.0.0.1,localhost",
            "PYTHONUNBUFFERED": "1",
        }
        gateway = spawn([str(executable)], log, cwd=tb_dir, env=env)
        try:
            started = time.monotonic()
            if not self.wait_first(sub, gateway, log, 15 if may_stall else 90):
                print(f"[{name}] no telemetry after 15 s; measuring anyway", flush=True)
            else:
                print(
                    f"[{name}] first telemetry after {time.monotonic() - started:.1f} s", flush=True
                )
            time.sleep(self.args.warmup)
            result = self.window(name, sub, gateway, sim, log, seconds)
            result.extra["rpc_answered"] = responder.requests
            result.note = "; ".join(filter(None, [how, note]))
            result.offered_polls_per_s = len(fleet.devices) / interval
        finally:
            size = log.stat().st_size
            stop(gateway, timeout=15)
            sub.close()
            responder.close()
            stop(sim)
            self.check_shutdown(name, gateway, log, size)
        self.results[name] = result
        return result

    # all ---------------------------------------------------------------------------------------
    def run(self) -> None:
        a = self.args
        phases = {
            "facmon-fleet": self.fleet,
            "facmon-1dev": lambda: self.facmon(
                "facmon-1dev",
                self.new_fleet(1, 1),
                MIN_INTERVAL_S,
                a.short_window,
                note=f"bounded by interval_s >= {MIN_INTERVAL_S:g}",
            ),
            "facmon-1conn": lambda: self.facmon(
                "facmon-1conn",
                self.new_fleet(1, SHARED_UNITS),
                MIN_INTERVAL_S,
                a.short_window,
                note=f"{SHARED_UNITS} devices share the connection",
            ),
            "c-floor": lambda: self.floor(a.short_window),
            "tbgw-same": lambda: self.tb(
                "tbgw-same",
                self.new_fleet(ENDPOINTS, UNITS),
                FLEET_INTERVAL_S,
                a.short_window,
                False,
                note="the fleet's config",
                may_stall=True,
            ),
            "tbgw-per-key": lambda: self.tb(
                "tbgw-per-key",
                self.new_fleet(ENDPOINTS, UNITS),
                TB_INTERVAL_S,
                a.window * 1.5,  # it publishes in bursts, one per period: a longer window
                False,
                note=f"pollPeriod {TB_INTERVAL_S * 1000:g} ms: what it sustains",
            ),
            "tbgw-wide": lambda: self.tb(
                "tbgw-wide",
                self.new_fleet(ENDPOINTS, UNITS),
                FLEET_INTERVAL_S,
                a.short_window,
                True,
            ),
        }
        wanted = a.only.split(",") if a.only else list(phases)
        if a.skip_tb:
            wanted = [w for w in wanted if not w.startswith("tbgw")]
        if a.skip_tb_wide:
            wanted = [w for w in wanted if w != "tbgw-wide"]
        self.broker.start()
        try:
            for name in wanted:
                level = wait_quiet()
                if level > 0.3:
                    note = f"{name}: the machine stayed busy ({level:.1f} cores) before the run"
                    print(f"[{name}] {note}", flush=True)
                    self.problems.append(note)
                try:
                    phases[name]()
                    first = self.results.get(name)
                    if first and first.other_cpu_s / first.seconds > OTHERS_LIMIT:
                        # Something outside the benchmark took a core: measure once more and
                        # keep the quieter of the two.
                        print(
                            f"[{name}] others used {100 * first.other_cpu_s / first.seconds:.0f} "
                            "% of a core meanwhile; measuring again",
                            flush=True,
                        )
                        wait_quiet()
                        phases[name]()
                        second = self.results[name]
                        if second.other_cpu_s / second.seconds > first.other_cpu_s / first.seconds:
                            self.results[name] = first
                except Exception as exc:  # noqa: BLE001 - report it and go on with the others
                    print(f"[{name}] FAILED: {exc}", flush=True)
                    self.problems.append(f"{name}: FAILED: {exc}")
        finally:
            self.broker.stop()


# -- profiling --------------------------------------------------------------------------------


def py_spy_top(pid: int, workdir: Path, seconds: float, top: int = 12) -> str:
    """Sample ``pid`` with py-spy for ``seconds``; the functions with the most time."""
    py_spy = shutil.which("py-spy") or str(BIN / "py-spy")
    if not Path(py_spy).exists():
        return ""
    out = workdir / "py-spy.txt"
    run = subprocess.run(
        [
            py_spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds)),
            "--format",
            "raw",
            "--output",
            str(out),
            "--rate",
            "200",
            "--nonblocking",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=seconds + 30,
    )
    if run.returncode != 0 or not out.exists():
        return f"(py-spy failed: {run.stderr.strip()[-300:]})"
    return profile_tables(
        out.read_text(),
        f"{seconds:g} s of the facmon-fleet gateway (right after its window)",
        top_own=top,
        top_inclusive=top,
    )


# -- report -----------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "gateway", "devices", "facmon"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    ).stdout.strip()
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "memory": f"{mem_kb / 1024 / 1024:.0f} GiB",
        "python": sys.version.split()[0],
        "commit": commit + (" (+ uncommitted changes)" if dirty else ""),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _fmt(value: float, digits: int = 0) -> str:
    if value != value:  # NaN
        return "-"
    return f"{value:,.{digits}f}"


def table(results: dict[str, Result]) -> list[str]:
    head = (
        "| run | devices | offered polls/s | polls/s | points/s | CPU % of a core | CPU µs/point "
        "| CPU µs/poll | sim CPU % | broker CPU % | others' CPU % | note |"
    )
    rows = [head, "|" + "---|" * 12]
    for r in results.values():
        rows.append(
            f"| {r.name} | {r.devices_seen} | {_fmt(r.offered_polls_per_s) if r.offered_polls_per_s else '-'} "
            f"| {_fmt(r.polls_per_s)} | {_fmt(r.points_per_s)} "
            f"| {_fmt(r.cpu_pct)} | {_fmt(r.us_per_point, 2)} | {_fmt(r.us_per_poll)} "
            f"| {_fmt(100 * r.sim_cpu_s / r.seconds)} | {_fmt(100 * r.broker_cpu_s / r.seconds)} "
            f"| {_fmt(100 * r.other_cpu_s / r.seconds) if r.other_cpu_s or r.name != 'c-floor' else '-'} "
            f"| {r.note} |"
        )
    return rows


def _met(ok: bool) -> str:
    return "**met**" if ok else "**NOT met**"


def verdicts(results: dict[str, Result]) -> tuple[list[str], dict[str, float]]:
    """The three targets, with numbers; and the figures kept in the run history."""
    out: list[str] = []
    figures: dict[str, float] = {}
    fleet = results.get("facmon-fleet")
    tb = results.get("tbgw-per-key")
    same = results.get("tbgw-same")
    wide = results.get("tbgw-wide")
    conn = results.get("facmon-1conn")
    floor = results.get("c-floor")
    single = results.get("facmon-1dev")
    if fleet and tb and tb.points_per_s:
        ratio = fleet.points_per_s / tb.points_per_s
        figures["throughput_ratio"] = ratio
        out.append(
            f"- **Throughput, facmon vs thingsboard-gateway** (same {fleet.devices_seen} devices, "
            f"its required one key per register, at the rate it sustains): "
            f"{_fmt(fleet.points_per_s)} / {_fmt(tb.points_per_s)} points/s = **{ratio:.1f}x** "
            f"(target ≥ 10x): {_met(ratio >= 10)}. Per point it spends "
            f"{_fmt(tb.us_per_point, 0)} µs of CPU against facmon's "
            f"{_fmt(fleet.us_per_point, 1)} µs ({tb.us_per_point / fleet.us_per_point:.0f}x)."
        )
    if fleet and same:
        text = (
            f"{same.points_per_s / fleet.points_per_s:.3f} of facmon's"
            if same.points_per_s
            else "nothing"
        )
        out.append(
            f"  - Given the fleet's configuration (each device every {FLEET_INTERVAL_S:g} s), "
            f"thingsboard-gateway delivered {_fmt(same.points_per_s)} points/s ({text}) at "
            f"{_fmt(same.cpu_pct)} % CPU: its polls pile up faster than they finish."
        )
    if fleet and wide and wide.points_per_s:
        ratio = fleet.points_per_s / wide.points_per_s
        figures["throughput_ratio_wide"] = ratio
        out.append(
            f"  - With its 3.8 wide-range address (one request per block, as facmon does; not "
            f"the one-key-per-register setup the target refers to): facmon moves {ratio:.1f}x "
            f"the points ({_fmt(wide.points_per_s)} points/s at {_fmt(wide.cpu_pct)} % CPU, "
            f"{_fmt(wide.us_per_point, 0)} µs/point)."
        )
    if fleet:
        figures["us_per_point"] = fleet.us_per_point
        out.append(
            f"- **facmon CPU per point** (fleet, {_fmt(fleet.points_per_s)} points/s at "
            f"{_fmt(fleet.cpu_pct)} % of a core): **{fleet.us_per_point:.2f} µs** (target ≤ 15): "
            f"{_met(fleet.us_per_point <= 15)}."
        )
        saturated = fleet.polls_per_s < 0.95 * fleet.offered_polls_per_s
        busy = (
            fleet.cpu_s
            + fleet.sim_cpu_s
            + fleet.broker_cpu_s
            + fleet.bench_cpu_s
            + fleet.other_cpu_s
        ) / fleet.seconds
        out.append(
            f"  - The fleet was offered {_fmt(fleet.offered_polls_per_s)} polls/s and "
            f"{'served' if not saturated else 'could serve only'} {_fmt(fleet.polls_per_s)}: "
            + (
                f"the gateway is saturated (the machine was {busy:.1f} of "
                f"{os.cpu_count()} cores busy), so this is its throughput on this machine."
                if saturated
                else "the gateway kept up, so its throughput limit is higher than this."
            )
        )
    if conn and floor and floor.polls_per_s:
        ratio = conn.polls_per_s / floor.polls_per_s
        figures["per_connection_ratio"] = ratio
        out.append(
            f"- **Per connection, facmon vs the C floor**: {_fmt(conn.polls_per_s)} / "
            f"{_fmt(floor.polls_per_s)} polls/s = **{ratio:.2f}x** (target ≥ 0.25x): "
            f"{_met(ratio >= 0.25)}. facmon spends {_fmt(conn.us_per_poll)} µs of CPU per "
            f"poll, libmodbus {_fmt(floor.us_per_poll)} µs; a poll is one request and one answer "
            f"on one connection, so the rate is bounded by the client's CPU per poll plus the "
            f"simulator's answer time."
        )
    if single and floor and floor.polls_per_s:
        ratio = single.polls_per_s / floor.polls_per_s
        figures["single_device_ratio"] = ratio
        out.append(
            f"  - One device alone on its connection is capped by the configuration "
            f"(`interval_s` ≥ {MIN_INTERVAL_S:g} s, so ≤ {1 / MIN_INTERVAL_S:.0f} polls/s): "
            f"{_fmt(single.polls_per_s)} polls/s = {ratio:.3f}x the C floor. The per-connection "
            f"figure therefore puts {SHARED_UNITS} devices on one connection."
        )
    return out, figures


def render(
    results: dict[str, Result],
    info: dict[str, str],
    args: argparse.Namespace,
    problems: list[str],
    history: list[dict[str, Any]],
    profile: str,
) -> str:
    fleet_devices = ENDPOINTS * UNITS
    lines = [
        "## Gateway",
        "",
        "Modbus polling throughput with 100-register blocks: facmon's gateway, "
        "thingsboard-gateway and a C floor, measured in one run of `make bench` "
        "(`bench/gateway/run.py`) on one machine. Each run rewrites this section.",
        "",
        "### Method",
        "",
        f"- A temporary profile of {REGISTERS} `uint16` holding points at addresses "
        f"0..{REGISTERS - 1}, so one {REGISTERS}-register read per poll. `facmon sim` serves "
        f"the devices, a local Mosquitto carries the data, and a paho subscriber counts the "
        f"values received. CPU is utime + stime from `/proc/PID/stat` (all threads and child "
        f"processes) over the measurement window; µs/point and µs/poll divide it by what the "
        f"subscriber received in that window.",
        f"- **facmon-fleet**: `facmon gateway` polls {fleet_devices} devices ({ENDPOINTS} "
        f"endpoints x {UNITS} unit ids, one connection per endpoint) every "
        f"{FLEET_INTERVAL_S:g} s; if it keeps up (serves ≥ 95 % of the polls), again with "
        f"a quarter of the interval (down to the model's minimum), so that the run "
        f"saturates it; the subscriber on "
        f"`facmon/v1/#` counts the values of each data envelope over {args.window:g} s after "
        f"{args.warmup:g} s of warm-up. The gateway runs with its defaults (disk spool).",
        f"- **facmon-1dev**: one device alone on one connection, polled every "
        f"{MIN_INTERVAL_S:g} s, the smallest `interval_s` the configuration model accepts.",
        f"- **facmon-1conn**: facmon's per-connection maximum: {SHARED_UNITS} devices behind "
        f"one endpoint, each every {MIN_INTERVAL_S:g} s, so the connection is never idle.",
        f"- **c-floor**: `bench/gateway/floor.c` (libmodbus, gcc -O2) loops "
        f"`modbus_read_registers(ctx, 0, {REGISTERS}, buf)` on one connection to one simulated "
        f"device for {args.short_window:g} s after 1 s of warm-up; CPU from getrusage. Its rate "
        f"is bounded by the Python simulator's answer time (see its sim CPU %).",
        f"- **thingsboard-gateway {TB_VERSION}** from PyPI (pymodbus {TB_PYMODBUS}, its own "
        f"venv in `bench/gateway/.cache`), Modbus connector on the same {fleet_devices} "
        f"devices, one timeseries key per register (its classic config: one Modbus request "
        f"per key), `reportStrategy` ON_RECEIVED, its telemetry published to the same "
        f"Mosquitto and counted on `v1/gateway/telemetry`. A few-line responder answers its "
        f"`getSessionLimits` RPC as a ThingsBoard server would (without an answer it holds "
        f"all telemetry back); its update check is sent to a dead local proxy.",
        f"  - **tbgw-same**: `pollPeriod` {FLEET_INTERVAL_S * 1000:g} ms, the "
        f"fleet's configuration, as in facmon's first fleet run; **tbgw-per-key**: `pollPeriod` {TB_INTERVAL_S * 1000:g} ms, which "
        f"it sustains, over a {args.window * 1.5:g} s window as it publishes in bursts (the "
        f"throughput target is measured against this one); **tbgw-wide**: "
        f"`pollPeriod` {FLEET_INTERVAL_S * 1000:g} ms with its wide-range address "
        f'(`"address": "0-{REGISTERS - 1}"`, `maxRegistersPerRequest` {REGISTERS}, tag '
        f"`r${{address}}`): one request per block, like facmon.",
        "- Everything shares the machine: the gateway under test competes for the cores with "
        "the simulator, the broker and the subscriber. *Others' CPU %* is the rest of the "
        "machine's busy time in the window (processes outside the benchmark); when it is high "
        "the figures are pessimistic.",
        "",
        "### Machine",
        "",
        f"{info['nproc']} cores ({info['cpu']}), {info['memory']} RAM, Python "
        f"{info['python']}; facmon at {info['commit']}; run {info['date']}.",
        "",
        "### Results",
        "",
        *table(results),
        "",
        "CPU % is of one core. Offered polls/s is devices ÷ interval.",
        "",
        "### Targets",
        "",
        *verdicts(results)[0],
    ]
    lost = [r for r in results.values() if r.lost]
    if lost:
        lines += [
            "",
            "Sequence gaps seen by the subscriber: "
            + ", ".join(f"{r.name} {r.lost}" for r in lost)
            + ".",
        ]
    if profile:
        lines += ["", "### Where facmon's gateway spends its CPU", "", profile]
    if len(history) > 1:
        lines += [
            "",
            "### Recent runs on this machine",
            "",
            "Full runs of `make bench` with this method (kept in "
            "`bench/gateway/.cache/history.jsonl`), for the spread; the gateway may have "
            "changed between them (see the commit).",
            "",
            "| date | commit | facmon points/s | facmon µs/point | tbgw points/s | ratio "
            "| 1conn polls/s | C floor polls/s | per-conn ratio | others' CPU % (fleet) |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        nan = float("nan")
        for h in history[-6:]:
            lines.append(
                f"| {h['date']} | {h['commit']} | {_fmt(h.get('fleet_points_per_s', nan))} "
                f"| {_fmt(h.get('us_per_point', nan), 2)} "
                f"| {_fmt(h.get('tb_points_per_s', nan))} "
                f"| {_fmt(h.get('throughput_ratio', nan), 1)} "
                f"| {_fmt(h.get('conn_polls_per_s', nan))} "
                f"| {_fmt(h.get('floor_polls_per_s', nan))} "
                f"| {_fmt(h.get('per_connection_ratio', nan), 2)} "
                f"| {_fmt(h.get('fleet_others_pct', nan))} |"
            )
    if problems:
        lines += ["", "### Problems seen during the run", "", "```", *problems, "```"]
    return "\n".join(lines) + "\n"


def write_doc(section: str) -> None:
    """Replace (or add) the "## Gateway" section of docs/benchmarks.md, keeping the others."""
    if DOC.exists():
        text = DOC.read_text()
    else:
        text = "# Benchmarks\n\nReproducible benchmarks, run by `make bench`.\n"
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == "## Gateway"), None)
    if start is None:
        new = text.rstrip("\n") + "\n\n" + section
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        rest = "".join(lines[end:])
        new = "".join(lines[:start]) + section + ("\n" + rest if rest else "")
    DOC.write_text(new)


def record_history(
    results: dict[str, Result], figures: dict[str, float], info: dict[str, str]
) -> list[dict[str, Any]]:
    """Append this run's key figures to .cache/history.jsonl; return every run's."""
    entry: dict[str, Any] = {
        "date": info["date"],
        "commit": info["commit"].split()[0],
        "method": METHOD,
        **figures,
    }
    for key, name, attr in (
        ("fleet_points_per_s", "facmon-fleet", "points_per_s"),
        ("tb_points_per_s", "tbgw-per-key", "points_per_s"),
        ("conn_polls_per_s", "facmon-1conn", "polls_per_s"),
        ("floor_polls_per_s", "c-floor", "polls_per_s"),
    ):
        if name in results:
            entry[key] = getattr(results[name], attr)
    if "facmon-fleet" in results:
        fleet = results["facmon-fleet"]
        entry["fleet_others_pct"] = 100 * fleet.other_cpu_s / fleet.seconds
    CACHE.mkdir(parents=True, exist_ok=True)
    with HISTORY.open("a") as out:
        out.write(json.dumps(entry) + "\n")
    return read_history()


def read_history() -> list[dict[str, Any]]:
    """Every full run recorded on this machine, oldest first."""
    if not HISTORY.exists():
        return []
    runs = [json.loads(line) for line in HISTORY.read_text().splitlines() if line.strip()]
    return [run for run in runs if run.get("method") == METHOD]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=20, help="fleet measurement window, s")
    parser.add_argument("--short-window", type=float, default=10, help="other windows, s")
    parser.add_argument("--warmup", type=float, default=5, help="warm-up before a window, s")
    parser.add_argument("--only", help="comma-separated runs (facmon-fleet,c-floor,...)")
    parser.add_argument("--skip-tb", action="store_true", help="skip thingsboard-gateway")
    parser.add_argument("--skip-tb-wide", action="store_true", help="skip its wide-range run")
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    parser.add_argument(
        "--no-profile",
        dest="profile",
        action="store_false",
        help="skip py-spy on the fleet gateway (it runs after the window, when installed)",
    )
    parser.add_argument("--profile-s", type=float, default=10, help="py-spy duration, s")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _on_signal)
    os.chdir(ROOT)

    workdir = Path(tempfile.mkdtemp(prefix="facmon-bench-gateway-"))
    bench = Bench(args, workdir)
    started = time.monotonic()
    try:
        bench.run()
    finally:
        stop_all()
        if args.keep:
            print(f"work folder kept: {workdir}")
    info = machine()
    results = bench.results
    print()
    print(f"machine: {info['nproc']} cores, {info['cpu']}; facmon {info['commit']}")
    print("\n".join(table(results)))
    print()
    lines, figures = verdicts(results)
    print("\n".join(lines))
    if bench.profile_top:
        print()
        print(bench.profile_top)
    if bench.problems:
        print()
        print("problems seen:")
        print("\n".join(bench.problems))
    full = not (args.only or args.skip_tb or args.skip_tb_wide)
    history = record_history(results, figures, info) if full else read_history()
    if not args.no_doc:
        write_doc(render(results, info, args, bench.problems, history, bench.profile_top))
        print(f"\nwrote the Gateway section of {DOC.relative_to(ROOT)}")
    print(f"total time {time.monotonic() - started:.0f} s")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
