"""The embedded telemetry store: one SQLite file in WAL mode (the demo's default)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiosqlite
import orjson

from facmon.contract import Scalar
from storage.records import AlertRecord, DeviceLatest, EventRecord, Record, Stored
from storage.sink import Aggregate, QueryRefused, SinkError

_SCHEMA = """
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS readings (
    device TEXT NOT NULL, point TEXT NOT NULL, ts INTEGER NOT NULL, value,
    PRIMARY KEY (device, point, ts)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS latest (
    device TEXT NOT NULL, point TEXT NOT NULL, ts INTEGER NOT NULL, value, kind TEXT NOT NULL,
    quality TEXT, PRIMARY KEY (device, point)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS devices (
    device TEXT PRIMARY KEY, site TEXT NOT NULL, gateway TEXT NOT NULL,
    measurement TEXT NOT NULL, ts INTEGER NOT NULL, seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    device TEXT NOT NULL, ts INTEGER NOT NULL, seq INTEGER NOT NULL, site TEXT NOT NULL,
    gateway TEXT NOT NULL, type TEXT NOT NULL, attrs TEXT NOT NULL,
    PRIMARY KEY (device, ts, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT NOT NULL, ts INTEGER NOT NULL, state TEXT NOT NULL, site TEXT NOT NULL,
    severity TEXT NOT NULL, rule TEXT NOT NULL, summary TEXT NOT NULL, device TEXT, asset TEXT,
    PRIMARY KEY (id, ts, state)
) WITHOUT ROWID;
"""

_KINDS: dict[type, str] = {bool: "b", int: "i", float: "f", str: "s"}
_SQL_AGGREGATES = {"mean": "avg", "min": "min", "max": "max", "sum": "sum", "count": "count"}
_REFUSED = {"b": {"mean", "sum"}, "s": {"mean", "sum", "min", "max"}}  # as InfluxDB refuses


async def _connect(path: Path) -> aiosqlite.Connection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path)
        await db.executescript(_SCHEMA)
        await db.execute("PRAGMA synchronous = NORMAL")
    except (OSError, sqlite3.Error) as exc:
        raise SinkError(f"SQLite store {path}: {exc}") from None
    return db


class SqliteSink:
    """Stores every value by (device, point, time) and keeps the newest per point."""

    def __init__(self, path: Path) -> None:
        """Open lazily on the first write."""
        self.path = path
        self._db: aiosqlite.Connection | None = None

    def encode(self, records: list[Stored]) -> None:
        """Nothing to do ahead: rows are built in :meth:`write`."""

    async def write(self, records: list[Stored], encoded: bytes | None = None) -> None:
        """Insert or overwrite the records in one transaction.

        Raises:
            SinkError: the file cannot be written.
        """
        if self._db is None:
            self._db = await _connect(self.path)
        readings: list[tuple[object, ...]] = []
        latest: list[tuple[object, ...]] = []
        devices: list[tuple[object, ...]] = []
        events: list[tuple[object, ...]] = []
        alerts: list[tuple[object, ...]] = []
        for record in records:
            if isinstance(record, EventRecord):
                event = record.envelope
                attrs = orjson.dumps(event.attrs).decode()
                where = (record.device, event.ts, event.seq, record.site, record.gateway)
                events.append((*where, event.type, attrs))
                continue
            if isinstance(record, AlertRecord):
                alert = record.envelope
                head = (alert.id, alert.ts, alert.state, record.site, alert.severity, alert.rule)
                alerts.append((*head, alert.summary, alert.device, alert.asset))
                continue
            if not isinstance(record, Record):
                continue  # states, usage, the collector's health: for Grafana, on InfluxDB
            env = record.envelope
            for name, value in env.values.items():
                readings.append((record.device, name, env.ts, value))
                latest.append(
                    (record.device, name, env.ts, value, _KINDS[type(value)], env.quality.get(name))
                )
            for name, flag in env.quality.items():
                if name not in env.values:
                    latest.append((record.device, name, env.ts, None, "n", flag))
            devices.append(
                (record.device, record.site, record.gateway, env.measurement, env.ts, env.seq)
            )
        try:
            await self._db.executemany(
                "INSERT OR REPLACE INTO readings VALUES (?, ?, ?, ?)", readings
            )
            await self._db.executemany(
                "INSERT INTO latest VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (device, point) DO UPDATE SET ts = excluded.ts, "
                "value = excluded.value, kind = excluded.kind, quality = excluded.quality "
                "WHERE excluded.ts >= latest.ts",
                latest,
            )
            await self._db.executemany(
                "INSERT INTO devices VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (device) DO UPDATE SET site = excluded.site, "
                "gateway = excluded.gateway, measurement = excluded.measurement, "
                "ts = excluded.ts, seq = excluded.seq WHERE excluded.ts >= devices.ts",
                devices,
            )
            await self._db.executemany(
                "INSERT OR REPLACE INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", events
            )
            await self._db.executemany(
                "INSERT OR REPLACE INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", alerts
            )
            await self._db.commit()
        except sqlite3.Error as exc:
            await self._db.rollback()
            raise SinkError(f"SQLite store {self.path}: {exc}") from None

    async def close(self) -> None:
        """Close the file."""
        if self._db is not None:
            await self._db.close()
            self._db = None


class SqliteReader:
    """Reads the newest values from the SQLite store."""

    def __init__(self, path: Path) -> None:
        """Open lazily on the first read."""
        self.path = path
        self._db: aiosqlite.Connection | None = None

    async def latest(self, device: str) -> DeviceLatest | None:
        """Return the newest stored values of ``device``, or None.

        Raises:
            SinkError: the file cannot be read.
        """
        try:
            if self._db is None:
                self._db = await _connect(self.path)
            async with self._db.execute(
                "SELECT site, gateway, measurement, ts, seq FROM devices WHERE device = ?",
                (device,),
            ) as cursor:
                head = await cursor.fetchone()
            if head is None:
                return None
            async with self._db.execute(
                "SELECT point, value, kind, quality FROM latest WHERE device = ? ORDER BY point",
                (device,),
            ) as cursor:
                rows = list(await cursor.fetchall())
        except sqlite3.Error as exc:
            raise SinkError(f"SQLite store {self.path}: {exc}") from None
        values = {p: (bool(v) if k == "b" else v) for p, v, k, _ in rows if k != "n"}
        quality = {p: q for p, _, _, q in rows if q}
        site, gateway, measurement, ts, seq = head
        return DeviceLatest(device, site, gateway, measurement, ts, seq, values, quality)

    async def history(
        self, device: str, point: str, start_ms: int, end_ms: int, every_ms: int, agg: Aggregate
    ) -> list[tuple[int, Scalar]]:
        """Return ``agg`` of ``point`` per epoch-aligned interval of ``every_ms``.

        As in InfluxDB, booleans refuse ``mean`` and ``sum``; strings also ``min`` and ``max``.

        Raises:
            QueryRefused: the aggregate does not apply to the point.
            SinkError: the file cannot be read.
        """
        if every_ms <= 0:
            raise QueryRefused(f"interval must be positive, not {every_ms} ms")
        where = "device = ? AND point = ? AND ts >= ? AND ts < ?"
        args: tuple[object, ...] = (device, point, start_ms, end_ms)
        if agg in _SQL_AGGREGATES:
            sql = (
                f"SELECT ts / {every_ms} * {every_ms} AS bucket, {_SQL_AGGREGATES[agg]}(value) "  # noqa: S608 - integers and a fixed name
                f"FROM readings WHERE {where} GROUP BY bucket ORDER BY bucket"
            )
        else:
            order = "ASC" if agg == "first" else "DESC"
            sql = (
                "SELECT bucket, value FROM (SELECT ts / ? * ? AS bucket, value, "  # noqa: S608 - fixed order
                f"row_number() OVER (PARTITION BY ts / ? ORDER BY ts {order}) AS n "
                f"FROM readings WHERE {where}) WHERE n = 1 ORDER BY bucket"
            )
            args = (every_ms, every_ms, every_ms, *args)
        try:
            if self._db is None:
                self._db = await _connect(self.path)
            async with self._db.execute(
                "SELECT kind FROM latest WHERE device = ? AND point = ?", (device, point)
            ) as cursor:
                row = await cursor.fetchone()
            kind = row[0] if row else "f"
            if agg in _REFUSED.get(kind, ()):
                what = "boolean" if kind == "b" else "string"
                raise QueryRefused(f"cannot take the {agg} of the {what} point {point!r}")
            async with self._db.execute(sql, args) as cursor:
                rows = list(await cursor.fetchall())
        except sqlite3.Error as exc:
            raise SinkError(f"SQLite store {self.path}: {exc}") from None
        if kind == "b" and agg in {"min", "max", "first", "last"}:
            return [(ts, bool(value)) for ts, value in rows]
        return [(ts, value) for ts, value in rows]

    async def close(self) -> None:
        """Close the file."""
        if self._db is not None:
            await self._db.close()
            self._db = None
