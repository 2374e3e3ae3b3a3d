"""End to end: simulator → gateway → Mosquitto → collector → InfluxDB, the API judging it all.

The whole pipeline of ``bench/pipeline.py`` (the soak's) on this machine, in one run:

1. **Ramp**: N -48 V power systems (``dc-power-48v``, 54 points a reading) polled every
   second, dealt over several simulated endpoints (4 TCP connections each), N raised step
   by step (``--steps``, points/s). The gateway is restarted with the larger fleet at each
   step (simulator, broker, collector, API and InfluxDB keep running); after a short
   warm-up each step is measured for ``--step-seconds`` (the target step, 30,000 points/s,
   for ``--hold-seconds``). Per step: points/s offered and stored (readings whose ``ts`` is
   in the window, counted in InfluxDB ``GRACE_S`` after it), CPU per point of each process
   (``/proc/<pid>/stat`` over the window), latency from the reading's ``ts`` to queryable
   in InfluxDB (the newest reading of 16 devices polled every 100 ms), latency from the
   reading to the API's rules (a threshold on the setpoint of four CRACs, written over
   Modbus every 2-3 s: from the ``ts`` of the first reading with the new value to the
   alert message the API publishes for it, as received by a subscriber), and loss by
   ``facmon_seq``. A step is sustained when it stores ≥ 98 % of the offered points and the
   latency does not grow over the window. The ramp stops at the first step that is not.
2. **Memory**: first, on fresh facmon processes, 1,000 small devices (``th-sensor``) polled
   every second; each process's resident memory 30 s after the first reading is stored.
3. **Stage ceilings**, at the end: Mosquitto alone (``mosquitto_pub -l`` of a captured
   gateway envelope to ``mosquitto_sub``, QoS 1) and InfluxDB alone (pre-built, gzipped
   5,000-line batches of the same readings in facmon's own line protocol, POSTed one after
   the other), each in points/s.

Prints a report and writes the "End to end" section of ``docs/benchmarks.md``.

    .venv/bin/python bench/e2e/run.py [--steps 5000,10000,20000,30000,40000]
        [--step-seconds 30] [--hold-seconds 60] [--no-doc] [--json PATH]
        [--profile-gateway SECONDS] [--no-memory] [--no-ceilings]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.e2e.ramp import STEPS, WARMUP_S, endpoint_count, largest_fleet, ramp  # noqa: E402
from bench.e2e.report import figures, machine, section  # noqa: E402
from bench.e2e.stages import (  # noqa: E402
    BROKER_MESSAGES,
    INFLUX_READINGS,
    MEMORY_DEVICES,
    broker_ceiling,
    influx_ceiling,
    memory,
)
from bench.harness.influxdb import DetachedInfluxDB  # noqa: E402
from bench.harness.mosquitto import DetachedMosquitto  # noqa: E402
from bench.harness.processes import interrupt_on_sigterm, stop_all  # noqa: E402
from bench.sections import write_section  # noqa: E402


def main() -> int:
    """Run the benchmark; 1 if the target was not met or a process failed, else 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps",
        type=lambda text: [float(v) for v in text.split(",")],
        default=list(STEPS),
        help="offered points/s of each step, comma-separated",
    )
    parser.add_argument("--step-seconds", type=float, default=30, help="length of a step")
    parser.add_argument(
        "--hold-seconds", type=float, default=60, help="length of the target (30,000) step"
    )
    parser.add_argument(
        "--warmup-seconds",
        type=float,
        default=WARMUP_S,
        help="wait after the gateway's (re)start before a step is measured",
    )
    parser.add_argument(
        "--profile-gateway",
        type=int,
        default=0,
        metavar="SECONDS",
        help="sample the gateway with py-spy for this long during the highest step",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the memory step")
    parser.add_argument("--no-ceilings", action="store_true", help="skip the stage ceilings")
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    interrupt_on_sigterm()
    started = time.monotonic()
    phases: dict[str, float] = {}
    data: dict[str, Any] = {
        "step_seconds": args.step_seconds,
        "hold": args.hold_seconds,
        "warmup": args.warmup_seconds,
        "machine": machine(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    print(f"e2e: steps {', '.join(f'{r:,.0f}' for r in args.steps)} points/s", flush=True)
    with tempfile.TemporaryDirectory(prefix="facmon-e2e-") as tmp:
        work = Path(tmp)
        try:
            with DetachedMosquitto(work / "mq") as broker, DetachedInfluxDB(work / "db") as influx:
                if not args.no_memory:
                    data["memory"] = memory(work / "memory", broker, influx, MEMORY_DEVICES)
                    phases["memory"] = time.monotonic() - started
                    print(f"memory ({phases['memory']:.0f} s): {data['memory']['rss_mib']}")
                (work / "ramp").mkdir()
                data["ramp"] = ramp(work / "ramp", broker, influx, args)
                phases["ramp"] = time.monotonic() - started - sum(phases.values())
                data["endpoints"] = endpoint_count(largest_fleet(args.steps))
                payload = data["ramp"].pop("payload", b"")
                if payload and not args.no_ceilings:
                    data["broker_ceiling"] = broker_ceiling(broker, payload, BROKER_MESSAGES)
                    data["influx_ceiling"] = influx_ceiling(influx, payload, INFLUX_READINGS)
                    phases["ceilings"] = time.monotonic() - started - sum(phases.values())
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            stop_all()
            return 1
        except RuntimeError as exc:
            print(f"e2e could not run: {exc}", file=sys.stderr)
            return 1
    data["runtime_s"] = time.monotonic() - started
    text = section(data)
    print(text)
    took = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in phases.items())
    print(f"total runtime {data['runtime_s']:.0f} s ({took})")
    if data["ramp"].get("alerts_strays"):
        print("alert messages with no change read before them:", data["ramp"]["alerts_strays"])
    met = figures(data, data["ramp"]["points"])["target_met"] and not data["ramp"]["died"]
    if args.json:
        steps = data["ramp"]["steps"]
        data["ramp"]["steps"] = [{**asdict(s), "sustained": s.sustained} for s in steps]
        args.json.write_text(json.dumps(data, indent=2, default=str) + "\n")
    if not args.no_doc:
        write_section("End to end", text)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
