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

This script orchestrates; ``fleet`` holds the profile and facmon's configurations, ``runs``
the measured runs (each a ``result``), ``probes`` the MQTT counter and py-spy, ``tbgw`` and
``floor`` the two references, ``report`` the tables, verdicts and history.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.gateway.report import (  # noqa: E402
    machine,
    read_history,
    record_history,
    render,
    table,
    verdicts,
)
from bench.gateway.runs import Bench  # noqa: E402
from bench.harness.processes import stop_all  # noqa: E402
from bench.sections import DOC, write_section  # noqa: E402


def _on_signal(signum: int, _frame: object) -> None:
    stop_all()
    sys.exit(128 + signum)


def main() -> int:
    """Run the benchmark, print its results and write its section; 0."""
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
        write_section(
            "Gateway", render(results, info, args, bench.problems, history, bench.profile_top)
        )
        print(f"\nwrote the Gateway section of {DOC.relative_to(ROOT)}")
    print(f"total time {time.monotonic() - started:.0f} s")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
