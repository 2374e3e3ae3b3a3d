"""InfluxDB through its v1-compatible HTTP API: ``POST /write`` and InfluxQL ``/query``."""

from __future__ import annotations

import gzip

import httpx
import orjson

from facmon.contract import RESERVED_PREFIX, Scalar
from storage.config import InfluxSinkConfig
from storage.lineprotocol import BAD_FIELD, SEQ_FIELD, to_line
from storage.records import DeviceLatest, Stored
from storage.sink import Aggregate, QueryRefused, SinkError, SinkRejected


def _client(config: InfluxSinkConfig) -> httpx.AsyncClient:
    headers = {}
    auth = None
    if config.token is not None:
        headers["Authorization"] = f"Token {config.token.get_secret_value()}"
    elif config.username is not None:
        password = config.password.get_secret_value() if config.password else ""
        auth = httpx.BasicAuth(config.username, password)
    return httpx.AsyncClient(
        base_url=config.url, headers=headers, auth=auth, timeout=config.timeout_s
    )


class InfluxSink:
    """Writes batches as line protocol (nanosecond timestamps, see ``lineprotocol``)."""

    def __init__(self, config: InfluxSinkConfig) -> None:
        """Prepare a keep-alive HTTP client."""
        self.config = config
        self._http = _client(config)
        self._params = {"db": config.database, "precision": "ns"}
        if config.retention_policy:
            self._params["rp"] = config.retention_policy
        self._database_ready = not config.create_database

    def encode(self, records: list[Stored]) -> bytes:
        """Return the request body: line protocol, gzipped unless ``gzip`` is off."""
        body = ("\n".join([to_line(r) for r in records]) + "\n").encode()
        return gzip.compress(body, compresslevel=1) if self.config.gzip else body

    async def write(self, records: list[Stored], encoded: bytes | None = None) -> None:
        """POST the records; 204 means durable (InfluxDB writes its WAL before answering).

        Raises:
            SinkError: InfluxDB is unreachable, timing out or answering 5xx/401/403/404.
            SinkRejected: InfluxDB refused the content (400), with its reason.
        """
        if not self._database_ready:
            await self._create_database()
        body = self.encode(records) if encoded is None else encoded
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self.config.gzip:
            headers["Content-Encoding"] = "gzip"
        try:
            response = await self._http.post(
                "/write", params=self._params, content=body, headers=headers
            )
        except httpx.HTTPError as exc:
            raise SinkError(f"InfluxDB at {self.config.url}: {exc!r}") from None
        if response.status_code == 204:
            return
        reason = _error_text(response)
        if response.status_code == 400:
            raise SinkRejected(reason)
        raise SinkError(f"InfluxDB answered {response.status_code}: {reason}")

    async def _create_database(self) -> None:
        name = self.config.database.replace("\\", "\\\\").replace('"', '\\"')
        try:
            response = await self._http.post("/query", params={"q": f'CREATE DATABASE "{name}"'})
        except httpx.HTTPError as exc:
            raise SinkError(f"InfluxDB at {self.config.url}: {exc!r}") from None
        if response.status_code != 200:
            reason = _error_text(response)
            raise SinkError(f"CREATE DATABASE answered {response.status_code}: {reason}")
        self._database_ready = True

    async def close(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()


class InfluxReader:
    """Reads the newest values back with InfluxQL."""

    def __init__(self, config: InfluxSinkConfig) -> None:
        """Prepare a keep-alive HTTP client."""
        self.config = config
        self._http = _client(config)

    async def query(self, statement: str) -> list[dict[str, object]]:
        """Run one InfluxQL statement and return its series (epoch ms timestamps).

        Raises:
            SinkError: InfluxDB is unreachable or the statement failed.
        """
        params = {"db": self.config.database, "q": statement, "epoch": "ms"}
        if self.config.retention_policy:
            params["rp"] = self.config.retention_policy
        try:
            response = await self._http.post("/query", params=params)
        except httpx.HTTPError as exc:
            raise SinkError(f"InfluxDB at {self.config.url}: {exc!r}") from None
        if response.status_code != 200:
            raise SinkError(f"InfluxDB answered {response.status_code}: {_error_text(response)}")
        result = orjson.loads(response.content)["results"][0]
        if "error" in result:
            raise QueryRefused(f"InfluxQL error: {result['error']}")
        series: list[dict[str, object]] = result.get("series", [])
        return series

    async def latest(self, device: str) -> DeviceLatest | None:
        """Return the newest row of ``device`` across its measurements.

        Raises:
            SinkError: InfluxDB cannot be read.
        """
        where = f'"device" = {_string(device)}'
        series = await self.query(f"SELECT * FROM /.*/ WHERE {where} ORDER BY time DESC LIMIT 1")  # noqa: S608 - escaped
        newest: DeviceLatest | None = None
        for item in series:
            if str(item["name"]).startswith(RESERVED_PREFIX):
                continue  # events and alerts
            columns = list(item["columns"])  # type: ignore[call-overload]
            row = dict(zip(columns, item["values"][0], strict=True))  # type: ignore[index]
            if newest is not None and row["time"] <= newest.ts:
                continue
            values = {
                k: v
                for k, v in row.items()
                if v is not None
                and k not in {"time", "device", "gateway", "site", SEQ_FIELD, BAD_FIELD}
            }
            bad = row.get(BAD_FIELD)
            newest = DeviceLatest(
                device=device,
                site=str(row.get("site", "")),
                gateway=str(row.get("gateway", "")),
                measurement=str(item["name"]),
                ts=int(row["time"]),
                seq=row.get(SEQ_FIELD),
                values=values,
                quality=dict.fromkeys(str(bad).split(","), "bad") if bad else {},
            )
        return newest

    async def history(
        self, device: str, point: str, start_ms: int, end_ms: int, every_ms: int, agg: Aggregate
    ) -> list[tuple[int, Scalar]]:
        """Return ``agg`` of ``point`` per interval (InfluxQL ``GROUP BY time()``).

        Raises:
            QueryRefused: InfluxDB refused the query (its reason is kept).
            SinkError: InfluxDB cannot be read.
        """
        if every_ms <= 0:
            raise QueryRefused(f"interval must be positive, not {every_ms} ms")
        field = '"' + point.replace("\\", "\\\\").replace('"', '\\"') + '"'
        statement = (
            f'SELECT {agg}({field}) FROM /.*/ WHERE "device" = {_string(device)} '  # noqa: S608 - escaped
            f"AND time >= {int(start_ms)}ms AND time < {int(end_ms)}ms "
            f"GROUP BY time({int(every_ms)}ms) fill(none)"
        )
        rows: list[tuple[int, Scalar]] = []
        for item in await self.query(statement):
            if not str(item["name"]).startswith(RESERVED_PREFIX):
                rows.extend((int(ts), value) for ts, value in item["values"])  # type: ignore[attr-defined]
        rows.sort(key=lambda row: row[0])
        return rows

    async def close(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()


def _string(text: str) -> str:
    """Quote ``text`` as an InfluxQL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _error_text(response: httpx.Response) -> str:
    try:
        return str(orjson.loads(response.content).get("error", response.text))[:1000]
    except (orjson.JSONDecodeError, AttributeError):
        return response.text[:1000]
