"""The embedded SQLite store: idempotent writes, newest values read back with their types."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from facmon.contract import AlertEnvelope, DataEnvelope, EventEnvelope
from storage.records import AlertRecord, EventRecord, Record
from storage.sink import Aggregate, SinkError
from storage.sqlite import SqliteReader, SqliteSink


def record(
    ts: int, seq: int, values: dict[str, object], quality: dict[str, str] | None = None
) -> Record:
    envelope = DataEnvelope.model_validate(
        {"ts": ts, "seq": seq, "measurement": "ups", "values": values, "quality": quality or {}}
    )
    return Record("hq", "gw-1", "ups-1", envelope)


async def test_newest_wins_and_replays_are_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    sink, reader = SqliteSink(path), SqliteReader(path)
    newer = record(2000, 2, {"v": 231.5, "on": True, "model": "X"})
    older = record(1000, 1, {"v": 229.0, "n": 7})
    await sink.write([newer, older])
    await sink.write([older, newer])  # replay
    latest = await reader.latest("ups-1")
    assert latest is not None
    assert latest.ts == 2000
    assert latest.seq == 2
    assert latest.values == {"v": 231.5, "on": True, "model": "X", "n": 7}
    assert latest.values["on"] is True
    await sink.write([record(3000, 3, {"v": 230.0}, {"n": "bad"})])
    latest = await reader.latest("ups-1")
    assert latest is not None
    assert latest.quality == {"n": "bad"}
    assert "n" not in latest.values
    assert await reader.latest("other") is None
    await sink.close()
    await reader.close()


async def test_events_and_alerts_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    sink = SqliteSink(path)
    same_ms = [
        EventEnvelope.model_validate({"ts": 1_000, "seq": s, "type": "card_denied"}) for s in (1, 2)
    ]
    alert = AlertEnvelope.model_validate(
        {
            "id": "a-1",
            "ts": 1_500,
            "state": "firing",
            "severity": "warning",
            "rule": "r",
            "summary": "s",
        }
    )
    stored = [EventRecord("hq", "gw-1", "door-1", e) for e in same_ms]
    await sink.write([*stored, AlertRecord("hq", alert)])
    await sink.write(stored)  # replay
    db = sqlite3.connect(path)
    assert db.execute("SELECT seq, type FROM events ORDER BY seq").fetchall() == [
        (1, "card_denied"),
        (2, "card_denied"),
    ]
    assert db.execute("SELECT id, state, site FROM alerts").fetchall() == [("a-1", "firing", "hq")]
    db.close()
    await sink.close()


async def test_history_aggregates_per_epoch_aligned_interval(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    sink, reader = SqliteSink(path), SqliteReader(path)
    await sink.write(
        [record(ts, ts, {"v": float(ts), "on": ts % 2000 == 0}) for ts in range(1000, 7000, 1000)]
    )

    async def history(agg: Aggregate, point: str = "v") -> list[tuple[int, object]]:
        return await reader.history("ups-1", point, 1500, 6500, 2000, agg)

    # v = 2000, 3000 | 4000, 5000 | 6000 in the buckets starting at 2000, 4000 and 6000
    assert await history("mean") == [(2000, 2500.0), (4000, 4500.0), (6000, 6000.0)]
    assert await history("count") == [(2000, 2), (4000, 2), (6000, 1)]
    assert await history("first") == [(2000, 2000.0), (4000, 4000.0), (6000, 6000.0)]
    assert await history("last") == [(2000, 3000.0), (4000, 5000.0), (6000, 6000.0)]
    assert await history("sum") == [(2000, 5000.0), (4000, 9000.0), (6000, 6000.0)]
    assert await history("last", "on") == [(2000, False), (4000, False), (6000, True)]
    with pytest.raises(SinkError, match="mean of the boolean point 'on'"):
        await history("mean", "on")
    assert await reader.history("other", "v", 0, 10_000, 1000, "max") == []
    await sink.close()
    await reader.close()
