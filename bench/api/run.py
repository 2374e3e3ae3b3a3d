"""The asset list under load: facmon's API against a bare Starlette endpoint, in one run.

A real Mosquitto and `facmon api` (SQLite registry) are started here; 10,000 assets are
imported, each bound to a device, and every device publishes a reading (one in ten is then
reported offline by its gateway). `wrk` (Debian's package) loads
`GET /api/v1/assets?status=offline&limit=100` with 64 connections, then the same path on a
bare Starlette app returning the very bytes facmon answered, served the same way (uvicorn,
one process). Writes the "API" section of docs/benchmarks.md.

    .venv/bin/python bench/api/run.py [--seconds 10] [--no-doc]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from api.registry.tokens import new_token  # noqa: E402
from bench.harness.mosquitto import MosquittoServer  # noqa: E402
from bench.sections import head_commit, write_section  # noqa: E402
from facmon.net import free_port  # noqa: E402

ASSETS = 10_000
CONNECTIONS = 64
PATH = "/api/v1/assets?status=offline&limit=100"
BARE = """
import sys
import uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

BODY = open(sys.argv[2], "rb").read()

async def assets(request):
    return Response(BODY, media_type="application/json")

app = Starlette(routes=[Route("/api/v1/assets", assets)])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, access_log=False)
"""


def wait(url: str, headers: dict[str, str] | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, headers=headers, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout} s")


def populate(base: str, auth: dict[str, str], registry: Path, broker: MosquittoServer) -> None:
    for path, body in [
        ("sites", {"id": "hq", "name": "HQ"}),
        ("buildings", {"id": "b1", "site_id": "hq", "name": "B1"}),
        ("floors", {"id": "f1", "building_id": "b1", "name": "1F"}),
        ("rooms", {"id": "r1", "floor_id": "f1", "name": "Hall"}),
    ]:
        httpx.post(f"{base}/api/v1/{path}", json=body, headers=auth).raise_for_status()
    rows = ["id,name,category,room_id"] + [
        f"a-{n:05d},Asset {n},{('ups', 'crac', 'meter', 'office')[n % 4]},r1" for n in range(ASSETS)
    ]
    httpx.post(
        f"{base}/api/v1/assets/import?dry_run=false",
        content="\n".join(rows),
        headers={**auth, "Content-Type": "text/csv"},
        timeout=120,
    ).raise_for_status()
    with sqlite3.connect(registry) as db:  # 10,000 bindings at once, not 10,000 requests
        db.executemany(
            "INSERT INTO bindings (asset_id, device, effective_from) VALUES (?, ?, ?)",
            [(f"a-{n:05d}", f"d-{n:05d}", "2020-01-01 00:00:00.000000") for n in range(ASSETS)],
        )
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    now = int(time.time() * 1000)
    for n in range(ASSETS):
        body = {"ts": now, "seq": 1, "measurement": "m", "values": {"v": n * 0.5}}
        client.publish(f"facmon/v1/hq/gw-1/d-{n:05d}/data", orjson.dumps(body))
        if n % 10 == 0:
            state = {"state": "offline", "since": now, "error": "timeout"}
            client.publish(f"facmon/v1/hq/gw-1/d-{n:05d}/state", orjson.dumps(state), retain=True)
    client.loop_stop()
    client.disconnect()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        seen = httpx.get(f"{base}/api/v1/devices", headers=auth, timeout=10).json()
        if len(seen) == ASSETS:
            break
        time.sleep(0.5)
    # a change through the API makes the listing re-read the bindings written above
    extra = {"id": "z-extra", "name": "Extra", "category": "office"}
    httpx.post(f"{base}/api/v1/assets", json=extra, headers=auth).raise_for_status()


def load(url: str, token: str, seconds: int) -> dict[str, float]:
    output = subprocess.run(
        [
            *("wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency"),
            *("-H", f"Authorization: Bearer {token}", url),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])  # type: ignore[index]
    latency = {
        pct: _ms(value) for pct, value in re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, re.M)
    }
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": rate,
        "p50_ms": latency["50"],
        "p99_ms": latency["99"],
        "errors": float(errors[1]) if errors else 0.0,
    }


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="of each server in each round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench/api needs wrk: apt-get install wrk")
    token = new_token()
    auth = {"Authorization": f"Bearer {token}"}
    with tempfile.TemporaryDirectory(prefix="facmon-bench-api-") as tmp:
        work = Path(tmp)
        (work / "mq").mkdir()
        with MosquittoServer(work / "mq") as broker:
            port, bare_port = free_port(), free_port()
            config = {
                "port": port,
                "broker": {"url": broker.url},
                "store": {"kind": "sqlite", "path": str(work / "telemetry.db")},
                "database": f"sqlite:///{work / 'registry.db'}",
                "bootstrap_token": token,
            }
            (work / "api.yaml").write_text(yaml.safe_dump(config))
            command = [sys.executable, "-m", "launcher", "--log-level", "warning", "api"]
            api = subprocess.Popen(
                [*command, "--config", str(work / "api.yaml")],
                stderr=subprocess.DEVNULL,
            )
            try:
                base = f"http://127.0.0.1:{port}"
                wait(f"{base}/healthz")
                populate(base, auth, work / "registry.db", broker)
                body = httpx.get(f"{base}{PATH}", headers=auth, timeout=30).content
                page = orjson.loads(body)
                (work / "body.json").write_bytes(body)
                bare = subprocess.Popen(
                    [sys.executable, "-c", BARE, str(bare_port), str(work / "body.json")]
                )
                try:
                    wait(f"http://127.0.0.1:{bare_port}{PATH}")
                    # Alternated, so that the machine's drift falls on both alike.
                    urls = {
                        "bare": f"http://127.0.0.1:{bare_port}{PATH}",
                        "facmon": f"{base}{PATH}",
                    }
                    rounds = [
                        {name: load(url, token, args.seconds) for name, url in urls.items()}
                        for _ in range(args.rounds)
                    ]
                finally:
                    bare.terminate()
                    bare.wait(10)
            finally:
                api.terminate()
                api.wait(20)
    section = report(rounds, page, len(body), args.seconds)
    print(section)
    if not args.no_doc:
        write_section("API", section)


def report(
    rounds: list[dict[str, dict[str, float]]], page: dict[str, Any], size: int, seconds: int
) -> str:
    bare, facmon = (
        {key: statistics.median(r[name][key] for r in rounds) for key in rounds[0][name]}
        for name in ("bare", "facmon")
    )
    ratio = facmon["rps"] / bare["rps"]
    ratios = ", ".join(f"{r['facmon']['rps'] / r['bare']['rps']:.2f}x" for r in rounds)
    p99s = ", ".join(f"{r['facmon']['p99_ms']:.1f}" for r in rounds)
    commit = head_commit()
    return f"""## API

The asset list under load, measured in one run of `bench/api/run.py` (`make bench`).

### Method

- Real Mosquitto and `facmon api` (SQLite registry) started by the benchmark; {ASSETS:,} assets imported as a CSV ledger, each bound to a device; every device sends a reading, and one in ten is reported offline by its gateway.
- `wrk` with {CONNECTIONS} connections for {seconds} s on `GET {PATH}` ({page["total"]:,} offline assets, a {size:,}-byte page of {len(page["items"])}), with a viewer-or-better token.
- **bare**: a Starlette endpoint returning the same bytes, served the same way (uvicorn, one process, no access log), under the same load.
- {len(rounds)} rounds, each loading bare then facmon; the figures are the medians of the rounds.
- facmon recomputes the {ASSETS:,} statuses when something that can change one happens (a registry change through the API; a device's state, failing points or gateway presence), when a reading goes stale, and at least every minute, and keeps each distinct answer until then.

### Machine

{os.cpu_count()} cores; facmon at {commit}; run {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}. `wrk` runs on the same cores.

### Results

| server | requests/s | p50 | p99 | errors |
|---|---|---|---|---|
| bare Starlette | {bare["rps"]:,.0f} | {bare["p50_ms"]:.1f} ms | {bare["p99_ms"]:.1f} ms | {bare["errors"]:.0f} |
| facmon | {facmon["rps"]:,.0f} | {facmon["p50_ms"]:.1f} ms | {facmon["p99_ms"]:.1f} ms | {facmon["errors"]:.0f} |

### Targets

- **Throughput vs bare Starlette**: {facmon["rps"]:,.0f} / {bare["rps"]:,.0f} = **{ratio:.2f}x** (rounds: {ratios}; target ≥ 0.8x): **{"met" if ratio >= 0.8 else "NOT met"}**.
- **p99**: **{facmon["p99_ms"]:.1f} ms** (rounds: {p99s} ms; target < 20 ms): **{"met" if facmon["p99_ms"] < 20 else "NOT met"}**. The bare endpoint's p99 in the same run: {bare["p99_ms"]:.1f} ms, with `wrk` sharing the {os.cpu_count()} cores.
"""


if __name__ == "__main__":
    main()
