"""The benchmarks' child processes: start, stop, and what each spends, read from ``/proc``.

Every process is started in a session of its own (so that the terminal's Ctrl-C reaches only
the benchmark, which then stops them in order) and remembered until it is stopped; whatever
still runs at exit is stopped then, newest first.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PY_SPY = Path(sys.executable).with_name("py-spy")
"""py-spy in the venv (optional): what a process that ignores SIGTERM was doing."""

_STARTED: list[subprocess.Popen[bytes]] = []


def spawn(
    argv: Sequence[str], log: Path, *, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in ``cwd``, in its own session, output to ``log``; remembered for
    :func:`stop_all`."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
    _STARTED.append(proc)
    return proc


def stop(proc: subprocess.Popen[bytes], timeout: float = 30.0, log: Path | None = None) -> int:
    """SIGTERM ``proc``, SIGKILL after ``timeout`` s; return its exit status. Before a
    SIGKILL, what each of its threads was doing goes to ``log`` (with py-spy in the venv)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            if log is not None and PY_SPY.exists():
                with log.open("ab") as out, contextlib.suppress(subprocess.TimeoutExpired):
                    out.write(
                        f"\n--- py-spy dump: not stopped {timeout:g} s after SIGTERM\n".encode()
                    )
                    out.flush()
                    subprocess.run(
                        [str(PY_SPY), "dump", "--pid", str(proc.pid)],
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        timeout=20,
                        check=False,
                    )
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if proc in _STARTED:
        _STARTED.remove(proc)
    return proc.returncode


@atexit.register
def stop_all() -> None:
    """Stop every process started here that still runs (newest first)."""
    for proc in reversed(list(_STARTED)):
        stop(proc, timeout=5)


def _terminate(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM is taken like Ctrl-C: stop, count, report


def interrupt_on_sigterm() -> None:
    """Take SIGTERM like Ctrl-C (``KeyboardInterrupt``), so that a run still reports."""
    signal.signal(signal.SIGTERM, _terminate)


def listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 20) -> None:
    """Wait until 127.0.0.1:``port`` accepts connections.

    Raises:
        RuntimeError: ``proc`` exited, or nothing listens after ``timeout`` s.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}:\n{tail(log, 30)}")
        if listening(port):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout} s:\n{tail(log, 30)}")


def tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of ``path``."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return f"<no {path}>"


# -- what a process spends ---------------------------------------------------------------------


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


def tree_cpu_s(pid: int) -> float:
    """User + system CPU of ``pid`` and its descendants, all threads (from /proc/PID/stat)."""
    total = 0
    for each in descendants(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def self_cpu_s() -> float:
    """This process's own CPU (user + system), in seconds."""
    own = os.times()
    return own.user + own.system


def machine_busy_s() -> float:
    """CPU time all cores spent busy since boot (``/proc/stat``), in seconds."""
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
        busy0, t0 = machine_busy_s(), time.monotonic()
        time.sleep(1)
        level = (machine_busy_s() - busy0) / (time.monotonic() - t0)
        if level <= busy_cores or time.monotonic() > deadline:
            return level
