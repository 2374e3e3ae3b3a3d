"""The gateway benchmark's report: the results table, the verdicts against the targets, the
"Gateway" section of docs/benchmarks.md and the history of full runs on this machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.gateway.fleet import (
    ENDPOINTS,
    FLEET_INTERVAL_S,
    MIN_INTERVAL_S,
    REGISTERS,
    SHARED_UNITS,
    UNITS,
)
from bench.gateway.result import Result
from bench.gateway.runs import ROOT
from bench.gateway.tbgw import CACHE, TB_INTERVAL_S, TB_PYMODBUS, TB_VERSION
from bench.sections import head_commit

HISTORY = CACHE / "history.jsonl"
# Bumped when the method changes; the history table shows runs of the current method only.
METHOD = 2
HISTORY_COLUMNS = (
    ("fleet_points_per_s", 0),
    ("us_per_point", 2),
    ("tb_points_per_s", 0),
    ("throughput_ratio", 1),
    ("conn_polls_per_s", 0),
    ("floor_polls_per_s", 0),
    ("per_connection_ratio", 2),
    ("fleet_others_pct", 0),
)
"""The history table's figures after the date and the commit, with their decimals."""


def machine() -> dict[str, str]:
    """This machine (cores, CPU, memory, Python), the commit measured and the time of the run."""
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    commit = head_commit()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "gateway", "devices", "facmon"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    ).stdout.strip()
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "memory": f"{mem_kb / 1024 / 1024:.0f} GiB",
        "python": sys.version.split()[0],
        "commit": commit + (" (+ uncommitted changes)" if dirty else ""),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _fmt(value: float, digits: int = 0) -> str:
    """``value`` with thousands separators and ``digits`` decimals; ``-`` for NaN."""
    if value != value:  # NaN
        return "-"
    return f"{value:,.{digits}f}"


def table(results: dict[str, Result]) -> list[str]:
    """The results as the rows of a Markdown table."""
    head = (
        "| run | devices | offered polls/s | polls/s | points/s | CPU % of a core | CPU µs/point "
        "| CPU µs/poll | sim CPU % | broker CPU % | others' CPU % | note |"
    )
    rows = [head, "|" + "---|" * 12]
    for r in results.values():
        rows.append(
            f"| {r.name} | {r.devices_seen} | {_fmt(r.offered_polls_per_s) if r.offered_polls_per_s else '-'} "
            f"| {_fmt(r.polls_per_s)} | {_fmt(r.points_per_s)} "
            f"| {_fmt(r.cpu_pct)} | {_fmt(r.us_per_point, 2)} | {_fmt(r.us_per_poll)} "
            f"| {_fmt(100 * r.sim_cpu_s / r.seconds)} | {_fmt(100 * r.broker_cpu_s / r.seconds)} "
            f"| {_fmt(100 * r.other_cpu_s / r.seconds) if r.other_cpu_s or r.name != 'c-floor' else '-'} "
            f"| {r.note} |"
        )
    return rows


def _met(ok: bool) -> str:
    return "**met**" if ok else "**NOT met**"


def _ratio(
    figures: dict[str, float], key: str, ours: Result | None, theirs: Result | None, rate: str
) -> float | None:
    """``ours`` over ``theirs`` by the ``rate`` property, kept in ``figures[key]``; ``None`` when
    either did not run or ``theirs`` delivered nothing."""
    if ours is None or theirs is None or not getattr(theirs, rate):
        return None
    ratio: float = getattr(ours, rate) / getattr(theirs, rate)
    figures[key] = ratio
    return ratio


def verdicts(results: dict[str, Result]) -> tuple[list[str], dict[str, float]]:
    """The three targets, with numbers; and the figures kept in the run history."""
    out: list[str] = []
    figures: dict[str, float] = {}
    fleet = results.get("facmon-fleet")
    tb = results.get("tbgw-per-key")
    same = results.get("tbgw-same")
    wide = results.get("tbgw-wide")
    conn = results.get("facmon-1conn")
    floor = results.get("c-floor")
    single = results.get("facmon-1dev")
    if (ratio := _ratio(figures, "throughput_ratio", fleet, tb, "points_per_s")) is not None:
        out.append(
            f"- **Throughput, facmon vs thingsboard-gateway** (same {fleet.devices_seen} devices, "
            f"its required one key per register, at the rate it sustains): "
            f"{_fmt(fleet.points_per_s)} / {_fmt(tb.points_per_s)} points/s = **{ratio:.1f}x** "
            f"(target ≥ 10x): {_met(ratio >= 10)}. Per point it spends "
            f"{_fmt(tb.us_per_point, 0)} µs of CPU against facmon's "
            f"{_fmt(fleet.us_per_point, 1)} µs ({tb.us_per_point / fleet.us_per_point:.0f}x)."
        )
    if fleet and same:
        text = (
            f"{same.points_per_s / fleet.points_per_s:.3f} of facmon's"
            if same.points_per_s
            else "nothing"
        )
        out.append(
            f"  - Given the fleet's configuration (each device every {FLEET_INTERVAL_S:g} s), "
            f"thingsboard-gateway delivered {_fmt(same.points_per_s)} points/s ({text}) at "
            f"{_fmt(same.cpu_pct)} % CPU: its polls pile up faster than they finish."
        )
    if (ratio := _ratio(figures, "throughput_ratio_wide", fleet, wide, "points_per_s")) is not None:
        out.append(
            f"  - With its 3.8 wide-range address (one request per block, as facmon does; not "
            f"the one-key-per-register setup the target refers to): facmon moves {ratio:.1f}x "
            f"the points ({_fmt(wide.points_per_s)} points/s at {_fmt(wide.cpu_pct)} % CPU, "
            f"{_fmt(wide.us_per_point, 0)} µs/point)."
        )
    if fleet:
        figures["us_per_point"] = fleet.us_per_point
        out.append(
            f"- **facmon CPU per point** (fleet, {_fmt(fleet.points_per_s)} points/s at "
            f"{_fmt(fleet.cpu_pct)} % of a core): **{fleet.us_per_point:.2f} µs** (target ≤ 15): "
            f"{_met(fleet.us_per_point <= 15)}."
        )
        saturated = fleet.polls_per_s < 0.95 * fleet.offered_polls_per_s
        busy = (
            fleet.cpu_s
            + fleet.sim_cpu_s
            + fleet.broker_cpu_s
            + fleet.bench_cpu_s
            + fleet.other_cpu_s
        ) / fleet.seconds
        out.append(
            f"  - The fleet was offered {_fmt(fleet.offered_polls_per_s)} polls/s and "
            f"{'served' if not saturated else 'could serve only'} {_fmt(fleet.polls_per_s)}: "
            + (
                f"the gateway is saturated (the machine was {busy:.1f} of "
                f"{os.cpu_count()} cores busy), so this is its throughput on this machine."
                if saturated
                else "the gateway kept up, so its throughput limit is higher than this."
            )
        )
    if (ratio := _ratio(figures, "per_connection_ratio", conn, floor, "polls_per_s")) is not None:
        out.append(
            f"- **Per connection, facmon vs the C floor**: {_fmt(conn.polls_per_s)} / "
            f"{_fmt(floor.polls_per_s)} polls/s = **{ratio:.2f}x** (target ≥ 0.25x): "
            f"{_met(ratio >= 0.25)}. facmon spends {_fmt(conn.us_per_poll)} µs of CPU per "
            f"poll, libmodbus {_fmt(floor.us_per_poll)} µs; a poll is one request and one answer "
            f"on one connection, so the rate is bounded by the client's CPU per poll plus the "
            f"simulator's answer time."
        )
    if (ratio := _ratio(figures, "single_device_ratio", single, floor, "polls_per_s")) is not None:
        out.append(
            f"  - One device alone on its connection is capped by the configuration "
            f"(`interval_s` ≥ {MIN_INTERVAL_S:g} s, so ≤ {1 / MIN_INTERVAL_S:.0f} polls/s): "
            f"{_fmt(single.polls_per_s)} polls/s = {ratio:.3f}x the C floor. The per-connection "
            f"figure therefore puts {SHARED_UNITS} devices on one connection."
        )
    return out, figures


def render(
    results: dict[str, Result],
    info: dict[str, str],
    args: argparse.Namespace,
    problems: list[str],
    history: list[dict[str, Any]],
    profile: str,
) -> str:
    """The "Gateway" section of docs/benchmarks.md: method, machine, results, targets, history."""
    fleet_devices = ENDPOINTS * UNITS
    lines = [
        "## Gateway",
        "",
        "Modbus polling throughput with 100-register blocks: facmon's gateway, "
        "thingsboard-gateway and a C floor, measured in one run of `make bench` "
        "(`bench/gateway/run.py`) on one machine. Each run rewrites this section.",
        "",
        "### Method",
        "",
        f"- A temporary profile of {REGISTERS} `uint16` holding points at addresses "
        f"0..{REGISTERS - 1}, so one {REGISTERS}-register read per poll. `facmon sim` serves "
        f"the devices, a local Mosquitto carries the data, and a paho subscriber counts the "
        f"values received. CPU is utime + stime from `/proc/PID/stat` (all threads and child "
        f"processes) over the measurement window; µs/point and µs/poll divide it by what the "
        f"subscriber received in that window.",
        f"- **facmon-fleet**: `facmon gateway` polls {fleet_devices} devices ({ENDPOINTS} "
        f"endpoints x {UNITS} unit ids, one connection per endpoint) every "
        f"{FLEET_INTERVAL_S:g} s; if it keeps up (serves ≥ 95 % of the polls), again with "
        f"a quarter of the interval (down to the model's minimum), so that the run "
        f"saturates it; the subscriber on "
        f"`facmon/v1/#` counts the values of each data envelope over {args.window:g} s after "
        f"{args.warmup:g} s of warm-up. The gateway runs with its defaults (disk spool).",
        f"- **facmon-1dev**: one device alone on one connection, polled every "
        f"{MIN_INTERVAL_S:g} s, the smallest `interval_s` the configuration model accepts.",
        f"- **facmon-1conn**: facmon's per-connection maximum: {SHARED_UNITS} devices behind "
        f"one endpoint, each every {MIN_INTERVAL_S:g} s, so the connection is never idle.",
        f"- **c-floor**: `bench/gateway/floor.c` (libmodbus, gcc -O2) loops "
        f"`modbus_read_registers(ctx, 0, {REGISTERS}, buf)` on one connection to one simulated "
        f"device for {args.short_window:g} s after 1 s of warm-up; CPU from getrusage. Its rate "
        f"is bounded by the Python simulator's answer time (see its sim CPU %).",
        f"- **thingsboard-gateway {TB_VERSION}** from PyPI (pymodbus {TB_PYMODBUS}, its own "
        f"venv in `bench/gateway/.cache`), Modbus connector on the same {fleet_devices} "
        f"devices, one timeseries key per register (its classic config: one Modbus request "
        f"per key), `reportStrategy` ON_RECEIVED, its telemetry published to the same "
        f"Mosquitto and counted on `v1/gateway/telemetry`. A few-line responder answers its "
        f"`getSessionLimits` RPC as a ThingsBoard server would (without an answer it holds "
        f"all telemetry back); its update check is sent to a dead local proxy.",
        f"  - **tbgw-same**: `pollPeriod` {FLEET_INTERVAL_S * 1000:g} ms, the "
        f"fleet's configuration, as in facmon's first fleet run; **tbgw-per-key**: `pollPeriod` {TB_INTERVAL_S * 1000:g} ms, which "
        f"it sustains, over a {args.window * 1.5:g} s window as it publishes in bursts (the "
        f"throughput target is measured against this one); **tbgw-wide**: "
        f"`pollPeriod` {FLEET_INTERVAL_S * 1000:g} ms with its wide-range address "
        f'(`"address": "0-{REGISTERS - 1}"`, `maxRegistersPerRequest` {REGISTERS}, tag '
        f"`r${{address}}`): one request per block, like facmon.",
        "- Everything shares the machine: the gateway under test competes for the cores with "
        "the simulator, the broker and the subscriber. *Others' CPU %* is the rest of the "
        "machine's busy time in the window (processes outside the benchmark); when it is high "
        "the figures are pessimistic.",
        "",
        "### Machine",
        "",
        f"{info['nproc']} cores ({info['cpu']}), {info['memory']} RAM, Python "
        f"{info['python']}; facmon at {info['commit']}; run {info['date']}.",
        "",
        "### Results",
        "",
        *table(results),
        "",
        "CPU % is of one core. Offered polls/s is devices ÷ interval.",
        "",
        "### Targets",
        "",
        *verdicts(results)[0],
    ]
    lost = [r for r in results.values() if r.lost]
    if lost:
        lines += [
            "",
            "Sequence gaps seen by the subscriber: "
            + ", ".join(f"{r.name} {r.lost}" for r in lost)
            + ".",
        ]
    if profile:
        lines += ["", "### Where facmon's gateway spends its CPU", "", profile]
    if len(history) > 1:
        lines += [
            "",
            "### Recent runs on this machine",
            "",
            "Full runs of `make bench` with this method (kept in "
            "`bench/gateway/.cache/history.jsonl`), for the spread; the gateway may have "
            "changed between them (see the commit).",
            "",
            "| date | commit | facmon points/s | facmon µs/point | tbgw points/s | ratio "
            "| 1conn polls/s | C floor polls/s | per-conn ratio | others' CPU % (fleet) |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        nan = float("nan")
        for h in history[-6:]:
            cells = " | ".join(_fmt(h.get(key, nan), digits) for key, digits in HISTORY_COLUMNS)
            lines.append(f"| {h['date']} | {h['commit']} | {cells} |")
    if problems:
        lines += ["", "### Problems seen during the run", "", "```", *problems, "```"]
    return "\n".join(lines) + "\n"


def record_history(
    results: dict[str, Result], figures: dict[str, float], info: dict[str, str]
) -> list[dict[str, Any]]:
    """Append this run's key figures to .cache/history.jsonl; return every run's."""
    entry: dict[str, Any] = {
        "date": info["date"],
        "commit": info["commit"].split()[0],
        "method": METHOD,
        **figures,
    }
    for key, name, attr in (
        ("fleet_points_per_s", "facmon-fleet", "points_per_s"),
        ("tb_points_per_s", "tbgw-per-key", "points_per_s"),
        ("conn_polls_per_s", "facmon-1conn", "polls_per_s"),
        ("floor_polls_per_s", "c-floor", "polls_per_s"),
    ):
        if name in results:
            entry[key] = getattr(results[name], attr)
    if "facmon-fleet" in results:
        fleet = results["facmon-fleet"]
        entry["fleet_others_pct"] = 100 * fleet.other_cpu_s / fleet.seconds
    CACHE.mkdir(parents=True, exist_ok=True)
    with HISTORY.open("a") as out:
        out.write(json.dumps(entry) + "\n")
    return read_history()


def read_history() -> list[dict[str, Any]]:
    """Every full run recorded on this machine, oldest first."""
    if not HISTORY.exists():
        return []
    runs = [json.loads(line) for line in HISTORY.read_text().splitlines() if line.strip()]
    return [run for run in runs if run.get("method") == METHOD]
