"""The embedded SQLite store: idempotent writes, newest values read back with their types."""

from __future__ import annotations

from pathlib import Path

from collector.record import Record
from collector.sinks.sqlite import SqliteReader, SqliteSink
from facmon.contract import DataEnvelope


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
