"""Real server processes (Mosquitto, InfluxDB 1.x, PostgreSQL) for tests and benchmarks.

Each server runs as a child process bound to ``127.0.0.1`` on a free port,
with its configuration, data and logs kept in a caller-supplied work
directory.  The port is chosen once, in ``__init__``, so ``stop()`` followed by
``start()`` (or ``restart()``) brings the service back at the same address
with the same on-disk state.

This module holds the lifecycle the servers share (:class:`ServiceProcess`); each server is
a module of its own beside it (``mosquitto``, ``influxdb``, ``postgres``).  The binaries come
from the Debian packages ``mosquitto``, ``influxdb`` and ``postgresql``; run
``tests/setup-services.sh`` to install them.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import IO, ClassVar, Self

from facmon.net import free_port

HOST = "127.0.0.1"
"""Address every service binds to."""

SETUP_HINT = "install it with tests/setup-services.sh"
"""How to get a missing server program (the end of every "not found" error)."""
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


def find_executable(name: str, package: str) -> str:
    """Locate ``name`` on PATH or in the sbin directories (often not on PATH)."""
    found = shutil.which(name)
    if found is not None:
        return found
    for directory in ("/usr/sbin", "/usr/local/sbin", "/sbin"):
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    msg = f"{name} not found (Debian package {package!r}); {SETUP_HINT}"
    raise FileNotFoundError(msg)


def _tail(path: Path, lines: int) -> str:
    """Return the last ``lines`` lines of ``path`` (or a note if it is absent)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return f"<{path} does not exist>"
    return "\n".join(text.splitlines()[-lines:])


class ServiceProcess:
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
