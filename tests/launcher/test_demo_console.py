"""The demo's console: the live table, and one line per alert change when not a terminal."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from launcher.demo_console import DemoConsole, Links, Snapshot, render


def alert(number: int, state: str = "firing") -> dict[str, Any]:
    return {
        "id": f"a-{number}",
        "state": state,
        "severity": "critical",
        "rule": "server-room-hot-demo",
        "subject": "th-b1-201-1",
        "labels": {"asset": "th-b1-201-1", "room": "b1-201", "device": "th-b1-201-1"},
        "summary": "temperature is 31.5, above 27",
        "started_at": "2026-11-27T12:30:05+00:00",
    }


def snapshot(**changes: Any) -> Snapshot:
    fields: dict[str, Any] = {
        "elapsed_s": 42.0,
        "readings_per_s": 31.4,
        "stored": 1234,
        "states": Counter({"online": 74, "offline": 1}),
        "open_alerts": [alert(1)],
        "resolved": 2,
        "utc_offset_h": 8,
        "names": {"th-b1-201-1": "温湿度 1 T/H rack row A"},
    }
    return Snapshot(**{**fields, **changes})


def test_the_table_shows_numbers_states_and_alerts_in_site_time() -> None:
    console = Console(record=True, width=160, file=io.StringIO())
    console.print(render(snapshot()))
    text = console.export_text()
    for shown in ("readings/s 31", "stored 1,234", "1 offline · 74 online", "resolved alerts 2"):
        assert shown in text
    assert "Open alerts (1)" in text
    assert "20:30:05" in text  # 12:30 UTC at UTC+8
    assert "信息机房 Server room" in text
    assert "温湿度 1 T/H rack row A" in text
    assert "temperature is 31.5, above 27" in text


def test_off_a_terminal_each_alert_is_one_line_when_it_fires_and_when_it_resolves(
    tmp_path: Path,
) -> None:
    out = io.StringIO()
    links = Links("http://x", "t", tmp_path / "t", "mqtt://x", "db", tmp_path / "log")
    client = httpx.AsyncClient()
    shell = DemoConsole(
        client, type("C", (), {"stored": 0})(), links, 8, Console(file=out, soft_wrap=True)
    )
    shell._print_changes(snapshot())
    shell._print_changes(snapshot())  # no change, no line
    shell._print_changes(snapshot(open_alerts=[]))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert "a-1 fires" in lines[0]
    assert "温湿度 1 T/H rack row A" in lines[0]
    assert "a-1 resolved" in lines[1]
