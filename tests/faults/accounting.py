"""Counting messages end to end: what the gateway numbered, what InfluxDB holds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson

from bench.harness.influxdb import InfluxDBServer
from tests.integration.processes import FacmonProcess, wait_for


def stored_seqs(influxdb: InfluxDBServer, database: str) -> list[int]:
    """Every ``facmon_seq`` stored: of readings, events and the gateway's health alike."""
    answer = influxdb.query('SELECT "facmon_seq" FROM /.*/', db=database)
    return [row[1] for s in answer["results"][0].get("series", []) for row in s["values"]]


def spool_left(path: Path) -> tuple[int, set[int]]:
    """After the gateway stopped: the last seq it gave, and the seqs still in its spool."""
    with sqlite3.connect(path) as db:
        (last,) = db.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()
        waiting = {
            orjson.loads(payload).get("seq")
            for (payload,) in db.execute("SELECT payload FROM outbox")
        }
    return int(last), {seq for seq in waiting if isinstance(seq, int)}


def lost(influxdb: InfluxDBServer, database: str, spool: Path) -> tuple[int, list[int], int]:
    """(the last seq given, the seqs neither in InfluxDB nor still spooled, stored twice)."""
    last, waiting = spool_left(spool)
    stored = stored_seqs(influxdb, database)
    missing = sorted(set(range(1, last + 1)) - set(stored) - waiting)
    return last, missing, len(stored) - len(set(stored))


def all_stored(
    influxdb: InfluxDBServer,
    database: str,
    spool: Path,
    collector: FacmonProcess,
    timeout: float = 30,
) -> int:
    """Wait until every message the stopped gateway numbered is in InfluxDB (or still in its
    spool), each once; return the last seq. Fails naming the seqs missing."""

    def settled() -> tuple[int, list[int], int] | None:
        counted = lost(influxdb, database, spool)
        return counted if not counted[1] and not counted[2] else None

    try:
        return wait_for(settled, timeout, "every numbered message stored", [collector])[0]
    except AssertionError:
        last, missing, twice = lost(influxdb, database, spool)
        raise AssertionError(
            f"of {last} messages, {len(missing)} lost ({missing[:20]}...), {twice} stored twice"
        ) from None
