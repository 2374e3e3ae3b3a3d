"""The spool: ordered, numbered, bounded, and durable across reopening."""

from __future__ import annotations

from pathlib import Path

import orjson

from gateway.spool import Pending, Spool


def data(i: int) -> Pending:
    return Pending("facmon/v1/s/g/d/data", {"ts": i, "measurement": "m", "values": {"v": i}})


def test_seq_is_assigned_when_stored_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    spool = Spool(path)
    spool.append(
        [
            data(1),
            data(2),
            Pending("t/state", {"state": "online", "since": 1}, retain=True, numbered=False),
        ]
    )
    batch = spool.peek(10)
    assert [orjson.loads(m.payload).get("seq") for m in batch] == [1, 2, None]
    assert batch[2].retain
    spool.remove(batch[:1])
    spool.close()
    again = Spool(path)
    assert again.seq == 2
    assert again.depth == 2
    again.append([data(3)])
    assert [orjson.loads(m.payload).get("seq") for m in again.peek(10)] == [2, None, 3]


def test_the_bound_drops_the_oldest_and_counts(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", max_bytes=2_000)
    for i in range(100):
        spool.append([data(i)])
    kept = spool.peek(1000)
    seqs = [orjson.loads(m.payload)["seq"] for m in kept]
    assert spool.bytes <= 2_000
    assert spool.dropped == 100 - len(kept) > 0
    assert seqs == list(range(101 - len(kept), 101))  # the newest survive, in order
    assert Spool(tmp_path / "s.db", max_bytes=2_000).dropped == spool.dropped


def test_remove_only_counts_what_is_stored() -> None:
    spool = Spool(None)
    spool.append([data(i) for i in range(5)])
    batch = spool.peek(3)
    spool.remove(batch)
    spool.remove(batch)
    assert spool.depth == 2
    assert len(spool.peek(10)) == 2
