"""Line protocol formatting and escaping."""

from __future__ import annotations

from collector.lineprotocol import escape_key, field_value, to_line
from collector.record import Record
from facmon.contract import DataEnvelope


def record(values: dict[str, object], quality: dict[str, str] | None = None) -> Record:
    envelope = DataEnvelope.model_validate(
        {
            "ts": 1_700_000_000_123,
            "seq": 42,
            "measurement": "ups",
            "values": values,
            "quality": quality or {},
        }
    )
    return Record("hq", "gw-1", "ups_1", envelope)


def test_types_and_tag_order() -> None:
    line = to_line(record({"v": 230.5, "n": 3, "on": True, "s": "ok"}))
    assert line == (
        'ups,device=ups_1,gateway=gw-1,site=hq v=230.5,n=3i,on=true,s="ok",facmon_seq=42i 1700000000123'
    )


def test_bad_points_are_recorded() -> None:
    line = to_line(record({"v": 1.0}, {"b": "bad", "a": "bad", "v": "uncertain"}))
    assert 'facmon_bad="a,b"' in line


def test_escaping() -> None:
    assert escape_key("a b,c=d\\e") == "a\\ b\\,c\\=d\\\\e"
    assert field_value('say "hi" \\ there') == '"say \\"hi\\" \\\\ there"'
    assert field_value("line\nbreak") == '"line\nbreak"'
    assert field_value(1e21) == "1e+21"
    assert field_value(-0.0) == "-0.0"
    assert field_value(False) == "false"
