"""The InfluxDB sink against the real server: exact escaping, idempotent replays, refusals."""

from __future__ import annotations

import pytest

from collector.config import InfluxSinkConfig
from collector.record import Record
from collector.sinks import SinkRejected
from collector.sinks.influx import InfluxReader, InfluxSink
from facmon.contract import DataEnvelope
from tests.integration.services import InfluxDBServer

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
