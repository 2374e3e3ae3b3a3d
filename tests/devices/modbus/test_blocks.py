"""The block decoder gives exactly what the per-point decoder gives, for every library profile."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.library import load_profile
from devices.modbus.blocks import BlockDecoder, registers_to_bytes
from devices.modbus.codec import CodecError
from devices.modbus.decoding import decode_point
from devices.modbus.plan import compile_plan
from devices.profile import PROFILE_DIR
from facmon.contract import DataEnvelope
from facmon.types import Value

REQUESTS = [
    (path.stem, request)
    for path in sorted(PROFILE_DIR.glob("*.yaml"))
    if load_profile(path).protocol == "modbus"
    for gap in (0, 8)
    for request in compile_plan(load_profile(path), gap).requests
    if not request.table.is_bits
]


def reference(request, registers: list[int]) -> tuple[dict[str, Value], dict[str, str]]:  # type: ignore[no-untyped-def]
    values: dict[str, Value] = {}
    quality: dict[str, str] = {}
    for point in request.points:
        offset = (point.address or 0) - request.address
        try:
            values.update(decode_point(point, registers[offset : offset + point.count]))
        except CodecError:
            quality[point.name] = "bad"
            quality.update((f.name, "bad") for f in point.flags.values())
    return values, quality


def same(a: dict[str, Value], b: dict[str, Value]) -> bool:
    return a.keys() == b.keys() and all(type(a[k]) is type(b[k]) and a[k] == b[k] for k in a)


@pytest.mark.parametrize(
    ("name", "request_"), REQUESTS, ids=[f"{n}-{r.table}-{r.address}" for n, r in REQUESTS]
)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_block_decoder_equals_point_decoder(name: str, request_, data: st.DataObject) -> None:  # type: ignore[no-untyped-def]
    registers = data.draw(
        st.lists(st.integers(0, 0xFFFF), min_size=request_.count, max_size=request_.count)
    )
    short = data.draw(st.integers(0, request_.count))
    for block in (registers, registers[:short]):
        got = request_.decoder.decode(registers_to_bytes(block))
        want = reference(request_, block)
        assert same(got[0], want[0]), (name, block)
        assert got[1] == want[1]
        # What the decoder yields is what the contract accepts (the gateway skips re-validation).
        if got[0] or got[1]:
            DataEnvelope.model_validate(
                {"ts": 0, "seq": 1, "measurement": "m", "values": got[0], "quality": got[1]}
            )


def test_direct_orders_are_compiled_into_one_call_per_order() -> None:
    request = compile_plan(load_profile(PROFILE_DIR / "power-meter-3ph.yaml")).requests[0]
    decoder = BlockDecoder(request.points, request.address, request.count, bits=False)
    assert len(decoder._runs) <= 2
