"""The InfluxDB sink against the real server: exact escaping, idempotent replays, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.harness.influxdb import InfluxDBServer
from facmon.contract import (
    AlertEnvelope,
    DataEnvelope,
    EventEnvelope,
    StateEnvelope,
    UsageEnvelope,
)
from storage.config import InfluxSinkConfig
from storage.influx import InfluxReader, InfluxSink
from storage.records import (
    AlertRecord,
    EventRecord,
    HealthRecord,
    Record,
    StateRecord,
    UsageRecord,
)
from storage.sink import AGGREGATES, SinkError, SinkRejected
from storage.sqlite import SqliteReader, SqliteSink

pytestmark = pytest.mark.integration

TEXTS = [
    "plain",
    'say "hi"',
    "back\\slash",
    "trailing\\",
    "comma, eq=space",
    "中文 设备 ✓",
    "tab\there",
    "line\nbreak",
    "lit\\nslash",
    '\\"',
    "",
    "x" * 1024,
]


def record(ts: int, values: dict[str, object], device: str = "d-1") -> Record:
    envelope = DataEnvelope.model_validate(
        {"ts": ts, "seq": ts, "measurement": "m", "values": values}
    )
    return Record("hq", "gw-1", device, envelope)


async def test_strings_round_trip_exactly_and_replays_overwrite(
    influxdb: InfluxDBServer, influx_db: str
) -> None:
    sink = InfluxSink(InfluxSinkConfig(url=influxdb.url, database=influx_db))
    records = [
        record(1_000 + i, {"s": text, "i": i, "f": i / 3, "b": i % 2 == 0})
        for i, text in enumerate(TEXTS)
    ]
    await sink.write(records)
    await sink.write(records[:3])  # a replay after a crash: the same points again
    await sink.close()
    rows = influxdb.query("SELECT s, i, f, b FROM m", db=influx_db, epoch="ms")["results"][0][
        "series"
    ][0]["values"]
    assert len(rows) == len(TEXTS)
    for (ts, s, i, f, b), text in zip(rows, TEXTS, strict=True):
        assert s == text
        assert (i, b) == (ts - 1_000, (ts - 1_000) % 2 == 0)
        assert f == pytest.approx((ts - 1_000) / 3, rel=1e-15)
    latest = await InfluxReader(InfluxSinkConfig(url=influxdb.url, database=influx_db)).latest(
        "d-1"
    )
    assert latest is not None
    assert latest.values["s"] == TEXTS[-1]
    assert latest.ts == 1_000 + len(TEXTS) - 1


async def test_a_type_conflict_is_refused_with_influxdbs_reason(
    influxdb: InfluxDBServer, influx_db: str
) -> None:
    sink = InfluxSink(InfluxSinkConfig(url=influxdb.url, database=influx_db))
    await sink.write([record(1_000, {"v": 1.5})])
    with pytest.raises(SinkRejected, match="field type conflict"):
        await sink.write([record(2_000, {"v": "text"})])
    await sink.close()


async def test_history_matches_the_sqlite_store_for_every_aggregate(
    influxdb: InfluxDBServer, influx_db: str, tmp_path: Path
) -> None:
    config = InfluxSinkConfig(url=influxdb.url, database=influx_db)
    records = [
        record(ts, {"v": ts / 7, "n": ts // 100, "on": ts % 3000 == 0, "s": f"x{ts}"})
        for ts in range(60_000, 90_000, 1_000)
    ]
    influx, sqlite = InfluxSink(config), SqliteSink(tmp_path / "t.db")
    for sink in (influx, sqlite):
        await sink.write(records)
        await sink.close()
    readers = (InfluxReader(config), SqliteReader(tmp_path / "t.db"))
    try:
        assert (
            await compare(readers) == 28 - 6
        )  # no mean/sum of bools and strings, min/max of strings
    finally:
        for reader in readers:
            await reader.close()


async def compare(readers: tuple[InfluxReader, SqliteReader]) -> int:
    """Run every aggregate of every point on both stores; return how many matched."""
    compared = 0
    for agg in AGGREGATES:
        for point in ("v", "n", "on", "s"):
            results = []
            for reader in readers:
                try:
                    rows = await reader.history("d-1", point, 61_500, 88_000, 7_000, agg)  # type: ignore[arg-type]
                except SinkError:
                    rows = None
                results.append(rows)
            from_influx, from_sqlite = results
            assert (from_influx is None) == (from_sqlite is None), (agg, point, results)
            if from_influx is None or from_sqlite is None:
                continue
            # 62 000 ... 87 000 ms: buckets start at 56 000, 63 000, 70 000, 77 000, 84 000
            assert len(from_influx) == len(from_sqlite) == 5, (agg, point)
            for (t1, a), (t2, b) in zip(from_influx, from_sqlite, strict=True):
                assert t1 == t2
                assert a == (b if isinstance(b, str) else pytest.approx(b, rel=1e-12)), (agg, point)
                assert type(a) is type(b) or {type(a), type(b)} <= {int, float}, (agg, point)
            compared += 1
    return compared


async def test_events_in_one_millisecond_and_alerts_are_all_stored(
    influxdb: InfluxDBServer, influx_db: str
) -> None:
    sink = InfluxSink(InfluxSinkConfig(url=influxdb.url, database=influx_db))
    events = [
        EventRecord(
            "hq",
            "gw-1",
            "door-1",
            EventEnvelope.model_validate(
                {"ts": 1_000, "seq": seq, "type": "card_denied", "attrs": {"card": f"c{seq}"}}
            ),
        )
        for seq in range(5)
    ]
    alert = AlertEnvelope.model_validate(
        {
            "id": "a-1",
            "ts": 2_000,
            "state": "firing",
            "severity": "info",
            "rule": "r",
            "summary": "x",
        }
    )
    await sink.write([*events, AlertRecord("hq", alert), record(1_000, {"v": 1.0}, "door-1")])
    await sink.write(events)  # replayed
    await sink.close()
    result = influxdb.query(
        'SELECT count("facmon_seq") FROM facmon_events; '
        'SELECT "summary", "state", "rule" FROM facmon_alerts',
        db=influx_db,
        epoch="ms",
    )["results"]
    assert result[0]["series"][0]["values"][0][1] == 5
    assert result[1]["series"][0]["values"] == [[2_000, "x", "firing", "r"]]
    latest = await InfluxReader(InfluxSinkConfig(url=influxdb.url, database=influx_db)).latest(
        "door-1"
    )
    assert latest is not None
    assert latest.measurement == "m"  # not the event measurement


async def test_states_usage_and_the_collectors_health_are_stored_for_grafana(
    influxdb: InfluxDBServer, influx_db: str
) -> None:
    sink = InfluxSink(InfluxSinkConfig(url=influxdb.url, database=influx_db))
    place = {"building": "b1", "room": "r1"}
    states = [
        StateEnvelope.model_validate({"state": state, "since": since, **place})
        for state, since in [("online", 1_000), ("offline", 5_000)]
    ]
    usage = [
        UsageEnvelope.model_validate(
            {
                "ts": 0,
                "day": "1970-01-01",
                "asset": "pj-1",
                "device": "av-1",
                "category": "office",
                "in_use_s": in_use,
                "observed_s": 7200.0,
                **place,
            }
        )
        for in_use in (1800, 3600)  # the same day told again, later: the newest holds
    ]
    placed = Record("hq", "gw-1", "av-1", record(3_000, {"v": 1.0}).envelope, ("b1", "", "r1"))
    await sink.write(
        [
            *(StateRecord("hq", "gw-1", "av-1", s) for s in states),
            *(UsageRecord("hq", u) for u in usage),
            HealthRecord("c1", 4_000, {"received": 3, "lag_s": 0.5}),
            placed,
        ]
    )
    await sink.close()
    result = influxdb.query(
        'SELECT last("state") FROM facmon_states WHERE "room" = \'r1\'; '
        'SELECT "in_use_h", "observed_h", "category" FROM facmon_usage; '
        'SELECT "received", "lag_s" FROM facmon_collector WHERE "collector" = \'c1\'; '
        'SELECT "v" FROM "m" WHERE "building" = \'b1\' AND "room" = \'r1\'',
        db=influx_db,
        epoch="ms",
    )["results"]
    assert result[0]["series"][0]["values"] == [[5_000, "offline"]]
    assert result[1]["series"][0]["values"] == [[0, 1.0, 2.0, "office"]]
    assert result[2]["series"][0]["values"] == [[4_000, 3, 0.5]]
    assert result[3]["series"][0]["values"] == [[3_000, 1.0]]
