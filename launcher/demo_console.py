"""The demo's console: where to look, then a live summary of readings, devices and alerts.

It first prints the addresses and the next commands for the port it runs on
(``export FACMON_URL=...``, ``export TOKEN=$(cat <workdir>/api-token)``). On a terminal the
summary is then a table redrawn in place (rich); otherwise (a log, a pipe) each alert that
fires, is acknowledged or resolves is one line, and a summary line follows, at most every 10 s,
only when the device states or alert counts changed.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

import httpx
from rich.console import Console, Group
from rich.live import Live
from rich.logging import RichHandler
from rich.table import Table
from rich.text import Text

from launcher import demo_site

log = logging.getLogger(__name__)

POLL_S = 2.0
PLAIN_SUMMARY_S = 10.0
ROOM_NAMES = {room.id: room.name for room in demo_site.ROOMS}
SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


class Counts(Protocol):
    """What the console reads of the collector: readings stored since start."""

    stored: int


@dataclass(frozen=True)
class Links:
    """Where the demo can be reached."""

    base: str
    token: str
    token_file: Path
    broker: str
    store: str
    log_file: Path
    """Where the log goes while the summary takes the terminal."""
    receiver: str = ""
    """The page of the notifications the demo's robots received ('' when there is none)."""


@dataclass
class Snapshot:
    """What the console shows, as read from the API at one moment."""

    elapsed_s: float
    readings_per_s: float
    stored: int
    states: Counter[str]
    open_alerts: list[dict[str, Any]]
    resolved: int
    utc_offset_h: int
    names: dict[str, str] = field(default_factory=dict)

    def local(self, iso: str | None = None, spec: str = "%H:%M:%S") -> str:
        """A time (ISO 8601; now when None) as the site's clock shows it."""
        when = datetime.fromisoformat(iso) if iso else datetime.now(UTC)
        return when.astimezone(timezone(timedelta(hours=self.utc_offset_h))).strftime(spec)


def render(snapshot: Snapshot) -> Group:
    """The live summary as a rich renderable."""
    head = Text.assemble(
        ("facmon demo", "bold green"),
        f"  site {demo_site.SITE} · {snapshot.local(spec='%H:%M')} there · running ",
        (f"{snapshot.elapsed_s:.0f} s", "bold"),
    )
    states = " · ".join(f"{n} {s}" for s, n in sorted(snapshot.states.items()))
    numbers = Text.assemble(
        ("readings/s ", "dim"),
        (f"{snapshot.readings_per_s:,.0f}", "bold"),
        ("   stored ", "dim"),
        f"{snapshot.stored:,}",
        ("   devices ", "dim"),
        states or "waiting for the first readings",
        ("   resolved alerts ", "dim"),
        str(snapshot.resolved),
    )
    table = Table(title=f"Open alerts ({len(snapshot.open_alerts)})", title_justify="left")
    for column in ("severity", "since", "where", "asset", "what"):
        table.add_column(column, overflow="fold")
    for alert in snapshot.open_alerts:
        labels = alert.get("labels", {})
        table.add_row(
            Text(alert["severity"], style=SEVERITY_STYLE.get(alert["severity"], "")),
            snapshot.local(alert["started_at"]),
            ROOM_NAMES.get(labels.get("room", ""), labels.get("building", "")),
            snapshot.names.get(labels.get("asset", ""), alert["subject"]),
            alert["summary"] + (" (acknowledged)" if alert["state"] == "acknowledged" else ""),
        )
    return Group(head, numbers, table)


@contextmanager
def _logs_to(path: Path, console: Console) -> Iterator[None]:
    """Send log records to ``path``, and warnings and errors above the live summary too."""
    root = logging.getLogger()
    saved = root.handlers[:]
    to_file = logging.FileHandler(path, encoding="utf-8")
    if saved:
        to_file.setFormatter(saved[0].formatter)
    above = RichHandler(console=console, level=logging.WARNING, show_path=False)
    root.handlers = [to_file, above]
    try:
        yield
    finally:
        root.handlers = saved
        to_file.close()


class DemoConsole:
    """Prints the links, then keeps the summary up to date until cancelled."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        collector: Counts,
        links: Links,
        utc_offset_h: int,
        console: Console | None = None,
    ) -> None:
        """``http`` reaches the API with the admin token; ``collector`` counts readings."""
        self.http = http
        self.collector = collector
        self.links = links
        self.utc_offset_h = utc_offset_h
        self.console = console or Console(stderr=True, soft_wrap=True)
        self.started = time.monotonic()
        self._last = (self.started, 0)
        self._names: dict[str, str] = {}
        self._seen: dict[str, str] = {}
        self._summarized: tuple[object, ...] | None = None

    async def run(self) -> None:
        """Announce, then refresh every :data:`POLL_S` seconds."""
        self.announce()
        if self.console.is_terminal:
            with (
                _logs_to(self.links.log_file, self.console),
                Live(console=self.console, auto_refresh=False) as live,
            ):
                while True:
                    snapshot = await self._snapshot()
                    if snapshot is not None:
                        live.update(render(snapshot), refresh=True)
                    await asyncio.sleep(POLL_S)
        next_summary = time.monotonic() + PLAIN_SUMMARY_S
        while True:
            snapshot = await self._snapshot()
            if snapshot is not None:
                self._print_changes(snapshot)
                if time.monotonic() >= next_summary:
                    next_summary = time.monotonic() + PLAIN_SUMMARY_S
                    self._print_summary(snapshot)
            await asyncio.sleep(POLL_S)

    def announce(self) -> None:
        """Print what runs, where to look, and the next commands for this port and workdir.

        Every link opens in a browser: the status page signs in from ``#token=``.
        """
        links, print_ = self.links, self.console.print
        base, token = links.base, links.token
        modbus = sum(not d.mqtt for d in demo_site.DEVICES)
        print_(
            f"[bold green]facmon demo[/] running: site [bold]{demo_site.SITE}[/] "
            f"({demo_site.SITE_NAME}), {len(demo_site.BUILDINGS)} buildings, "
            f"{len(demo_site.ROOMS)} rooms, {modbus} Modbus devices and "
            f"{len(demo_site.DEVICES) - modbus} MQTT devices; it is evening at the site"
        )
        rows = [
            ("status page", f"{base}/#token={token}"),
            ("open alerts", f"{base}/#attention&token={token} (the status page's alerts)"),
            ("API docs", f"{base}/docs"),
            ("API health", f"{base}/healthz"),
            ("API token", f"{links.token_file} (admin; 'Authorization: Bearer <token>')"),
            ("MQTT broker", links.broker),
            ("telemetry", links.store),
        ]
        if links.receiver:
            rows.append(("notifications", f"{links.receiver} (WeCom, DingTalk, Feishu)"))
        if self.console.is_terminal:
            rows.append(("log", str(links.log_file)))
        for label, where in rows:
            print_(f"  {label:<14} {where}", markup=False, highlight=False)
        print_("Next, in another shell (the guides' commands use these):", highlight=False)
        for command in next_commands(links):
            print_(f"  {command}", markup=False, highlight=False)
        print_(
            "Within a minute the scenario raises: "
            + "; ".join(e.what for e in demo_site.EXPECTED)
            + ". Press Ctrl-C to stop.",
            highlight=False,
        )

    async def _snapshot(self) -> Snapshot | None:
        try:
            return await self._read()
        except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
            log.warning("demo console: no summary from the API: %s", _reason(exc))
            return None

    async def _read(self) -> Snapshot:
        devices = await self.http.get("/api/v1/devices")
        alerts = await self.http.get("/api/v1/alerts", params={"limit": 1000})
        devices.raise_for_status()
        alerts.raise_for_status()
        if not self._names:
            assets = await self.http.get("/api/v1/assets", params={"limit": 1000})
            assets.raise_for_status()
            self._names = {a["asset"]["id"]: a["asset"]["name"] for a in assets.json()["items"]}
        now = time.monotonic()
        stored = self.collector.stored
        then, before = self._last
        self._last = (now, stored)
        every = alerts.json()["items"]
        return Snapshot(
            elapsed_s=now - self.started,
            readings_per_s=(stored - before) / (now - then) if now > then else 0.0,
            stored=stored,
            states=Counter(
                d["state"] for d in devices.json() if d["state"] and d["device"] != d["gateway"]
            ),
            open_alerts=[a for a in every if a["state"] != "resolved"],
            resolved=sum(a["state"] == "resolved" for a in every),
            utc_offset_h=self.utc_offset_h,
            names=self._names,
        )

    def _print_changes(self, snapshot: Snapshot) -> None:
        for alert in snapshot.open_alerts:
            before = self._seen.get(alert["id"])
            if before is None:
                self._line("fires   ", alert, snapshot)
            elif before != alert["state"] and alert["state"] == "acknowledged":
                self._line("acknowledged ", alert, snapshot)
            self._seen[alert["id"]] = alert["state"]
        open_ids = {a["id"] for a in snapshot.open_alerts}
        for alert_id, state in list(self._seen.items()):
            if state != "resolved" and alert_id not in open_ids:
                self._seen[alert_id] = "resolved"
                self.console.print(f"t+{snapshot.elapsed_s:3.0f}s alert {alert_id} resolved")

    def _line(self, verb: str, alert: dict[str, Any], snapshot: Snapshot) -> None:
        labels = alert.get("labels", {})
        name = snapshot.names.get(labels.get("asset", ""), alert["subject"])
        style = SEVERITY_STYLE.get(alert["severity"], "")
        self.console.print(
            f"t+{snapshot.elapsed_s:3.0f}s alert {alert['id']} {verb}"
            f"[{style}]{alert['severity']:8}[/] {alert['rule']}: {name}: {alert['summary']}",
            highlight=False,
        )

    def _print_summary(self, snapshot: Snapshot) -> None:
        """One summary line, unless device states and alert counts are as last printed."""
        key = (tuple(sorted(snapshot.states.items())), len(snapshot.open_alerts), snapshot.resolved)
        if key == self._summarized:
            return
        self._summarized = key
        states = ", ".join(f"{n} {s}" for s, n in sorted(snapshot.states.items()))
        self.console.print(
            f"t+{snapshot.elapsed_s:3.0f}s {snapshot.readings_per_s:,.0f} readings/s, "
            f"{snapshot.stored:,} stored; devices: {states or 'none yet'}; "
            f"{len(snapshot.open_alerts)} open alerts, {snapshot.resolved} resolved",
            highlight=False,
        )


def next_commands(links: Links) -> list[str]:
    """The shell commands that point the guides' commands at this demo."""
    token_file = shlex.quote(str(links.token_file.absolute()))
    return [
        f"export FACMON_URL={links.base}",
        f"export TOKEN=$(cat {token_file})",
        'curl -f -H "Authorization: Bearer $TOKEN" "$FACMON_URL/api/v1/alerts?state=open"',
    ]


def _reason(exc: BaseException) -> str:
    """An exception as a person reads it: its message, not its repr."""
    if isinstance(exc, httpx.HTTPStatusError):
        return f"{exc.response.status_code} from {exc.request.url.path}"
    if isinstance(exc, KeyError):
        return f"the answer has no {exc.args[0]!s}"
    return str(exc) or type(exc).__name__
