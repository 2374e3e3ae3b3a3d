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


def plain_console(tmp_path: Path, out: io.StringIO, base: str = "http://x") -> DemoConsole:
    links = Links(
        base, "fm_t", tmp_path / "my demo" / "api-token", "mqtt://x", "db", tmp_path / "log"
    )
    return DemoConsole(
        httpx.AsyncClient(),
        type("C", (), {"stored": 0})(),
        links,
        8,
        Console(file=out, soft_wrap=True),
    )


def test_announce_prints_the_next_commands_for_its_port_and_links_a_browser_can_open(
    tmp_path: Path,
) -> None:
    out = io.StringIO()
    plain_console(tmp_path, out, "http://127.0.0.1:8123").announce()
    text = out.getvalue()
    lines = [line.strip() for line in text.splitlines()]
    assert "export FACMON_URL=http://127.0.0.1:8123" in lines
    assert f"export TOKEN=$(cat '{tmp_path}/my demo/api-token')" in lines
    assert "/api/v1/alerts?state=open " not in text  # a browser cannot send the Bearer header
    alerts = next(line for line in lines if line.startswith("open alerts"))
    assert alerts.split()[2] == "http://127.0.0.1:8123/#attention&token=fm_t"
    assert "8000" not in text


def test_a_summary_line_only_when_something_changed(tmp_path: Path) -> None:
    out = io.StringIO()
    shell = plain_console(tmp_path, out)
    shell._print_summary(snapshot())
    shell._print_summary(snapshot(readings_per_s=40.0, stored=2000, elapsed_s=52.0))
    assert len(out.getvalue().splitlines()) == 1
    shell._print_summary(snapshot(resolved=3))
    shell._print_summary(snapshot(states=Counter({"online": 75})))
    assert len(out.getvalue().splitlines()) == 3


def test_an_acknowledgement_is_one_line_too(tmp_path: Path) -> None:
    out = io.StringIO()
    shell = plain_console(tmp_path, out)
    shell._print_changes(snapshot())
    shell._print_changes(snapshot(open_alerts=[alert(1, "acknowledged")]))
    shell._print_changes(snapshot(open_alerts=[alert(1, "acknowledged")]))
    shell._print_changes(snapshot(open_alerts=[]))
    lines = out.getvalue().splitlines()
    assert [line.split()[4] for line in lines] == ["fires", "acknowledged", "resolved"], lines


def test_an_unreadable_answer_is_logged_as_a_sentence_not_a_repr() -> None:
    from launcher.demo_console import _reason  # noqa: PLC0415 - a private helper

    request = httpx.Request("GET", "http://x/api/v1/devices?limit=5")
    refused = httpx.HTTPStatusError("", request=request, response=httpx.Response(503))
    assert _reason(refused) == "503 from /api/v1/devices"
    assert _reason(KeyError("items")) == "the answer has no items"
    assert _reason(httpx.ConnectError("")) == "ConnectError"
