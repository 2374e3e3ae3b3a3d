"""A stopped service exits even when a library left a worker thread running."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = """
import threading
from launcher.cli import run_service

async def main():
    # like aiosqlite's worker of a connection that was in use when the service stopped
    threading.Thread(target=threading.Event().wait, name="stuck-worker").start()

run_service(main())
"""


def test_a_stuck_non_daemon_thread_does_not_keep_the_process_alive() -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], check=False, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 15
    assert "exiting with 1 thread(s) still running: stuck-worker" in done.stderr


def test_the_demo_says_so_when_its_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = ["demo", "--port", str(port), "--workdir", str(tmp_path)]
        done = subprocess.run(
            [sys.executable, "-m", "launcher", *command],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1, done.stderr
    assert f"cannot serve on 127.0.0.1:{port}: Address already in use" in done.stderr
    assert "make demo PORT=" in done.stderr
    assert "Traceback" not in done.stderr
