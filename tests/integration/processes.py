"""Run ``facmon`` subcommands as real processes for integration tests."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml

from facmon.net import free_port

T = TypeVar("T")


class FacmonProcess:
    """``facmon <command> --config <file>`` with its output in a log file."""

    started: list[FacmonProcess] = []  # noqa: RUF012 - every instance started, for clean-up

    def __init__(
        self,
        workdir: Path,
        command: str,
        config: dict[str, Any],
        env: dict[str, str] | None = None,
    ) -> None:
        self.command = command
        self.env = env or {}
        """More environment (secrets, as production passes them)."""
        self.config_path = workdir / f"{command}.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.log_path = workdir / f"{command}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> FacmonProcess:
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "launcher",
                    "--log-level",
                    "debug",
                    self.command,
                    "--config",
                    str(self.config_path),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
            )
        FacmonProcess.started.append(self)
        return self

    @property
    def pid(self) -> int:
        """The process id (it must have been started)."""
        assert self._proc is not None
        return self._proc.pid

    def kill(self) -> None:
        """SIGKILL the process if it still runs (clean-up after a failed test)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        """Signal the process and return its exit code."""
        assert self._proc is not None
        if self._proc.poll() is None:
            self._proc.send_signal(sig)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
                raise AssertionError(
                    f"{self.command} ignored signal {sig} for {timeout} s:\n{self.log()}"
                ) from None
        return self._proc.returncode

    def assert_running(self) -> None:
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise AssertionError(
                f"{self.command} exited with {self._proc.returncode}:\n{self.log()}"
            )

    def log(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return "(no output)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def wait_for(
    probe: Callable[[], T | None], timeout: float, what: str, processes: list[FacmonProcess] = ()
) -> T:  # type: ignore[assignment]
    """Call ``probe`` until it returns something other than None; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        for process in processes:
            process.assert_running()
        try:
            result = probe()
        except Exception as exc:  # noqa: BLE001 - keep probing; report the last error
            last_error = exc
            result = None
        if result is not None:
            return result
        time.sleep(0.2)
    logs = "\n\n".join(f"--- {p.command} ---\n{p.log()}" for p in processes)
    raise AssertionError(
        f"timed out after {timeout} s waiting for {what} (last error: {last_error!r})\n{logs}"
    )


def readings_stored(path: Path, at_least: int) -> int | None:
    """The readings in the SQLite telemetry store at ``path`` once there are ``at_least``."""
    with sqlite3.connect(path) as db:
        try:
            (count,) = db.execute("SELECT count(*) FROM readings").fetchone()
        except sqlite3.OperationalError:  # not created yet
            return None
    return int(count) if count >= at_least else None


def start_api(
    folder: Path, broker_url: str, admin_token: str, port: int = 0, **extra: Any
) -> tuple[FacmonProcess, str]:
    """Start ``facmon api`` on the registry in ``folder``; return it and its base URL.

    ``admin_token`` is its bootstrap (admin) token; telemetry is read from SQLite; ``extra``
    is more configuration (``alerts=...``).
    """
    port = port or free_port()
    api = FacmonProcess(
        folder,
        "api",
        {
            "port": port,
            "broker": {"url": broker_url},
            "store": {"kind": "sqlite", "path": str(folder / "telemetry.db")},
            "database": f"sqlite:///{folder / 'registry.db'}",
            "bootstrap_token": admin_token,
            **extra,
        },
    ).start()
    base = f"http://127.0.0.1:{port}"

    def up() -> bool | None:
        try:
            return httpx.get(f"{base}/healthz").status_code == 200 or None
        except httpx.TransportError:
            return None

    wait_for(up, 30, "the API", [api])
    return api, base
