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
import json
import math
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.harness.influxdb import DetachedInfluxDB, InfluxDBServer  # noqa: E402
from bench.harness.mosquitto import DetachedMosquitto, MosquittoServer  # noqa: E402
from bench.harness.processes import interrupt_on_sigterm, stop_all  # noqa: E402
from bench.pipeline import (  # noqa: E402
    FACMON,
    INTERVAL_S,
    REFERENCES,
    Loss,
    Pipeline,
    Sample,
    filled,
    reading_points,
)
from devices.library import resolve_profile  # noqa: E402

PROFILE = "dc-power-48v"
GATEWAY = "gw-soak"
WARMUP_S = 60.0
DEFAULT_JSON = ROOT / "bench" / "soak" / "last.json"


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


def soak_pipeline(
    work: Path, broker: MosquittoServer, influx: InfluxDBServer, devices: int
) -> Pipeline:
    """The servers, the four facmon processes and their configuration for one soak:
    ``devices`` x ``PROFILE``, 200 unit ids per simulated endpoint."""
    return Pipeline(work, broker, influx, filled(PROFILE, devices), gateway=GATEWAY, name="soak")


def soak(outcome: Outcome, soaked: Pipeline, every: float) -> None:
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


def finish(outcome: Outcome, soaked: Pipeline) -> None:
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
    interrupt_on_sigterm()
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
                soaked = soak_pipeline(work, broker, influx, devices)
                try:
                    soak(outcome, soaked, args.every)
                except KeyboardInterrupt:
                    outcome.interrupted = True
                    print("\ninterrupted: stopping and counting (Ctrl-C again skips that)")
                finally:
                    finish(outcome, soaked)
        except KeyboardInterrupt:  # while the servers started, or a second one while finishing
            outcome.interrupted = True
            stop_all()
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
