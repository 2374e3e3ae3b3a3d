"""What the gateway benchmark watches: an MQTT subscriber counting what the gateway under test
publishes, the problem lines of its log, and py-spy's samples of it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt

from bench.harness.processes import PY_SPY
from bench.profiling import profile_tables


@dataclass
class Tally:
    """What the subscriber has seen so far (read under the GIL; paho's thread writes)."""

    messages: int = 0
    data: int = 0
    points: int = 0
    seqs: list[int] = field(default_factory=list)
    devices: Counter[str] = field(default_factory=Counter)

    def snapshot(self) -> tuple[int, int, int, int]:
        """Messages, data envelopes, points and seqs counted so far."""
        return self.messages, self.data, self.points, len(self.seqs)


class Subscriber:
    """A paho client counting envelopes (facmon) or telemetry values (thingsboard-gateway)."""

    def __init__(self, port: int, topic: str, kind: str) -> None:
        self.tally = Tally()
        self.kind = kind
        self.topic = topic
        self.first = threading.Event()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-counter-{kind}-{os.getpid()}"
        )
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        if not self.subscribed.wait(10):
            raise RuntimeError(f"could not subscribe to {topic}")

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.subscribe(self.topic, qos=1)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        t = self.tally
        t.messages += 1
        try:
            body = orjson.loads(msg.payload)
        except orjson.JSONDecodeError:
            return
        if self.kind == "facmon":
            if "seq" in body:
                t.seqs.append(body["seq"])
            levels = msg.topic.split("/")
            # .../{gateway}/{device}/data; the gateway's health readings use its own id
            if levels[-1] == "data" and levels[-2] != levels[-3]:
                t.data += 1
                t.points += len(body.get("values", {}))
                t.devices[msg.topic.split("/")[-2]] += 1
                self.first.set()
        else:  # v1/gateway/telemetry: {"device": [{"ts": ms, "values": {...}}, ...], ...}
            for device, entries in body.items():
                for entry in entries if isinstance(entries, list) else [entries]:
                    values = entry.get("values", entry) if isinstance(entry, dict) else {}
                    n = sum(1 for key in values if key != "ts")
                    if n:
                        t.data += 1
                        t.points += n
                        t.devices[device] += 1
            if t.points:
                self.first.set()

    def close(self) -> None:
        """Stop the network loop and disconnect."""
        self.client.loop_stop()
        self.client.disconnect()


def log_excerpt(path: Path, lines: int = 12) -> str:
    """Lines of ``path`` that look like problems (warnings, errors, tracebacks), last first."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    keys = ("WARN", "ERROR", "CRITICAL", "Traceback", "Exception", "Error")
    expected = ("update service",)  # thingsboard-gateway's update check, sent nowhere on purpose
    bad = [
        line
        for line in text
        if any(k in line for k in keys) and not any(e in line for e in expected)
    ]
    return "\n".join(bad[-lines:])


def py_spy_top(pid: int, workdir: Path, seconds: float, top: int = 12) -> str:
    """Sample ``pid`` with py-spy for ``seconds``; the functions with the most time."""
    py_spy = shutil.which("py-spy") or str(PY_SPY)
    if not Path(py_spy).exists():
        return ""
    out = workdir / "py-spy.txt"
    run = subprocess.run(
        [
            py_spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds)),
            "--format",
            "raw",
            "--output",
            str(out),
            "--rate",
            "200",
            "--nonblocking",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=seconds + 30,
    )
    if run.returncode != 0 or not out.exists():
        return f"(py-spy failed: {run.stderr.strip()[-300:]})"
    return profile_tables(
        out.read_text(),
        f"{seconds:g} s of the facmon-fleet gateway (right after its window)",
        top_own=top,
        top_inclusive=top,
    )
