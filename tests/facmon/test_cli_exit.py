"""A stopped service exits even when a library left a worker thread running."""

from __future__ import annotations

import subprocess
import sys
import time

SCRIPT = """
import threading
from facmon.cli import run_service

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
