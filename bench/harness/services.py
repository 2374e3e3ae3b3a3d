"""Real Mosquitto, InfluxDB 1.x and PostgreSQL processes for tests and benchmarks.

Each server runs as a child process bound to ``127.0.0.1`` on a free port,
with its configuration, data and logs kept in a caller-supplied work
directory.  The port is chosen once, in ``__init__``, so ``stop()`` followed by
``start()`` (or ``restart()``) brings the service back at the same address
with the same on-disk state.

The binaries come from the Debian packages ``mosquitto`` and ``influxdb``;
run ``tests/setup-services.sh`` to install them.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import IO, Any, ClassVar, Self

__all__ = [
    "HOST",
    "InfluxDBError",
    "InfluxDBServer",
    "MosquittoServer",
    "PostgresServer",
    "free_port",
    "quote_identifier",
]

HOST = "127.0.0.1"
"""Address every test service binds to."""

_SETUP_HINT = "install it with tests/setup-services.sh"
_POLL_INTERVAL = 0.05
_LOG_TAIL_LINES = 40

# Every process started here and not yet stopped.  Reaped at interpreter exit
# so that an aborted test session does not leave brokers or databases behind.
_LIVE_PROCESSES: set[subprocess.Popen[bytes]] = set()


def _reap_live_processes() -> None:
    """Terminate (then kill) every service process that is still running."""
    for proc in list(_LIVE_PROCESSES):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        _LIVE_PROCESSES.discard(proc)


atexit.register(_reap_live_processes)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free at the time of the call."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _find_executable(name: str, package: str) -> str:
    """Locate ``name`` on PATH or in the sbin directories (often not on PATH)."""
    found = shutil.which(name)
    if found is not None:
        return found
    for directory in ("/usr/sbin", "/usr/local/sbin", "/sbin"):
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    msg = f"{name} not found (Debian package {package!r}); {_SETUP_HINT}"
    raise FileNotFoundError(msg)


def _tail(path: Path, lines: int) -> str:
    """Return the last ``lines`` lines of ``path`` (or a note if it is absent)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return f"<{path} does not exist>"
    return "\n".join(text.splitlines()[-lines:])


class _ServiceProcess:
    """Lifecycle shared by the concrete servers: config, spawn, probe, stop."""

    name: ClassVar[str]
    start_timeout: ClassVar[float]
    stop_timeout: ClassVar[float] = 10.0
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM

    def __init__(self, workdir: Path) -> None:
        """Prepare (but do not start) a server living in ``workdir``."""
        self.workdir = Path(workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None

    # -- subclass hooks -------------------------------------------------
    @property
    def output_path(self) -> Path:
        """File receiving the process' stdout and stderr."""
        return self.workdir / f"{self.name}.out"

    def _log_paths(self) -> list[Path]:
        """Files whose tails are shown when the service fails to start."""
        return [self.output_path]

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _write_config(self) -> None:
        raise NotImplementedError

    def _is_ready(self) -> bool:
        raise NotImplementedError

    def _user(self) -> str | None:
        """The user to run as (None: this process's)."""
        return None

    # -- public API -----------------------------------------------------
    @property
    def host(self) -> str:
        """Address the service listens on."""
        return HOST

    @property
    def port(self) -> int:
        """Port the service listens on (stable across restarts)."""
        return self._port

    @property
    def pid(self) -> int | None:
        """PID of the running process, or ``None`` when stopped."""
        return self._proc.pid if self.running and self._proc is not None else None

    @property
    def running(self) -> bool:
        """Whether the process has been started and has not exited."""
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """Return the last ``lines`` lines of each of the service's log files."""
        return "\n".join(f"--- {path} ---\n{_tail(path, lines)}" for path in self._log_paths())

    def start(self) -> None:
        """Start the process and block until it serves requests.

        Does nothing if already running.  Raises ``RuntimeError`` (with the
        tail of the logs) if the process exits or is not ready in time.
        """
        if self.running:
            return
        self.stop()  # reap a process that died on its own, close its log
        self._write_config()
        command = self._command()
        self._output = self.output_path.open("ab")
        self._proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            user=self._user(),
        )
        _LIVE_PROCESSES.add(self._proc)
        deadline = time.monotonic() + self.start_timeout
        while True:
            code = self._proc.poll()
            if code is not None:
                self.stop()
                msg = (
                    f"{self.name} exited with status {code} during startup "
                    f"({' '.join(command)})\n{self.log_tail()}"
                )
                raise RuntimeError(msg)
            if self._is_ready():
                return
            if time.monotonic() > deadline:
                self.stop()
                msg = (
                    f"{self.name} not ready on {HOST}:{self.port} after "
                    f"{self.start_timeout:g} s\n{self.log_tail()}"
                )
                raise RuntimeError(msg)
            time.sleep(_POLL_INTERVAL)

    def stop(self) -> None:
        """Stop the process: SIGTERM, then SIGKILL after ``stop_timeout`` s.

        SIGTERM lets both servers shut down cleanly (Mosquitto writes its
        persistence database, InfluxDB closes its shards).  Safe to call when
        not running.
        """
        proc = self._proc
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(self.stop_signal)
                try:
                    proc.wait(timeout=self.stop_timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            _LIVE_PROCESSES.discard(proc)
            self._proc = None
        if self._output is not None:
            self._output.close()
            self._output = None

    def restart(self) -> None:
        """Stop and start again on the same port with the same data."""
        self.stop()
        self.start()

    def __enter__(self) -> Self:
        """Start the server (if needed) and return it."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()

    def __repr__(self) -> str:
        """Show the address and state, e.g. for pytest failure output."""
        state = f"pid={self.pid}" if self.running else "stopped"
        return f"<{type(self).__name__} {HOST}:{self.port} {state} {self.workdir}>"


class MosquittoServer(_ServiceProcess):
    """A Mosquitto 2.x broker with anonymous access and on-disk persistence.

    Sessions, subscriptions, retained and queued QoS 1/2 messages are written
    to ``persistence_dir`` on a clean shutdown (``stop()``) and reloaded by
    the next ``start()``.
    """

    name = "mosquitto"
    start_timeout = 15.0

    @property
    def url(self) -> str:
        """Broker URL, ``mqtt://127.0.0.1:PORT``."""
        return f"mqtt://{HOST}:{self.port}"

    @property
    def config_path(self) -> Path:
        """The generated ``mosquitto.conf``."""
        return self.workdir / "mosquitto.conf"

    @property
    def log_path(self) -> Path:
        """The broker's own log file (``log_dest file``)."""
        return self.workdir / "mosquitto.log"

    @property
    def persistence_dir(self) -> Path:
        """Directory holding ``mosquitto.db``."""
        return self.workdir / "persistence"

    def _log_paths(self) -> list[Path]:
        return [self.log_path, self.output_path]

    def _command(self) -> list[str]:
        return [_find_executable("mosquitto", "mosquitto"), "-c", str(self.config_path)]

    def _write_config(self) -> None:
        self.persistence_dir.mkdir(parents=True, exist_ok=True)
        lines = [
            f"listener {self.port} {HOST}",
            "allow_anonymous true",
            "persistence true",
            # The trailing slash is required: Mosquitto concatenates the
            # location and persistence_file without inserting a separator.
            f"persistence_location {self.persistence_dir}/",
            "max_queued_messages 1000000",
            # 0 = unlimited in-flight QoS 1/2 messages per client.
            "max_inflight_messages 0",
            f"log_dest file {self.log_path}",
            "log_timestamp_format %Y-%m-%dT%H:%M:%S",
        ]
        if os.geteuid() == 0:
            # Started as root, Mosquitto otherwise drops to the "mosquitto"
            # user, which cannot write the log or the persistence database in
            # pytest's 0700 temp dirs (the save at shutdown fails silently
            # except for a "Permission denied" on stdout).
            lines.append("user root")
        self.config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def _is_ready(self) -> bool:
        """Complete an MQTT 3.1.1 CONNECT/CONNACK with a clean session."""
        client_id = b"facmon-readiness-probe"
        variable_header = b"\x00\x04MQTT\x04\x02\x00\x0a"  # v3.1.1, clean, 10 s
        payload = len(client_id).to_bytes(2, "big") + client_id
        body = variable_header + payload
        connect = bytes([0x10, len(body)]) + body
        try:
            with socket.create_connection((HOST, self.port), timeout=1.0) as sock:
                sock.sendall(connect)
                connack = sock.recv(4)
                sock.sendall(b"\xe0\x00")  # DISCONNECT
        except OSError:
            return False
        return connack == b"\x20\x02\x00\x00"


class InfluxDBError(RuntimeError):
    """An InfluxDB HTTP request failed or a statement returned an error."""


class InfluxDBServer(_ServiceProcess):
    """An InfluxDB 1.x server with its own meta, data and WAL directories.

    Both the HTTP API and the RPC (backup/restore) service listen on free
    ports on 127.0.0.1, so several instances can run side by side.
    """

    name = "influxd"
    start_timeout = 30.0
    request_timeout: ClassVar[float] = 30.0

    def __init__(self, workdir: Path) -> None:
        """Prepare (but do not start) a server living in ``workdir``."""
        super().__init__(workdir)
        self._rpc_port = free_port()

    @property
    def url(self) -> str:
        """HTTP API base URL, ``http://127.0.0.1:PORT``."""
        return f"http://{HOST}:{self.port}"

    @property
    def rpc_port(self) -> int:
        """Port of the RPC service (top-level ``bind-address``)."""
        return self._rpc_port

    @property
    def config_path(self) -> Path:
        """The generated ``influxdb.conf``."""
        return self.workdir / "influxdb.conf"

    @property
    def output_path(self) -> Path:
        """The log file: influxd 1.x logs to stderr only, redirected here."""
        return self.workdir / "influxd.log"

    def _command(self) -> list[str]:
        return [_find_executable("influxd", "influxdb"), "-config", str(self.config_path)]

    def _write_config(self) -> None:
        for sub in ("meta", "data", "wal"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        # Unknown keys are ignored by influxd, so both spellings of the
        # phone-home switch are given: upstream uses reporting-disabled,
        # Debian's package patches it to reporting-enabled.
        config = f"""\
reporting-disabled = true
reporting-enabled = false
bind-address = "{HOST}:{self.rpc_port}"

[meta]
  dir = "{self.workdir / "meta"}"
  retention-autocreate = true
  logging-enabled = false

[data]
  dir = "{self.workdir / "data"}"
  wal-dir = "{self.workdir / "wal"}"
  wal-fsync-delay = "0s"
  index-version = "inmem"
  query-log-enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[http]
  enabled = true
  bind-address = "{HOST}:{self.port}"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false
  unix-socket-enabled = false

[ifql]
  enabled = false

[continuous_queries]
  log-enabled = false

[logging]
  level = "info"
  suppress-logo = true
"""
        self.config_path.write_text(config, encoding="utf-8")

    def _is_ready(self) -> bool:
        """``GET /ping`` answers 204 once the store is open and HTTP is up."""
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=1.0) as resp:
                return int(resp.status) == 204
        except (OSError, urllib.error.URLError):
            return False

    # -- HTTP API -------------------------------------------------------
    def _request(self, path: str, params: dict[str, str], body: bytes | None) -> tuple[int, bytes]:
        """POST to ``path`` and return (status, body); HTTP errors included."""
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        request = urllib.request.Request(url, data=body or b"", method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.request_timeout) as resp:
                return int(resp.status), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def query(
        self,
        q: str,
        db: str | None = None,
        *,
        epoch: str | None = None,
        check: bool = True,
    ) -> dict[str, Any]:
        """Run InfluxQL through ``POST /query`` and return the decoded JSON.

        POST is accepted for every statement (GET only for SELECT/SHOW).
        ``epoch`` (``"ns"``, ``"ms"``, ``"s"``...) returns integer timestamps
        instead of RFC 3339 strings.  With ``check`` (the default) an
        ``InfluxDBError`` is raised if the request or any statement failed;
        otherwise the response, including its ``error`` fields, is returned.
        """
        params = {"q": q}
        if db is not None:
            params["db"] = db
        if epoch is not None:
            params["epoch"] = epoch
        status, raw = self._request("/query", params, None)
        try:
            decoded: dict[str, Any] = json.loads(raw)
        except ValueError:
            msg = f"query {q!r}: HTTP {status}, non-JSON body {raw[:500]!r}"
            raise InfluxDBError(msg) from None
        if check:
            errors = [decoded["error"]] if "error" in decoded else []
            errors += [r["error"] for r in decoded.get("results", []) if "error" in r]
            if status >= 400 or errors:
                detail = "; ".join(map(str, errors)) or raw.decode("utf-8", "replace")
                msg = f"query {q!r}: HTTP {status}: {detail}"
                raise InfluxDBError(msg)
        return decoded

    def write(self, lines: str | Iterable[str], db: str, precision: str = "ms") -> None:
        """Write line protocol through ``POST /write``; raise unless HTTP 204."""
        text = lines if isinstance(lines, str) else "\n".join(lines)
        params = {"db": db, "precision": precision}
        status, raw = self._request("/write", params, text.encode("utf-8"))
        if status != 204:
            msg = f"write to {db!r}: HTTP {status}: {raw.decode('utf-8', 'replace')}"
            raise InfluxDBError(msg)

    def create_database(self, name: str) -> None:
        """``CREATE DATABASE`` (a no-op if it already exists)."""
        self.query(f"CREATE DATABASE {quote_identifier(name)}")

    def drop_database(self, name: str) -> None:
        """``DROP DATABASE`` (a no-op if it does not exist)."""
        self.query(f"DROP DATABASE {quote_identifier(name)}")


def quote_identifier(name: str) -> str:
    """Quote ``name`` as an InfluxQL identifier (double quotes, escaped)."""
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _postgres_bin(name: str) -> str:
    """Locate a PostgreSQL server program (Debian keeps them out of PATH)."""
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    found = shutil.which(name)
    if found is not None:
        return found
    msg = f"{name} not found (Debian package 'postgresql'); {_SETUP_HINT}"
    raise FileNotFoundError(msg)


class PostgresServer(_ServiceProcess):
    """A PostgreSQL server with trust authentication for the user ``facmon``.

    PostgreSQL refuses to run as root: as root, the cluster lives in a directory of its own
    under ``/tmp`` owned by ``postgres`` (pytest's temp dirs are private to root), and
    ``initdb`` and the server run as that user. Durability is traded for speed (``fsync``
    off): the tests need a real SQL engine, not crash safety.
    """

    name = "postgres"
    start_timeout = 30.0
    stop_signal = signal.SIGINT  # "fast" shutdown: SIGTERM would wait for clients to leave
    user = "facmon"

    def __init__(self, workdir: Path) -> None:
        """Prepare the cluster directory (``initdb`` runs at the first start)."""
        super().__init__(workdir)
        self.data_dir = Path(tempfile.mkdtemp(prefix="facmon-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.data_dir, "postgres", "postgres")

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of ``database`` (asyncpg driver)."""
        return f"postgresql+asyncpg://{self.user}@{HOST}:{self.port}/{database}"

    def _user(self) -> str | None:
        return "postgres" if os.geteuid() == 0 else None

    def _command(self) -> list[str]:
        return [
            _postgres_bin("postgres"),
            *("-D", str(self.data_dir / "cluster"), "-p", str(self.port)),
            *("-k", str(self.data_dir), "-c", f"listen_addresses={HOST}"),
            *("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"),
        ]

    def _write_config(self) -> None:
        if (self.data_dir / "cluster" / "PG_VERSION").exists():
            return
        result = subprocess.run(
            [
                _postgres_bin("initdb"),
                *("-D", str(self.data_dir / "cluster"), "-U", self.user, "--auth=trust"),
                *("--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"),
            ],
            capture_output=True,
            user=self._user(),
            check=False,
        )
        if result.returncode != 0:
            msg = f"initdb failed:\n{result.stdout.decode()}\n{result.stderr.decode()}"
            raise RuntimeError(msg)

    def _is_ready(self) -> bool:
        result = subprocess.run(
            [_postgres_bin("pg_isready"), "-h", HOST, "-p", str(self.port), "-U", self.user],
            capture_output=True,
            check=False,
        )
        return result.returncode == 0

    def execute(self, sql: str, database: str = "postgres") -> str:
        """Run ``sql`` with psql and return its output."""
        result = subprocess.run(
            [
                _postgres_bin("psql"),
                *("-h", HOST, "-p", str(self.port), "-U", self.user, "-d", database),
                *("-v", "ON_ERROR_STOP=1", "-At", "-c", sql),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            msg = f"psql failed: {result.stderr}"
            raise RuntimeError(msg)
        return result.stdout

    def remove(self) -> None:
        """Stop and delete the cluster."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
