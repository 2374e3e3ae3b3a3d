"""The embedded telemetry store: one SQLite file in WAL mode (the demo's default)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiosqlite

from collector.record import DeviceLatest, Record
from collector.sinks import SinkError

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
"""

_KINDS: dict[type, str] = {bool: "b", int: "i", float: "f", str: "s"}


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

    async def write(self, records: list[Record]) -> None:
        """Insert or overwrite the records in one transaction.

        Raises:
            SinkError: the file cannot be written.
        """
        if self._db is None:
            self._db = await _connect(self.path)
        readings: list[tuple[object, ...]] = []
        latest: list[tuple[object, ...]] = []
        devices: list[tuple[object, ...]] = []
        for record in records:
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

    async def close(self) -> None:
        """Close the file."""
        if self._db is not None:
            await self._db.close()
            self._db = None
