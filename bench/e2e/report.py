"""The end-to-end benchmark's report: the "End to end" section of docs/benchmarks.md."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.e2e.probes import RULE, WATCH_EVERY_S
from bench.e2e.ramp import (
    ENDPOINTS,
    FIRST_WARMUP_S,
    GRACE_S,
    LAG_GROWTH_S,
    PROFILE,
    SETTLE_LIMIT_S,
    SETTLED_MS,
    SUSTAINED_SHARE,
    TARGET_RATE,
    WATCHED,
    Step,
    num,
    percentile,
)
from bench.e2e.stages import (
    BROKER_MESSAGES,
    INFLUX_BATCH,
    INFLUX_READINGS,
    MEMORY_DEVICES,
    MEMORY_S,
    SMALL_PROFILE,
)
from bench.pipeline import (
    FACMON,
    INTERVAL_S,
    REFERENCES,
)
from bench.sections import head_commit

TARGET_US = 60.0
THINGSBOARD_RATE = 15_000  # ThingsBoard's published figure for 2 vCPUs, data points/s
MEASURED = (*FACMON, *REFERENCES)
COMPONENTS = ("facmon", "devices", "gateway", "collector", "api")


def machine() -> str:
    """Cores, CPU model, memory, Python, the servers' versions and the commit."""
    model = next(
        (
            row.split(":", 1)[1].strip()
            for row in Path("/proc/cpuinfo").read_text().splitlines()
            if row.startswith("model name")
        ),
        "?",
    )
    mem_gib = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--", *COMPONENTS],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout.strip()
    versions = []
    for command in (["mosquitto", "-h"], ["influxd", "version"]):
        found = shutil.which(command[0]) or f"/usr/sbin/{command[0]}"
        done = subprocess.run([found, *command[1:]], capture_output=True, text=True, check=False)
        versions.append((done.stdout or done.stderr).splitlines()[0].strip() if done else "?")
    return (
        f"{os.cpu_count()} cores ({model}), {mem_gib:.0f} GiB RAM, Python "
        f"{sys.version.split()[0]}; {versions[0]}; {versions[1]}; facmon at {head_commit()}"
        f"{' (+ uncommitted changes)' if changed else ''}"
    )


def figures(data: dict[str, Any], points: int) -> dict[str, Any]:
    """The headline figures the report and the section are made of."""
    steps: list[Step] = data["ramp"]["steps"]
    sustained = [s for s in steps if s.sustained and s.lost == 0]
    best = max(sustained, key=lambda s: (s.stored, s.seconds), default=None)
    target = next(
        (s for s in steps if s.rate >= TARGET_RATE and s.seconds >= data["hold"] - 1), None
    )
    broker = data.get("broker_ceiling")
    influx = data.get("influx_ceiling")
    return {
        "best": best,
        "target": target,
        "target_met": bool(
            target is not None
            and target.sustained
            and target.lost == 0
            and target.offered >= TARGET_RATE
        ),
        "cpu_met": bool(
            target is not None and target.facmon_us is not None and target.facmon_us <= TARGET_US
        ),
        "broker_points_s": broker["messages_s"] * points if broker else None,
        "influx_points_s": influx["readings_s"] * points if influx else None,
    }


def step_rows(steps: list[Step]) -> list[str]:
    """The steps as Markdown table rows."""
    rows = [
        "| offered points/s | devices | s | stored points/s | stored/offered | sustained | "
        "gateway µs/pt | collector µs/pt | api µs/pt | **facmon µs/pt** | sim / mosquitto / "
        "influxd µs/pt | cores busy: all (bench, others) | → InfluxDB p50 / p99 | latency growth | "
        "→ API rules p50 / p99 (n) | lost / seqs |",
        "|" + "---|" * 16,
    ]
    for s in steps:
        env = " / ".join(num(s.us_per_point(n), ".1f") for n in ("sim", "mosquitto", "influxd"))
        rows.append(
            f"| {s.offered:,.0f}{' (again)' if s.note else ''} | {s.devices} | {s.seconds:.0f} | {s.stored:,.0f} | "
            f"{s.stored / s.offered:.1%} | {'yes' if s.sustained else '**no**'} | "
            f"{num(s.us_per_point('gateway'), '.1f')} | "
            f"{num(s.us_per_point('collector'), '.1f')} | {num(s.us_per_point('api'), '.1f')} | "
            f"**{num(s.facmon_us, '.1f')}** | {env} | {s.busy_cores:.2f} ({s.bench_cores:.2f}, {s.others_cores:.2f}) | "
            f"{num(percentile(s.latency_ms, 0.5), '.0f')} / "
            f"{num(percentile(s.latency_ms, 0.99), '.0f')} ms | "
            f"{num(s.lag_growth_s, '+.2f')} s | "
            f"{num(percentile(s.alert_ms, 0.5), '.0f')} / "
            f"{num(percentile(s.alert_ms, 0.99), '.0f')} ms ({len(s.alert_ms)}) | "
            f"{num(s.lost, ',')} / {s.seqs[1] - s.seqs[0]:,} |"
        )
    return rows


def section(data: dict[str, Any]) -> str:
    """The "End to end" section of docs/benchmarks.md."""
    ramp_data = data["ramp"]
    steps: list[Step] = ramp_data["steps"]
    points = ramp_data["points"]
    fig = figures(data, points)
    best: Step | None = fig["best"]
    target: Step | None = fig["target"]
    mem = data.get("memory")
    broker, influx = data.get("broker_ceiling"), data.get("influx_ceiling")
    lines = [
        "## End to end",
        "",
        "The whole pipeline on one machine, measured in one run of `bench/e2e/run.py` "
        f"(`make bench`, {data['runtime_s']:.0f} s).",
        "",
        "### Method",
        "",
        "- Real Mosquitto and InfluxDB 1.x, `facmon sim`, `facmon gateway`, `facmon collector` "
        "(defaults: 5,000-line / 250 ms gzipped batches) and `facmon api` with its default alert "
        "rules judging every reading, plus one threshold rule (below), all as started by "
        "`bench/pipeline.py` (the soak's).",
        f"- **Ramp**: N -48 V power systems (`{PROFILE}`, {points} points a reading) polled every "
        f"{INTERVAL_S:g} s, dealt over {data['endpoints']} simulated endpoints (buses) with "
        f"4 TCP connections each, plus {ENDPOINTS} CRACs; the offered load rises step by step "
        "(the gateway is restarted with the larger fleet; the other processes keep running). "
        f"A step is measured from {data['warmup']:g} s after the gateway's start "
        f"({FIRST_WARMUP_S:g} s after the first one), or later, once the median latency to "
        f"InfluxDB of the watched devices' last readings is below {SETTLED_MS / 1000:g} s "
        f"again (a restarted gateway catches up; at most {SETTLE_LIMIT_S:g} s after the "
        f"start), for {data['step_seconds']:g} s "
        f"({data['hold']:g} s for the first step at ≥ {TARGET_RATE:,} points/s, or for the "
        "highest sustained step if that one fails). The ramp stops at the first step not "
        "sustained.",
        "- **stored points/s**: the readings whose `ts` falls in the window, counted in InfluxDB "
        f"{GRACE_S:g} s after it, times their points. **Sustained**: stored ≥ "
        f"{SUSTAINED_SHARE:.0%} of offered and the latency to InfluxDB did not grow by more than "
        f"{LAG_GROWTH_S:g} s between the first and the last third of the window (medians).",
        "- **CPU µs/point**: utime + stime of each process over the window (`/proc/<pid>/stat`), "
        "divided by the points stored. **facmon** = gateway + collector + API; the simulator, "
        "Mosquitto and InfluxDB are the environment. *Cores busy*: the whole machine "
        "(`/proc/stat`); in brackets the benchmark's own measuring, and the rest (processes "
        "outside the benchmark: when it is high the figures are pessimistic).",
        f"- **→ InfluxDB**: every {WATCH_EVERY_S * 1000:.0f} ms the benchmark asks InfluxDB for "
        f"the newest reading of {WATCHED} of the devices; each new one is a sample, from its `ts` "
        "(the gateway's clock when the device answered the poll's first request) to the moment "
        "the answer came back: it includes up to 100 ms of polling and the query.",
        f"- **→ API rules**: a threshold rule (`{RULE}`: the setpoint above 27 °C, cleared below "
        f"25 °C) on {ENDPOINTS} CRACs; the benchmark writes their setpoint over Modbus (29.0, then "
        "22.0 °C) every 2-3 s, out of step with the polls. A sample runs from the `ts` of the "
        "first reading with the new value (seen on MQTT) to the alert message the API publishes "
        "on `facmon/v1/alerts/<site>` for it (firing or resolved), as received by the benchmark: "
        "the API's MQTT intake, the rules, the alert's write to its registry and the publish.",
        "- **Loss**: every gateway message carries a `seq`; after the ramp the gateway is "
        "stopped, the collector drains and the distinct `facmon_seq` values stored are counted "
        "against the seqs each step's gateway handed out (its spool's counter; a message "
        "still in the spool is not lost).",
        f"- **Memory**: first, on fresh facmon processes, {MEMORY_DEVICES:,} `{SMALL_PROFILE}` "
        f"devices polled every second; resident memory (`VmRSS`) {MEMORY_S:g} s after the first "
        "reading is stored.",
        f"- **Ceilings**, in the same run: Mosquitto alone, {BROKER_MESSAGES:,} copies of a "
        "captured gateway envelope of a power system (the same size) from `mosquitto_pub -l` to "
        "`mosquitto_sub`, QoS 1, in points/s; InfluxDB alone, "
        f"{INFLUX_READINGS:,} such readings in facmon's own line protocol as pre-built gzipped "
        f"{INFLUX_BATCH:,}-line batches POSTed one after the other (the collector's largest "
        "batch; in the pipeline its batches are smaller).",
        f"- Reference: ThingsBoard's published figure for 2 vCPUs, {THINGSBOARD_RATE:,} data "
        "points/s ([Performance on AWS EC2](https://thingsboard.io/docs/reference/"
        "performance-aws-instances/): one server with its database, smart-meter messages of 3 "
        "data points, alarm rules; not measured here).",
        "",
        "### Machine",
        "",
        f"{data['machine']}; run {data['when']}.",
        "",
        "### Results",
        "",
        *step_rows(steps),
        "",
    ]
    if ramp_data.get("skipped"):
        skipped = ", ".join(f"{r:,.0f}" for r in ramp_data["skipped"])
        lines += [f"Not run (a step below was not sustained): {skipped} points/s.", ""]
    loss = ramp_data.get("loss", {})
    lines += [
        f"Loss over the whole ramp: highest seq {loss.get('expected', 0):,}, stored "
        f"{loss.get('stored', 0):,} distinct, in the spool {loss.get('in_spool', 0):,}, "
        f"**lost {num(loss.get('lost'), ',')}** (spool drops {loss.get('spool_dropped', 0)}). "
        f"Setpoint writes: {ramp_data.get('toggles', 0)} rounds x {ENDPOINTS} CRACs "
        f"({ramp_data.get('toggle_errors', 0)} failed); setpoint changes read but never "
        f"alerted: {ramp_data.get('alerts_untold', 0)}; alert messages with no change read "
        f"before them: {ramp_data.get('alerts_unmatched', 0)}.",
        "",
        "| stage | points/s | reference | ratio |",
        "|---|---|---|---|",
    ]
    facmon_best = best.stored if best else 0.0
    if broker and fig["broker_points_s"]:
        lines.append(
            f"| Mosquitto alone (QoS 1, one publisher, one subscriber) | "
            f"{fig['broker_points_s']:,.0f} ({broker['messages_s']:,.0f} msg/s, "
            f"{broker['broker_cores']:.2f} cores) | facmon's highest sustained "
            f"{facmon_best:,.0f} | {facmon_best / fig['broker_points_s']:.3f}x |"
        )
    if influx and fig["influx_points_s"]:
        lines.append(
            f"| InfluxDB alone (pre-built batches) | {fig['influx_points_s']:,.0f} "
            f"({influx['influx_cores']:.2f} cores) | facmon's highest sustained "
            f"{facmon_best:,.0f} | {facmon_best / fig['influx_points_s']:.3f}x |"
        )
    lines.append(
        f"| ThingsBoard, 2 vCPUs (published) | {THINGSBOARD_RATE:,} | facmon's highest "
        f"sustained {facmon_best:,.0f} | {facmon_best / THINGSBOARD_RATE:.2f}x |"
    )
    if mem:
        lines += [
            "",
            f"Memory with {mem['devices']:,} `{SMALL_PROFILE}` devices "
            f"({mem['devices'] * mem['points'] / INTERVAL_S:,.0f} points/s offered), RSS "
            f"{MEMORY_S:g} s after the "
            "first reading:",
            "",
            "| " + " | ".join(MEASURED) + " |",
            "|" + "---|" * len(MEASURED),
            "| " + " | ".join(num(mem["rss_mib"].get(n), ".0f") + " MiB" for n in MEASURED) + " |",
        ]
    lines += ["", "### Targets", ""]
    if target is None:
        lines.append(
            f"- **≥ {TARGET_RATE:,} points/s sustained for {data['hold']:g} s, zero loss**: "
            "the step was not run (a step below it was not sustained): **NOT met**."
        )
    else:
        lines.append(
            f"- **≥ {TARGET_RATE:,} points/s sustained for {data['hold']:g} s, zero loss**: "
            f"{target.offered:,.0f} points/s offered, {target.stored:,.0f} stored "
            f"({target.stored / target.offered:.1%}; sustained means ≥ {SUSTAINED_SHARE:.0%} "
            f"and a latency that does not grow) over {target.seconds:.0f} s, "
            f"{num(target.lost, ',')} lost: **{'met' if fig['target_met'] else 'NOT met'}**."
        )
        if target.others_cores > 0.2:
            lines.append(
                f"  - Processes outside the benchmark took {target.others_cores:.2f} cores "
                f"during that step (the machine: {target.busy_cores:.2f} of {os.cpu_count()} "
                "busy): the pipeline competed with them for the cores."
            )
        lines.append(
            f"- **≤ {TARGET_US:g} µs of CPU per point** (gateway + collector + API) at that step: "
            f"**{num(target.facmon_us, '.1f')} µs** "
            f"(gateway {num(target.us_per_point('gateway'), '.1f')}, collector "
            f"{num(target.us_per_point('collector'), '.1f')}, API "
            f"{num(target.us_per_point('api'), '.1f')}): "
            f"**{'met' if fig['cpu_met'] else 'NOT met'}**."
        )
    if best is not None:
        lines.append(
            f"- Highest step sustained with zero loss: {best.stored:,.0f} points/s "
            f"({best.stored / THINGSBOARD_RATE:.2f}x ThingsBoard's published 2-vCPU figure), "
            f"{num(best.facmon_us, '.1f')} µs of facmon CPU per point, the machine "
            f"{best.busy_cores:.2f} of {os.cpu_count()} cores busy."
        )
    if ramp_data.get("profile"):
        lines += ["", "### Where the gateway spends its CPU", "", ramp_data["profile"]]
    problems = {**ramp_data.get("died", {}), **(mem or {}).get("died", {})}
    if problems:
        lines += ["", "### Problems seen during the run", "", "```"]
        lines += [f"{name}: {why}" for name, why in problems.items()]
        lines.append("```")
    return "\n".join(lines) + "\n"
