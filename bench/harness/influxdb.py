"""A real InfluxDB 1.x server on free ports, and its HTTP API, for tests and benchmarks."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from bench.harness.servers import HOST, ServiceProcess, find_executable
from facmon.net import free_port


class InfluxDBError(RuntimeError):
    """An InfluxDB HTTP request failed or a statement returned an error."""


class InfluxDBServer(ServiceProcess):
    """An InfluxDB 1.x server with its own meta, data and WAL directories.

    Both the HTTP API and the RPC (backup/restore) service listen on free
    ports on 127.0.0.1, so several instances can run side by side.
    """

    name = "influxd"
    start_timeout = 30.0
    request_timeout: ClassVar[float] = 30.0

    def __init__(self, workdir: Path) -> None:
        """Prepare (but do not start) a server living in ``workdir``."""
        super().__init__(workdir)
        self._rpc_port = free_port()

    @property
    def url(self) -> str:
        """HTTP API base URL, ``http://127.0.0.1:PORT``."""
        return f"http://{HOST}:{self.port}"

    @property
    def rpc_port(self) -> int:
        """Port of the RPC service (top-level ``bind-address``)."""
        return self._rpc_port

    @property
    def config_path(self) -> Path:
        """The generated ``influxdb.conf``."""
        return self.workdir / "influxdb.conf"

    @property
    def output_path(self) -> Path:
        """The log file: influxd 1.x logs to stderr only, redirected here."""
        return self.workdir / "influxd.log"

    def _command(self) -> list[str]:
        return [find_executable("influxd", "influxdb"), "-config", str(self.config_path)]

    def _write_config(self) -> None:
        for sub in ("meta", "data", "wal"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        # Unknown keys are ignored by influxd, so both spellings of the
        # phone-home switch are given: upstream uses reporting-disabled,
        # Debian's package patches it to reporting-enabled.
        config = f"""\
reporting-disabled = true
reporting-enabled = false
bind-address = "{HOST}:{self.rpc_port}"

[meta]
  dir = "{self.workdir / "meta"}"
  retention-autocreate = true
  logging-enabled = false

[data]
  dir = "{self.workdir / "data"}"
  wal-dir = "{self.workdir / "wal"}"
  wal-fsync-delay = "0s"
  index-version = "inmem"
  query-log-enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[http]
  enabled = true
  bind-address = "{HOST}:{self.port}"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false
  unix-socket-enabled = false

[ifql]
  enabled = false

[continuous_queries]
  log-enabled = false

[logging]
  level = "info"
  suppress-logo = true
"""
        self.config_path.write_text(config, encoding="utf-8")

    def _is_ready(self) -> bool:
        """``GET /ping`` answers 204 once the store is open and HTTP is up."""
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=1.0) as resp:
                return int(resp.status) == 204
        except (OSError, urllib.error.URLError):
            return False

    # -- HTTP API -------------------------------------------------------
    def _request(self, path: str, params: dict[str, str], body: bytes | None) -> tuple[int, bytes]:
        """POST to ``path`` and return (status, body); HTTP errors included."""
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        request = urllib.request.Request(url, data=body or b"", method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.request_timeout) as resp:
                return int(resp.status), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def query(
        self,
        q: str,
        db: str | None = None,
        *,
        epoch: str | None = None,
        check: bool = True,
    ) -> dict[str, Any]:
        """Run InfluxQL through ``POST /query`` and return the decoded JSON.

        POST is accepted for every statement (GET only for SELECT/SHOW).
        ``epoch`` (``"ns"``, ``"ms"``, ``"s"``...) returns integer timestamps
        instead of RFC 3339 strings.  With ``check`` (the default) an
        ``InfluxDBError`` is raised if the request or any statement failed;
        otherwise the response, including its ``error`` fields, is returned.
        """
        params = {"q": q}
        if db is not None:
            params["db"] = db
        if epoch is not None:
            params["epoch"] = epoch
        status, raw = self._request("/query", params, None)
        try:
            decoded: dict[str, Any] = json.loads(raw)
        except ValueError:
            msg = f"query {q!r}: HTTP {status}, non-JSON body {raw[:500]!r}"
            raise InfluxDBError(msg) from None
        if check:
            errors = [decoded["error"]] if "error" in decoded else []
            errors += [r["error"] for r in decoded.get("results", []) if "error" in r]
            if status >= 400 or errors:
                detail = "; ".join(map(str, errors)) or raw.decode("utf-8", "replace")
                msg = f"query {q!r}: HTTP {status}: {detail}"
                raise InfluxDBError(msg)
        return decoded

    def write(self, lines: str | Iterable[str], db: str, precision: str = "ms") -> None:
        """Write line protocol through ``POST /write``; raise unless HTTP 204."""
        text = lines if isinstance(lines, str) else "\n".join(lines)
        params = {"db": db, "precision": precision}
        status, raw = self._request("/write", params, text.encode("utf-8"))
        if status != 204:
            msg = f"write to {db!r}: HTTP {status}: {raw.decode('utf-8', 'replace')}"
            raise InfluxDBError(msg)

    def create_database(self, name: str) -> None:
        """``CREATE DATABASE`` (a no-op if it already exists)."""
        self.query(f"CREATE DATABASE {quote_identifier(name)}")

    def drop_database(self, name: str) -> None:
        """``DROP DATABASE`` (a no-op if it does not exist)."""
        self.query(f"DROP DATABASE {quote_identifier(name)}")


def quote_identifier(name: str) -> str:
    """Quote ``name`` as an InfluxQL identifier (double quotes, escaped)."""
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


class DetachedInfluxDB(InfluxDBServer):
    """influxd in a session of its own: the terminal's Ctrl-C reaches only the benchmark."""

    def _command(self) -> list[str]:
        return ["setsid", *super()._command()]
