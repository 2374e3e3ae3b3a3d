"""The load ramp of the end-to-end benchmark: steps of offered points/s, each measured."""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.e2e.probes import (
    CLEAR,
    CRAC_UNIT,
    GATEWAY,
    LEVEL,
    RULE,
    AlertClock,
    Toggler,
    Watcher,
)
from bench.harness.influxdb import InfluxDBServer
from bench.harness.mosquitto import MosquittoServer
from bench.harness.processes import PY_SPY, Usage, machine_busy_s, usage
from bench.pipeline import (
    INTERVAL_S,
    UNITS_PER_ENDPOINT,
    Endpoints,
    Pipeline,
    Simulated,
    first,
    reading_points,
    spread,
)
from bench.profiling import profile_tables
from devices.library import resolve_profile

PROFILE = "dc-power-48v"
CRAC = "crac"
STEPS = (5_000, 10_000, 20_000, 30_000, 40_000)
ENDPOINTS = 4
WARMUP_S = 3.0
FIRST_WARMUP_S = 10.0  # the collector and the API have just started
SETTLE_LIMIT_S = 12.0
SETTLED_MS = 1000.0
GRACE_S = 1.5
WATCHED = 16
SUSTAINED_SHARE = 0.98
LAG_GROWTH_S = 0.5
TARGET_RATE = 30_000
STOP_TIMEOUT_S = 15.0


def largest_fleet(rates: list[float]) -> int:
    """Power systems the simulator serves: enough for the highest step."""
    return round(max(rates) / reading_points(resolve_profile(PROFILE))) + 1


def endpoint_count(devices: int) -> int:
    """Simulated endpoints (gateway buses) for ``devices``: at least ``ENDPOINTS``, at most
    ``UNITS_PER_ENDPOINT`` unit ids each."""
    return max(ENDPOINTS, math.ceil(devices / UNITS_PER_ENDPOINT))


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile (``share`` in 0..1) of ``values``; ``None`` if empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def num(value: float | None, spec: str) -> str:
    return "-" if value is None or value != value else format(value, spec)


@dataclass(slots=True)
class Step:
    """One step of the ramp, as measured."""

    rate: float
    devices: int
    seconds: float
    offered: float = 0.0
    stored: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)
    busy_cores: float = 0.0
    bench_cores: float = 0.0
    others_cores: float = 0.0
    """The machine's busy cores less the measured processes and the benchmark's own."""
    latency_ms: list[float] = field(default_factory=list)
    lag_growth_s: float | None = None
    alert_ms: list[float] = field(default_factory=list)
    seqs: tuple[int, int] = (0, 0)
    stored_seqs: int = 0
    in_spool: int = 0
    lost: int | None = None
    overruns: int | None = None
    rss_mib: dict[str, float] = field(default_factory=dict)
    warmup_s: float = 0.0
    """From the gateway's (re)start to the window."""
    note: str = ""

    @property
    def sustained(self) -> bool:
        """Stored ≥ 98 % of the offered points and the latency did not grow."""
        return (
            self.offered > 0
            and self.stored >= SUSTAINED_SHARE * self.offered
            and self.lag_growth_s is not None
            and self.lag_growth_s <= LAG_GROWTH_S
        )

    def us_per_point(self, name: str) -> float | None:
        """CPU µs of process ``name`` per point stored in the window."""
        points = self.stored * self.seconds
        return 1e6 * self.cpu_s[name] / points if name in self.cpu_s and points else None

    @property
    def facmon_us(self) -> float | None:
        """CPU µs per point of the gateway, the collector and the API together."""
        parts = [self.us_per_point(n) for n in ("gateway", "collector", "api")]
        return None if None in parts else sum(p for p in parts if p is not None)


class Ramp:
    """The ramp's pipeline: the simulator serves the largest fleet, the gateway polls a step's."""

    def __init__(
        self, work: Path, broker: MosquittoServer, influx: InfluxDBServer, largest: int
    ) -> None:
        """Write the configurations (and the extra rule); nothing starts yet."""
        self.profile = resolve_profile(PROFILE)
        self.points = reading_points(self.profile)
        self.crac_points = reading_points(resolve_profile(CRAC))
        self.fleet = spread(PROFILE, largest, endpoint_count(largest))
        self.cracs = [f"crac-{e}" for e in range(ENDPOINTS)]
        served = [
            [*devices, *([Simulated(self.cracs[e], CRAC, CRAC_UNIT)] if e < ENDPOINTS else [])]
            for e, devices in enumerate(self.fleet)
        ]
        rules = work / "rules.yaml"
        rules.write_text(
            yaml.safe_dump(
                {
                    "rules": [
                        {
                            "id": RULE,
                            "kind": "threshold",
                            "point": "temp_setpoint",
                            "above": LEVEL,
                            "clear": CLEAR,
                            "severity": "critical",
                        }
                    ]
                }
            )
        )
        self.pipe = Pipeline(
            work,
            broker,
            influx,
            served,
            gateway=GATEWAY,
            name="e2e",
            polled=self.polled(0),
            rules=[rules],
            measurement=self.profile.measurement,
            stop_timeout_s=STOP_TIMEOUT_S,
        )
        self.measurements = {self.profile.measurement: self.points}
        self.measurements[resolve_profile(CRAC).measurement] = self.crac_points
        self.started = False
        self.steps_run = 0
        self.profile_text = ""
        self.seq = 0
        self.watcher: Watcher | None = None
        self.clock: AlertClock | None = None
        self.toggler: Toggler | None = None

    def polled(self, devices: int) -> Endpoints:
        """The first ``devices`` power systems and the CRACs."""
        chosen = first(self.fleet, devices)
        return [
            [*d, *([Simulated(self.cracs[e], CRAC, CRAC_UNIT)] if e < ENDPOINTS else [])]
            for e, d in enumerate(chosen)
        ]

    def devices_for(self, rate: float) -> int:
        """Power systems that make ``rate`` points/s with the CRACs' share."""
        return max(1, round((rate * INTERVAL_S - ENDPOINTS * self.crac_points) / self.points))

    def run_step(
        self, rate: float, seconds: float, warmup_s: float = WARMUP_S, profile_s: int = 0
    ) -> Step:
        """Poll the fleet for ``rate``, warm up, measure ``seconds``, stop the gateway; with
        ``profile_s``, sample the gateway with py-spy that long from the window's start."""
        pipe = self.pipe
        devices = self.devices_for(rate)
        step = Step(rate, devices, seconds)
        step.offered = (devices * self.points + ENDPOINTS * self.crac_points) / INTERVAL_S
        pipe.poll(self.polled(devices))
        restarted_ms = int(time.time() * 1000)
        if not self.started:
            pipe.start()
            self.started = True
            self.watcher = Watcher(pipe.influx, self.profile.measurement)
            self.watcher.start()
            self.clock = AlertClock(pipe.broker, self.cracs, "p0")
            self.toggler = Toggler(pipe.sim_ports[:ENDPOINTS])
        else:
            pipe.start_gateway()
            pipe.wait_for_reading(restarted_ms)
        assert self.watcher is not None
        assert self.clock is not None
        assert self.toggler is not None
        self.watcher.watch([f"p{n * devices // WATCHED}" for n in range(min(WATCHED, devices))])
        time.sleep(warmup_s if self.steps_run else max(warmup_s, FIRST_WARMUP_S))
        step.warmup_s = (time.time() * 1000 - restarted_ms) / 1000
        # A restarted gateway opens its connections and catches up: measure once the
        # watched devices' readings reach InfluxDB in time again (or the limit has passed).
        while step.warmup_s < SETTLE_LIMIT_S and not self.settled(restarted_ms):
            time.sleep(0.5)
            step.warmup_s = (time.time() * 1000 - restarted_ms) / 1000
        self.steps_run += 1
        pids = {n: p for n, p in pipe.pids().items() if p is not None}
        before = {n: usage(p) for n, p in pids.items()}
        busy0, own0 = machine_busy_s(), sum(os.times()[:2])
        t0 = time.time()
        self.toggler.start()
        profiler = None
        if profile_s:
            profiler = threading.Thread(target=self.profile_gateway, args=(profile_s,), daemon=True)
            profiler.start()
        while time.time() - t0 < seconds and not pipe.died():
            time.sleep(min(1.0, seconds - (time.time() - t0)))
        t1 = time.time()
        after = {n: usage(p) for n, p in pids.items()}
        step.busy_cores = (machine_busy_s() - busy0) / (t1 - t0)
        step.bench_cores = (sum(os.times()[:2]) - own0) / (t1 - t0)
        self.toggler.stop()
        if profiler is not None:
            profiler.join()
        step.seconds = t1 - t0
        step.cpu_s = {
            n: a.cpu_s - b.cpu_s
            for n in pids
            if isinstance(a := after[n], Usage) and isinstance(b := before[n], Usage)
        }
        step.rss_mib = {n: a.rss_kib / 1024 for n, a in after.items() if a is not None}
        measured = (sum(step.cpu_s.values()) / step.seconds) + step.bench_cores
        step.others_cores = max(0.0, step.busy_cores - measured)
        time.sleep(GRACE_S)
        step.stored = self.stored_points(t0, t1) / step.seconds
        lo, hi = int(t0 * 1000), int(t1 * 1000)
        inside = [(ts, ms) for ts, ms in self.watcher.samples if lo <= ts < hi]
        step.latency_ms = [ms for _, ms in inside]
        if len(inside) >= 6:
            third = (hi - lo) / 3
            early = [ms for ts, ms in inside if ts < lo + third]
            late = [ms for ts, ms in inside if ts >= hi - third]
            if early and late:
                step.lag_growth_s = (statistics.median(late) - statistics.median(early)) / 1000
        step.alert_ms = [ms for ts, ms, _ in self.clock.samples if lo <= ts < hi]
        step.overruns = pipe.gateway_health().get("overruns")
        pipe.stop("gateway")
        counters, _ = pipe.spool()
        step.seqs = (self.seq, counters.get("seq", self.seq))
        self.seq = step.seqs[1]
        return step

    def settled(self, since_ms: int) -> bool:
        """Whether the watched devices' last readings since ``since_ms`` (a second's worth)
        were queryable within ``SETTLED_MS`` of their time, at the median."""
        assert self.watcher is not None
        recent = [ms for ts, ms in self.watcher.samples[-WATCHED:] if ts >= since_ms]
        return len(recent) == WATCHED and statistics.median(recent) < SETTLED_MS

    def profile_gateway(self, seconds: int) -> None:
        """Sample the gateway with py-spy; keep its top functions by own and inclusive time."""
        pid = self.pipe.pids().get("gateway")
        if pid is None or not PY_SPY.exists():
            self.profile_text = "(py-spy not run: no gateway, or no py-spy in the venv)"
            return
        out = self.pipe.work / "py-spy.txt"
        command = [str(PY_SPY), "record", "--pid", str(pid), "--duration", str(seconds)]
        command += ["--format", "raw", "--output", str(out), "--rate", "100", "--nonblocking"]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not out.exists():
            self.profile_text = f"(py-spy failed: {done.stderr.strip()[-300:]})"
            return
        shutil.copy(out, Path(tempfile.gettempdir()) / "facmon-e2e-gateway.py-spy.txt")
        self.profile_text = profile_tables(
            out.read_text(), f"{seconds:g} s of the gateway during the highest step's window"
        )

    def stored_points(self, t0: float, t1: float) -> float:
        """Points stored of the readings taken in [t0, t1)."""
        series = self.pipe.series(
            f"SELECT count(facmon_seq) FROM /.*/ {self.pipe.where()} "
            f"AND time >= {int(t0 * 1000)}ms AND time < {int(t1 * 1000)}ms"
        )
        return sum(
            int(s["values"][0][1]) * self.measurements[s["name"]]
            for s in series
            if s["name"] in self.measurements
        )

    def count_loss(self, steps: list[Step]) -> dict[str, Any]:
        """With the gateway stopped: wait for the collector to drain, then count each step's
        seqs stored, still in the spool, and lost."""
        total = self.pipe.count_loss()
        _, spooled = self.pipe.spool()
        for step in steps:
            lo, hi = step.seqs
            step.stored_seqs = self.pipe.distinct_seqs(after=lo, upto=hi)
            waiting = {s for s in spooled if lo < s <= hi}
            step.in_spool = len(waiting) - self.pipe.stored_among(waiting)
            step.lost = hi - lo - step.stored_seqs - step.in_spool
        return asdict(total)

    def close(self) -> None:
        """Stop watching and the facmon processes."""
        for part in (self.watcher, self.clock, self.toggler):
            if part is not None:
                part.close()
        for name in ("gateway", "api", "collector", "sim"):
            self.pipe.stop(name)


def ramp(
    work: Path, broker: MosquittoServer, influx: InfluxDBServer, args: argparse.Namespace
) -> dict[str, Any]:
    """Run the steps; stop at the first one not sustained; hold the best one if needed."""
    rates = sorted(args.steps)
    the_ramp = Ramp(work, broker, influx, largest_fleet(rates))
    steps: list[Step] = []
    result: dict[str, Any] = {"steps": steps, "skipped": [], "profile": ""}
    try:
        for index, rate in enumerate(rates):
            held = rate >= TARGET_RATE and not any(s.rate >= TARGET_RATE for s in steps)
            seconds = args.hold_seconds if held else args.step_seconds
            highest = index == len(rates) - 1
            profile_s = args.profile_gateway if highest else 0
            step = the_ramp.run_step(rate, seconds, args.warmup_seconds, profile_s)
            result["profile"] = the_ramp.profile_text
            steps.append(step)
            print(step_line(step), flush=True)
            if the_ramp.pipe.died():
                break
            if not step.sustained:
                result["skipped"] = rates[index + 1 :]
                break
        best = max((s for s in steps if s.sustained), key=lambda s: s.rate, default=None)
        target_held = any(
            s.sustained and s.rate >= TARGET_RATE and s.seconds >= args.hold_seconds - 1
            for s in steps
        )
        if best is not None and not target_held and best.seconds < args.hold_seconds - 1:
            step = the_ramp.run_step(best.rate, args.hold_seconds, args.warmup_seconds)
            step.note = "the highest sustained step, held again"
            steps.append(step)
            print(step_line(step), flush=True)
    except KeyboardInterrupt:
        result["interrupted"] = True
    finally:
        the_ramp.pipe.stop("gateway")
        if the_ramp.started:
            result["loss"] = the_ramp.count_loss(steps)
            result["alerts_unmatched"] = the_ramp.clock.unmatched if the_ramp.clock else 0
            result["alerts_untold"] = the_ramp.clock.untold if the_ramp.clock else 0
            result["alerts_strays"] = the_ramp.clock.strays if the_ramp.clock else []
            result["toggles"] = the_ramp.toggler.writes if the_ramp.toggler else 0
            result["toggle_errors"] = the_ramp.toggler.errors if the_ramp.toggler else 0
            result["watch_queries"] = the_ramp.watcher.queries if the_ramp.watcher else 0
            result["payload"] = the_ramp.clock.payload if the_ramp.clock else b""
        result["died"] = the_ramp.pipe.died() | the_ramp.pipe.unclean
        the_ramp.close()
        result["died"] |= the_ramp.pipe.unclean
        result["points"] = the_ramp.points
    return result


def step_line(step: Step) -> str:
    """One progress line."""
    lat = percentile(step.latency_ms, 0.5)
    return (
        f"  step {step.rate:,.0f}: {step.devices} devices, {step.seconds:.0f} s from "
        f"{step.warmup_s:.0f} s after the gateway's start, "
        f"stored {step.stored:,.0f} of {step.offered:,.0f} points/s, "
        f"facmon {num(step.facmon_us, '.1f')} µs/point, to InfluxDB p50 {num(lat, '.0f')} ms "
        f"(growth {num(step.lag_growth_s, '+.2f')} s), gateway overruns {step.overruns}, "
        f"{'sustained' if step.sustained else 'NOT sustained'}{f' ({step.note})' if step.note else ''}"
    )
